"""Model SEDs: the CK04 grid's units checked against blackbodies, the Sun, pseudo-spectra, blackbodies."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.apps.sphot.models import (
    CK04_COLUMNS,
    BlackbodyModel,
    CK04Model,
    GridCoverageError,
    SpectralGridModel,
    get_model,
)
from explore.astro.filters import get_filter
from explore.astro.photometry import band_flux, blackbody_flam

LAM = np.geomspace(900.0, 3.0e6, 40000) * u.AA
PER_UM = u.erg / u.s / u.cm**2 / u.um


@pytest.fixture(scope="module")
def ck04() -> CK04Model:
    return get_model("ck04")


def _bb(fid: str, teff: float, unit=PER_UM) -> float:
    return band_flux(LAM, blackbody_flam(LAM, teff), get_filter(fid), unit=unit).value


def test_ck04_file_is_the_published_grid(ck04):
    assert ck04.teff[0] == 3500 and ck04.teff[-1] == 12000 and len(ck04.teff) == 35
    assert list(ck04.logg) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
    assert len(ck04.columns) == 48
    assert ck04.filled.sum() == 560  # 26880 zero values / 48 bands: models beyond the Eddington limit


@pytest.mark.parametrize("column", ["GROUND_JOHNSON_V", "SDSS_r", "PS1_i", "2MASS_J", "WISE_RSR_W1"])
def test_ck04_values_are_surface_flux_in_erg_s_cm2_per_micron(ck04, column):
    # at 6000 K a photosphere is within ~10% of pi B_lambda(Teff) from V to W1; in erg/s/cm2/AA the
    # ratio would be 1e4, in W/m2/m 0.1
    model = ck04.grid_flux(column, [6000.0], [4.5], [0.0]).to_value(PER_UM)[0]
    ratio = model / _bb(CK04_COLUMNS[column], 6000.0)
    assert 0.93 < ratio < 1.10


def test_ck04_rayleigh_jeans_tail_follows_a_blackbody(ck04):
    # model / blackbody in the near-infrared is smooth in wavelength: ratio(W2) ~ ratio(W1) ~ ratio(Ks)
    ratios = [
        ck04.grid_flux(c, [12000.0], [4.5], [0.0]).to_value(PER_UM)[0] / _bb(CK04_COLUMNS[c], 12000.0)
        for c in ("2MASS_Ks", "WISE_RSR_W1", "WISE_RSR_W2")
    ]
    assert np.ptp(ratios) < 0.03


def test_ck04_w3_column_is_not_a_photosphere_so_it_is_not_used(ck04):
    raw = ck04.grid_flux("WISE_RSR_W3", [6000.0], [4.5], [0.0]).to_value(PER_UM)[0] / _bb("WISE/WISE.W3", 6000.0)
    assert raw > 1.5  # the file's W3 is off by a Teff-independent factor
    w2, w3 = ck04.band_flux(6000.0, ["WISE/WISE.W2", "WISE/WISE.W3"]).to_value(u.Jy)
    bb2, bb3 = _bb("WISE/WISE.W2", 6000.0, u.Jy), _bb("WISE/WISE.W3", 6000.0, u.Jy)
    assert (w3 / w2) / (bb3 / bb2) == pytest.approx(1.0, abs=0.03)


def test_the_sun_has_its_published_absolute_magnitudes(ck04):
    # Willmer (2018, ApJS 236, 47) and Casagrande & VandenBerg (2018) absolute magnitudes of the Sun
    published = {
        "GAIA/GAIA3.G": 4.67, "Generic/Johnson_UBVRIJHKL.V": 4.81, "SLOAN/SDSS.g": 5.11, "SLOAN/SDSS.r": 4.65,
        "2MASS/2MASS.J": 3.67, "2MASS/2MASS.H": 3.32, "2MASS/2MASS.Ks": 3.27, "WISE/WISE.W1": 3.26, "WISE/WISE.W2": 3.28,
    }  # fmt: skip
    mags = ck04.apparent_magnitude(5772.0, 1 * u.R_sun, 10 * u.pc, list(published), logg=4.44)
    assert mags == pytest.approx(list(published.values()), abs=0.05)


@pytest.mark.parametrize("column", ["PS1_r", "PS1_i", "PS1_z", "SkyMapper_z", "TYCHO_V_MvB"])
def test_pseudo_spectrum_predicts_bands_left_out_of_the_anchors(ck04, column):
    teff = np.array([5000.0, 6000.0, 8000.0, 10000.0, 12000.0])
    g, z = np.full(5, 4.5), np.zeros(5)
    logflam = ck04._interpolate(ck04._logflux, teff, g, z)
    predicted = ck04._pseudo_spectrum_flux(teff, ck04._anchor_log_ratio(teff, logflam), get_filter(CK04_COLUMNS[column]))
    grid = get_filter(CK04_COLUMNS[column]).flam_to_fnu(ck04.grid_flux(column, teff, g, z)).to_value(u.Jy)
    assert predicted / grid == pytest.approx(np.ones(5), abs=0.03)


def test_interpolation_passes_through_the_nodes_and_refuses_outside(ck04):
    node = ck04.band_flux(6250.0, ["SLOAN/SDSS.r"], logg=4.0, feh=-0.5).to_value(u.Jy)[0]
    expected = get_filter("SLOAN/SDSS.r").flam_to_fnu(ck04.grid_flux("SDSS_r", [6250.0], [4.0], [-0.5])).to_value(u.Jy)[0]
    assert node == pytest.approx(expected, rel=1e-9)
    with pytest.raises(GridCoverageError, match="3500-12000 K"):
        ck04.band_flux(20000.0, ["GAIA/GAIA3.G"])


def test_blackbody_model_and_a_grid_of_spectra_agree():
    filters = ["GAIA/GAIA3.G", "WISE/WISE.W4", "GALEX/GALEX.FUV"]
    bb = BlackbodyModel().band_flux(np.array([5000.0, 7000.0]), filters).to_value(u.Jy)
    for i, t in enumerate((5000.0, 7000.0)):
        assert bb[i] == pytest.approx([_bb(f, t, u.Jy) for f in filters], rel=1e-3)
    teff = np.array([4000.0, 5000.0, 6000.0, 7000.0, 8000.0])
    flux = blackbody_flam(LAM, teff)[:, None, None, :]
    grid = SpectralGridModel(teff, np.array([4.5]), np.array([0.0]), LAM, flux, name="bb-spectra")
    at_node = grid.band_flux(np.array([5000.0]), filters).to_value(u.Jy)[0]
    assert at_node == pytest.approx(bb[0], rel=1e-3)
    between = grid.band_flux(np.array([6500.0]), filters).to_value(u.Jy)[0]
    exact = BlackbodyModel().band_flux(6500.0, filters).to_value(u.Jy)
    assert between == pytest.approx(exact, rel=0.01)
