"""Extinction per band from the G23 law (dust_extinction)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.astro.extinction import (
    a_lambda_over_a_v,
    av_to_ebv,
    band_extinction_ratio,
    ebv_to_av,
    extinction_law,
)


def test_the_law_is_normalised_at_v():
    assert a_lambda_over_a_v(0.55 * u.um) == pytest.approx(1.0, abs=0.01)


def test_known_band_ratios():
    g, j, ks, w1 = band_extinction_ratio(["GAIA/GAIA3.G", "2MASS/2MASS.J", "2MASS/2MASS.Ks", "WISE/WISE.W1"])
    # near-infrared ratios of the average Milky Way curve: A_J/A_V ~ 0.27, A_Ks/A_V ~ 0.10 (G23; cf. Wang & Chen 2019)
    assert j == pytest.approx(0.27, abs=0.02)
    assert ks == pytest.approx(0.105, abs=0.015)
    assert 0.03 < w1 < 0.07
    assert 0.85 < g < 1.0


def test_ultraviolet_is_more_extinguished_than_optical():
    fuv, nuv, u_, v, ks = band_extinction_ratio(
        ["GALEX/GALEX.FUV", "GALEX/GALEX.NUV", "SLOAN/SDSS.u", "Generic/Johnson_UBVRIJHKL.V", "2MASS/2MASS.Ks"]
    )
    assert nuv > u_ > v > ks
    assert fuv > 2.5


def test_far_infrared_continues_as_lambda_to_minus_two():
    at_edge = a_lambda_over_a_v(32.0 * u.um)
    assert a_lambda_over_a_v(64.0 * u.um) == pytest.approx(at_edge / 4, rel=1e-6)
    assert band_extinction_ratio(["Herschel/Pacs.red"])[0] < 0.002


def test_rv_changes_the_optical_slope():
    b3, v3 = band_extinction_ratio(["Generic/Johnson_UBVRIJHKL.B", "Generic/Johnson_UBVRIJHKL.V"], rv=3.1)
    b5, v5 = band_extinction_ratio(["Generic/Johnson_UBVRIJHKL.B", "Generic/Johnson_UBVRIJHKL.V"], rv=5.0)
    # E(B-V)/A_V = 1/R(V)
    assert b3 - v3 == pytest.approx(1 / 3.1, abs=0.03)
    assert b5 - v5 == pytest.approx(1 / 5.0, abs=0.03)


def test_outside_the_law_is_refused():
    with pytest.raises(ValueError, match="down to"):
        a_lambda_over_a_v(0.05 * u.um)
    with pytest.raises(ValueError, match="unknown extinction law"):
        extinction_law("XYZ")


def test_ebv_and_av():
    assert ebv_to_av(0.1) == pytest.approx(0.31)
    assert av_to_ebv(np.array([3.1, 6.2]), rv=3.1) == pytest.approx([1.0, 2.0])
