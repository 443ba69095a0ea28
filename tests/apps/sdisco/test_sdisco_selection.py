"""Selection spectra and the correlation ranking against NumPy / SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from scipy.stats import pointbiserialr

from explore.apps.sdisco.selection import correlation_ranking, selection_spectrum
from explore.astro.spectra import Spectra


@pytest.fixture(scope="module")
def spectra():
    rng = np.random.default_rng(0)
    n, p = 3000, 40
    flux = rng.normal(1, 0.1, (n, p)).astype(np.float32)
    mask = rng.random((n, p)) < 0.05
    mask[7] = True  # an all-masked spectrum
    table = Table({"id": [f"s{i}" for i in range(n)], "snr": rng.uniform(5, 100, n)})
    return Spectra(np.arange(p) + 15000.0, flux, None, mask, table, normalised=True)


def test_mean_median_band_equal_numpy_over_good_pixels(spectra):
    sel = np.arange(0, 3000, 3)
    stats = selection_spectrum(spectra, sel)
    x = np.where(spectra.mask[sel], np.nan, spectra.flux[sel])
    np.testing.assert_allclose(stats.mean, np.nanmean(x.astype(float), 0), rtol=1e-9)
    np.testing.assert_allclose(stats.median, np.nanmedian(x, 0), rtol=1e-6)
    np.testing.assert_allclose(stats.p16, np.nanpercentile(x, 16, 0), rtol=1e-6)
    np.testing.assert_allclose(stats.p84, np.nanpercentile(x, 84, 0), rtol=1e-6)
    np.testing.assert_array_equal(stats.n_good, (~np.isnan(x)).sum(0))
    assert stats.n_used == stats.n_selected == 1000


def test_snr_threshold_leaves_out_noisy_spectra(spectra):
    sel = np.ones(len(spectra), bool)
    stats = selection_spectrum(spectra, sel, snr_min=50)
    keep = np.asarray(spectra.table["snr"]) > 50
    x = np.where(spectra.mask[keep], np.nan, spectra.flux[keep])
    assert stats.n_used == keep.sum() and stats.n_selected == len(spectra)
    np.testing.assert_allclose(stats.median, np.nanmedian(x, 0), rtol=1e-6)


def test_selection_of_only_masked_spectra_gives_nan(spectra):
    stats = selection_spectrum(spectra, [7])
    assert np.isnan(stats.mean).all() and not stats.n_good.any()


def test_even_and_odd_sizes_and_ties():
    flux = np.array([[1.0], [2.0], [2.0], [4.0]], np.float32)
    s = Spectra([1000.0, 1001.0], np.hstack([flux, flux]), ids=list("abcd"))
    st = selection_spectrum(s, [0, 1, 2, 3])
    assert st.median[0] == 2.0 and st.mean[0] == 2.25
    assert st.p16[0] == pytest.approx(np.percentile(flux, 16))
    assert selection_spectrum(s, [0, 3]).median[0] == 2.5


def test_correlation_ranking_is_point_biserial_and_sorted():
    rng = np.random.default_rng(1)
    n = 5000
    member = np.zeros(n, bool)
    member[rng.choice(n, 400, replace=False)] = True
    t = Table({"id": np.arange(n).astype(str), "noise": rng.normal(size=n),
               "teff": rng.normal(5000, 300, n) + 400 * member, "feh": rng.normal(0, 0.2, n) - 0.05 * member,
               "flag": member.astype(int)})
    t["feh"][3] = np.nan
    out = correlation_ranking(t, member)
    assert out["column"].tolist()[:3] == ["flag", "teff", "feh"]
    assert out["r"][0] == pytest.approx(1.0)
    r_teff = pointbiserialr(member, t["teff"]).statistic
    assert out[out["column"] == "teff"]["r"][0] == pytest.approx(r_teff, rel=1e-9)
    assert out[out["column"] == "feh"]["n_valid"][0] == n - 1
    assert "id" not in out["column"]
