"""SVO filters: the real curves and zero points shipped with the package."""

from __future__ import annotations

import csv

import astropy.units as u
import numpy as np
import pytest

from explore.astro.filters import (
    AB_ZERO_POINT,
    UnknownFilterError,
    available_filters,
    filter_data_dir,
    get_filter,
    resolve_filter_id,
)


def _summary() -> list[dict[str, str]]:
    with open(filter_data_dir() / "svo_filters_summary.tsv") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_all_85_filters_are_shipped_and_listed():
    assert len(available_filters()) == 85
    assert {row["filterID"] for row in _summary()} == set(available_filters())


def test_pivot_wavelengths_and_zero_points_reproduce_svo():
    for row in _summary():
        filt = get_filter(row["filterID"])
        assert filt.wavelength_pivot.to_value(u.AA) == pytest.approx(float(row["WavelengthPivot_A"]), rel=1e-4)
        assert filt.zero_point_vega.to_value(u.Jy) == pytest.approx(float(row["ZeroPoint_Jy"]), rel=1e-9)


def test_weighting_follows_the_curve_convention():
    # 2MASS and WISE curves are per-energy responses of photon counters (Cohen et al. 2003)
    assert get_filter("2MASS/2MASS.Ks").weighting == "energy"
    assert get_filter("2MASS/2MASS.Ks").detector == "photon"
    assert get_filter("WISE/WISE.W3").weighting == "energy"
    assert get_filter("GAIA/GAIA3.G").weighting == "photon"
    assert get_filter("Herschel/Pacs.blue").detector == "energy"


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("GAIA/GAIA3.G", "GAIA/GAIA3.G"),
        ("gaia.gaia3.g", "GAIA/GAIA3.G"),
        ("GAIA.GAIA3.G.xml", "GAIA/GAIA3.G"),
        ("2mass/2mass.ks", "2MASS/2MASS.Ks"),
        ("Herschel/PACS.blue", "Herschel/Pacs.blue"),
        ("Herschel/Pacs.blue", "Herschel/Pacs.blue"),
        ("Skymapper.Skymapper.g", "SkyMapper/SkyMapper.g"),
        ("WISE/WISE.W1", "WISE/WISE.W1"),
        ("GALEX/GALEX.NUV", "GALEX/GALEX.NUV"),
    ],
)
def test_spelling_variants_resolve(spelling, expected):
    assert resolve_filter_id(spelling) == expected


def test_unknown_filter_suggests_close_ids():
    with pytest.raises(UnknownFilterError, match="did you mean GAIA/GAIA3.G"):
        get_filter("GAIA/GAIA3.Q")


def test_magnitude_systems():
    assert get_filter("2MASS/2MASS.Ks").mag_system == "Vega"
    assert get_filter("SLOAN/SDSS.r").mag_system == "AB"
    assert get_filter("GALEX/GALEX.NUV").mag_system == "AB"
    assert get_filter("PAN-STARRS/PS1.g").mag_system == "AB"
    assert get_filter("SLOAN/SDSS.r").zero_point() == AB_ZERO_POINT
    assert get_filter("SLOAN/SDSS.r").zero_point("Vega").to_value(u.Jy) == pytest.approx(3142.02, rel=1e-5)


def test_magnitude_to_flux_and_back():
    ks = get_filter("2MASS/2MASS.Ks")
    assert ks.mag_to_flux(0.0).to_value(u.Jy) == pytest.approx(666.8)
    assert ks.mag_to_flux(5.0).to_value(u.Jy) == pytest.approx(6.668)
    mags = np.array([3.0, 10.0, 15.5])
    assert ks.flux_to_mag(ks.mag_to_flux(mags)) == pytest.approx(mags)
    # AB magnitude 0 is 3631 Jy in any AB filter
    assert get_filter("SLOAN/SDSS.g").mag_to_flux(0.0 * u.mag).to_value(u.Jy) == pytest.approx(3631.0)


def test_f_lambda_is_converted_at_the_pivot():
    w1 = get_filter("WISE/WISE.W1")
    fnu = 1.0 * u.Jy
    flam = fnu.to(u.erg / u.s / u.cm**2 / u.AA, equivalencies=u.spectral_density(w1.wavelength_pivot))
    assert w1.flux_to_mag(flam) == pytest.approx(w1.flux_to_mag(fnu))
    assert np.isnan(w1.flux_to_mag(-1.0 * u.Jy))


def test_a_bare_number_is_not_taken_for_a_flux():
    with pytest.raises(TypeError, match="Quantity"):
        get_filter("WISE/WISE.W1").flux_to_mag(1.0)


def test_curves_are_real_passbands():
    g = get_filter("GAIA/GAIA3.G")
    assert 3200 < g.wavelength_min.to_value(u.AA) < 3500
    assert 10000 < g.wavelength_max.to_value(u.AA) < 11000
    assert len(g.wavelength) == 731
    pacs = get_filter("Herschel/Pacs.blue")
    assert pacs.wavelength_pivot.to(u.um).value == pytest.approx(70.77, abs=0.01)
