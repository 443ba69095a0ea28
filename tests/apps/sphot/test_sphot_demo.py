"""The demo sample: deterministic, in the input format, and fitted back to its truth."""

from __future__ import annotations

import numpy as np
import pytest

from explore.apps.sphot.classify import classify
from explore.apps.sphot.demo import DEMO_BANDS, demo_sample
from explore.apps.sphot.fit import SEDFitter


@pytest.fixture(scope="module")
def demo():
    return demo_sample(600, seed=7)


def test_the_demo_is_deterministic(demo):
    phot, truth = demo
    again, _ = demo_sample(600, seed=7)
    assert phot.colnames[:5] == ["id", "ra", "dec", "parallax", "parallax_error"]
    for band in DEMO_BANDS:
        assert band in phot.colnames and f"{band}_err" in phot.colnames
        assert np.array_equal(np.asarray(phot[band]), np.asarray(again[band]), equal_nan=True)
    assert set(truth["kind"]) == {"dwarf", "giant", "white_dwarf", "ir_excess", "uv_excess"}
    # survey limits leave holes, as in real cross-matches
    assert np.isnan(np.asarray(phot["GALEX/GALEX.FUV"], float)).mean() > 0.3


def test_the_fit_finds_the_injected_excesses(demo):
    phot, truth = demo
    result = classify(SEDFitter("ck04", extinction="fit").fit(phot).results_)
    kind = np.asarray(truth["kind"])
    normal = np.isin(kind, ["dwarf", "giant", "white_dwarf"])
    assert np.mean(result["ir_excess"][kind == "ir_excess"]) > 0.7
    assert np.mean(result["uv_excess"][kind == "uv_excess"]) > 0.8
    assert np.mean(result["ir_excess"][normal] | result["uv_excess"][normal]) < 0.01
    assert np.median(np.abs(result["teff"][normal] / truth["teff"][normal] - 1)) < 0.02
    assert np.mean(result["class"][kind == "white_dwarf"] == "white_dwarf") > 0.95
    assert np.mean(result["class"][kind == "giant"] == "giant") > 0.9
    assert np.mean(result["class"][kind == "dwarf"] == "main_sequence") > 0.95
