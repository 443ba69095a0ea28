"""The Spectra container: shapes, ids, bad pixels, continuum normalisation, resampling, stacking."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.astro.spectra import Spectra, SpectraError, continuum_normalise


def _spectra(n: int = 3, p: int = 50, **kwargs) -> Spectra:
    rng = np.random.default_rng(0)
    return Spectra(np.linspace(8460, 8700, p) * u.AA, rng.random((n, p)).astype(np.float32),
                   ids=[f"s{i}" for i in range(n)], **kwargs)


def test_shapes_must_agree_with_the_grid():
    with pytest.raises(SpectraError, match="49 pixels per spectrum but the wavelength grid has 50"):
        Spectra(np.arange(50.0) + 1000, np.ones((2, 49)), ids=["a", "b"])


def test_ids_are_required_and_unique():
    with pytest.raises(SpectraError, match="need an 'id'"):
        Spectra(np.arange(5.0) + 1000, np.ones((2, 5)))
    with pytest.raises(SpectraError, match="repeated: a"):
        Spectra(np.arange(5.0) + 1000, np.ones((2, 5)), ids=["a", "a"])


def test_grid_must_increase_and_be_a_length():
    with pytest.raises(SpectraError, match="increase"):
        Spectra([3.0, 2.0, 1.0], np.ones((1, 3)), ids=["a"])
    with pytest.raises(SpectraError, match="not a length"):
        Spectra([1.0, 2.0, 3.0] * u.s, np.ones((1, 3)), ids=["a"])


def test_bad_pixels_combine_mask_nan_and_zero_ivar():
    flux = np.ones((2, 4), np.float32)
    flux[0, 1] = np.nan
    ivar = np.ones((2, 4), np.float32)
    ivar[1, 2] = 0
    mask = np.zeros((2, 4), bool)
    mask[1, 3] = True
    s = Spectra(np.arange(4.0) + 1000, flux, ivar, mask, ids=["a", "b"])
    assert s.bad_pixels().tolist() == [[False, True, False, False], [False, False, True, True]]


def test_snr_is_median_flux_times_sqrt_ivar_over_good_pixels():
    flux = np.full((1, 5), 2.0, np.float32)
    ivar = np.full((1, 5), 100.0, np.float32)  # sigma 0.1 -> SNR 20
    ivar[0, 0] = 0
    s = Spectra(np.arange(5.0) + 1000, flux, ivar, ids=["a"])
    assert s.snr()[0] == pytest.approx(20.0)


def test_subset_keeps_rows_and_table():
    s = _spectra(5)
    sub = s[np.array([True, False, True, False, False])]
    assert sub.ids.tolist() == ["s0", "s2"]
    assert np.array_equal(sub.flux, s.flux[[0, 2]])


def test_concatenate_refuses_different_lengths_with_a_clear_message():
    with pytest.raises(SpectraError, match="has 40 pixels; the first has 50"):
        Spectra.concatenate([_spectra(2, 50), Spectra(np.arange(40.0) + 1000, np.ones((1, 40)), ids=["x"])])


def test_concatenate_stacks_tables_and_fills_missing_masks():
    a = _spectra(2)
    b = Spectra(a.wavelength, np.ones((1, 50)), mask=np.ones((1, 50), bool), ids=["z"])
    c = Spectra.concatenate([a, b])
    assert len(c) == 3 and c.ids.tolist() == ["s0", "s1", "z"]
    assert c.mask[:2].sum() == 0 and c.mask[2].all()


def test_continuum_normalisation_recovers_a_known_continuum():
    """A spectrum = smooth continuum x absorption lines; the fit must divide the continuum out."""
    wl = np.linspace(15200, 15800, 2000) * u.AA
    x = np.linspace(-1, 1, 2000)
    continuum = 1000 * (1 + 0.3 * x - 0.2 * x**2)
    lines = np.ones(2000)
    rng = np.random.default_rng(2)
    for c in rng.uniform(15220, 15780, 40):
        lines *= 1 - 0.5 * np.exp(-0.5 * ((wl.value - c) / 0.8) ** 2)
    flux = (continuum * lines * (1 + rng.normal(0, 0.002, 2000)))[None]
    norm, ivar, mask = continuum_normalise(wl, flux, np.full_like(flux, 1e-4), degree=3)
    assert not mask.any()
    # the upper envelope of the normalised spectrum sits at 1, as the lines' own continuum does
    assert np.percentile(norm[0], 95) == pytest.approx(1.0, abs=0.006)
    assert np.median(np.abs(norm[0] - lines)) < 0.005
    # ivar scales with the continuum squared
    assert ivar[0, 1000] == pytest.approx(1e-4 * (flux[0, 1000] / norm[0, 1000]) ** 2, rel=1e-5)


def test_normalise_keeps_bad_pixels_masked_and_fits_segments_separately():
    wl = np.concatenate([np.linspace(15150, 15800, 300), np.linspace(15860, 16430, 300)]) * u.AA
    flux = np.concatenate([np.full(300, 10.0), np.full(300, 50.0)])[None].astype(np.float32)
    mask = np.zeros_like(flux, bool)
    mask[0, 10] = True
    s = Spectra(wl, flux, mask=mask, ids=["a"]).normalise()
    assert s.normalised and s.mask[0, 10] and np.isnan(s.flux[0, 10])
    assert np.nanmax(np.abs(s.flux - 1)) < 1e-4  # two chips with different levels: each is its own continuum


def test_resample_interpolates_and_masks_outside():
    s = Spectra(np.array([1000.0, 1001, 1002, 1003]), np.array([[0.0, 1, 2, 3]]), ids=["a"])
    r = s.resample(np.array([1000.5, 1002.5, 1005]) * u.AA)
    assert r.flux[0, :2].tolist() == [0.5, 2.5]
    assert r.mask[0].tolist() == [False, False, True]
