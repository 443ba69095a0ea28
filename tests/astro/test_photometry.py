"""Synthetic photometry through the real filter curves, against independent integrations."""

from __future__ import annotations

import astropy.constants as const
import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import simpson

from explore.astro.filters import get_filter
from explore.astro.photometry import band_flux, band_fluxes, band_weights, blackbody_flam, synthetic_magnitude

LAM = np.geomspace(900.0, 3.0e6, 60000) * u.AA


def _planck_flam(lam_aa: float, teff: float) -> float:
    """pi B_lambda in erg s-1 cm-2 AA-1, written out from the constants (independent of the module)."""
    h, c, k = const.h.cgs.value, const.c.cgs.value, const.k_B.cgs.value
    lam = lam_aa * 1e-8
    return np.pi * 2 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * teff)) * 1e-8


def _simpson_band_fnu(filt, teff: float) -> float:
    """Band-mean f_nu (Jy) of a blackbody by Simpson's rule on 200001 points across the filter."""
    lam = filt.wavelength.to_value(u.AA)
    x = np.linspace(lam[0], lam[-1], 200001)
    curve = np.interp(x, lam, filt.transmission)
    weight = curve * x if filt.weighting == "photon" else curve
    mean_flam = simpson(_planck_flam(x, teff) * weight, x=x) / simpson(weight, x=x)
    pivot = filt.wavelength_pivot.to_value(u.AA)
    return mean_flam * pivot**2 / const.c.to_value(u.AA / u.s) * 1e23


@pytest.mark.parametrize("fid", ["GAIA/GAIA3.G", "2MASS/2MASS.Ks", "GALEX/GALEX.NUV", "Herschel/Pacs.blue", "WISE/WISE.W3"])
@pytest.mark.parametrize("teff", [3500.0, 5772.0, 20000.0])
def test_blackbody_band_flux_matches_an_independent_integration(fid, teff):
    filt = get_filter(fid)
    ours = band_flux(LAM, blackbody_flam(LAM, teff), filt).to_value(u.Jy)
    assert ours == pytest.approx(_simpson_band_fnu(filt, teff), rel=2e-4)


@pytest.mark.parametrize("fid", ["SLOAN/SDSS.r", "GAIA/GAIA3.Gbp", "WISE/WISE.W4", "Herschel/Pacs.red", "SkyMapper/SkyMapper.u"])
def test_flat_fnu_spectrum_has_ab_magnitude_zero(fid):
    flat = np.full(LAM.shape, 3631.0) * u.Jy
    # exact in the integrals; 1e-4 mag is the discretisation of the sampled curves
    assert synthetic_magnitude(LAM, flat, get_filter(fid), system="AB") == pytest.approx(0.0, abs=3e-4)


def test_rayleigh_jeans_tail_scales_with_temperature():
    w4 = get_filter("WISE/WISE.W4")
    hot, warm = band_flux(LAM, blackbody_flam(LAM, [40000.0, 20000.0]), w4).value
    assert hot / warm == pytest.approx(2.0, rel=0.01)


def test_f_nu_and_f_lambda_inputs_agree_and_many_spectra_at_once():
    g = get_filter("GAIA/GAIA3.G")
    flam = blackbody_flam(LAM, np.array([[4000.0], [9000.0]]))  # shape (2, 1, n_wave)
    fnu = flam.to(u.Jy, equivalencies=u.spectral_density(LAM))
    a = band_flux(LAM, flam, g)
    b = band_flux(LAM, fnu, g)
    assert a.shape == (2, 1)
    assert a.to_value(u.Jy) == pytest.approx(b.to_value(u.Jy), rel=1e-6)
    both = band_fluxes(LAM, flam[:, 0], [g, get_filter("2MASS/2MASS.J")])
    assert both.shape == (2, 2)


def test_the_sun_as_a_blackbody():
    # a 5772 K blackbody of 1 R_sun at 10 pc: the Sun's V and G within 0.05 mag of the real ones
    # (4.81 and 4.67; Willmer 2018, Casagrande & VandenBerg 2018): the optical SED is close to Planck
    dilution = ((1 * u.R_sun) / (10 * u.pc)).decompose().value ** 2
    spectrum = blackbody_flam(LAM, 5772.0) * dilution
    assert synthetic_magnitude(LAM, spectrum, get_filter("GAIA/GAIA3.G")) == pytest.approx(4.69, abs=0.05)
    assert synthetic_magnitude(LAM, spectrum, get_filter("Generic/Johnson_UBVRIJHKL.V")) == pytest.approx(4.85, abs=0.05)


def test_band_weights_integrate_like_band_flux():
    filt = get_filter("PAN-STARRS/PS1.i")
    grid = np.geomspace(6500, 8800, 800) * u.AA
    w = band_weights(filt, grid)
    assert w.sum() == pytest.approx(1.0)
    spectrum = blackbody_flam(grid, 6000.0).value
    reference = band_flux(LAM, blackbody_flam(LAM, 6000.0), filt, unit=u.erg / u.s / u.cm**2 / u.AA).value
    assert spectrum @ w == pytest.approx(reference, rel=1e-4)


def test_a_spectrum_that_misses_the_filter_is_refused():
    short = np.linspace(3000, 9000, 100) * u.AA
    with pytest.raises(ValueError, match="does not cover filter 2MASS/2MASS.J"):
        band_flux(short, blackbody_flam(short, 5000.0), get_filter("2MASS/2MASS.J"))


def test_flux_without_a_flux_unit_is_refused():
    with pytest.raises(u.UnitsError):
        band_flux(LAM, np.ones(LAM.shape) * u.m, get_filter("GAIA/GAIA3.G"))
