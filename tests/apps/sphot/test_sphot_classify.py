"""Classification rules of fitted stars."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from explore.apps.sphot.classify import classify, main_sequence_radius


def test_main_sequence_radius_of_the_sun_and_an_a0_dwarf():
    assert main_sequence_radius(5772.0) == pytest.approx(1.0, abs=0.05)
    assert main_sequence_radius(9700.0) == pytest.approx(2.09, abs=0.05)  # A0V in Pecaut & Mamajek


def _rows(*rows):
    names = ("teff", "radius", "ir_excess", "uv_excess", "excess_bands")
    return Table(rows=rows, names=names, dtype=(float, float, bool, bool, str))


def test_luminosity_classes():
    table = classify(_rows(
        (5772.0, 1.0, False, False, ""),       # the Sun
        (4700.0, 11.0, False, False, ""),      # a red-clump giant
        (6000.0, 2.2, False, False, ""),       # a subgiant
        (9000.0, 0.012, False, False, ""),     # a white dwarf
        (30000.0, 0.2, False, False, ""),      # a hot subdwarf
        (5000.0, np.nan, False, False, ""),    # no parallax
        (np.nan, np.nan, False, False, ""),    # not fitted
    ))  # fmt: skip
    assert list(table["lum_class"]) == ["main_sequence", "giant", "subgiant", "white_dwarf", "hot_subdwarf", "unknown", "unknown"]
    assert table["class"][-1] == "unclassified"


def test_excess_classes():
    table = classify(_rows(
        (4500.0, 1.5, True, False, "2MASS/2MASS.Ks;WISE/WISE.W1;WISE/WISE.W3"),  # hot dust close in: YSO-like
        (6000.0, 1.1, True, False, "WISE/WISE.W4"),                                # cool dust only
        (6000.0, 1.1, True, True, "GALEX/GALEX.FUV;WISE/WISE.W1;WISE/WISE.W2"),   # hot companion first
        (4500.0, 15.0, True, False, "WISE/WISE.W1;WISE/WISE.W2"),                 # a giant is not YSO-like
        (9000.0, 0.012, False, True, "GALEX/GALEX.FUV"),                          # a white dwarf's own UV
    ))  # fmt: skip
    assert list(table["excess_class"]) == ["yso_like", "ir_excess", "hot_subdwarf_like", "ir_excess", "none"]
    assert list(table["class"]) == ["yso_like_ir_excess", "ir_excess", "hot_subdwarf_like_uv_excess", "ir_excess", "white_dwarf"]
