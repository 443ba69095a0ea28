"""A0 to other bands through dust_extinction's curves."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from dust_extinction.parameter_averages import G23

from explore.apps.gtomo.law import BANDS, ExtinctionLaw, convert


def test_ratios_follow_the_curve_normalised_at_550nm():
    law = ExtinctionLaw("G23", 3.1)
    curve = G23(Rv=3.1)
    k0 = curve(5500 * u.AA)
    assert law.ratio(5500 * u.AA) == pytest.approx(1.0)
    assert law.ratio("Ks") == pytest.approx(curve(21590 * u.AA) / k0)
    ebv = (curve(BANDS["B"]) - curve(BANDS["V"])) / k0
    assert law.ratio("E(B-V)") == pytest.approx(ebv)
    # the Milky-Way average: A_V / E(B-V) close to R(V) = 3.1
    assert law.ratio("V") / law.ratio("E(B-V)") == pytest.approx(3.1, rel=0.02)


def test_convert_returns_magnitudes_and_accepts_band_spellings():
    a0 = np.array([0.5, 2.0]) * u.mag
    av = convert(a0, "A_V")
    np.testing.assert_allclose(av.to_value(u.mag), a0.value * ExtinctionLaw().ratio("V"))
    assert convert(1.0, "ks").unit == u.mag
    # the near infrared suffers much less extinction than the visible
    assert convert(1.0, "Ks") < 0.15 * u.mag < convert(1.0, "G")


def test_other_laws_and_rv():
    assert ExtinctionLaw("F99", 3.1).ratio("E(B-V)") != ExtinctionLaw("G23", 3.1).ratio("E(B-V)")
    # larger R(V): greyer dust, so less reddening per magnitude of extinction
    assert ExtinctionLaw("G23", 5.0).ratio("E(B-V)") < ExtinctionLaw("G23", 3.1).ratio("E(B-V)")


def test_bad_requests_name_the_problem():
    with pytest.raises(ValueError, match="unknown extinction law 'XYZ'"):
        ExtinctionLaw("XYZ")
    with pytest.raises(ValueError, match="R\\(V\\) = 9.0"):
        ExtinctionLaw("G23", 9.0)
    with pytest.raises(ValueError, match="unknown band 'W7'"):
        convert(1.0, "W7")
    with pytest.raises(ValueError, match="micron"):
        ExtinctionLaw("F99").ratio(50 * u.micron)
