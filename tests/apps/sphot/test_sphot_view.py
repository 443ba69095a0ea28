"""S-Phot's interactive view built on an in-memory session: the numbers behind the plots, refits from the
band table, linked selection, annotations."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fake_sessions import FakeSession

from explore.apps.sphot.app import SPhot
from explore.apps.sphot.demo import demo_sample

pn = pytest.importorskip("panel")


@pytest.fixture(scope="module")
def session():
    phot, _ = demo_sample(150, seed=9)
    buffer = io.StringIO()
    phot.write(buffer, format="ascii.csv")
    return FakeSession({"demo/sphot/sphot_demo.csv": buffer.getvalue().encode(), "alice/notes.txt": b"x"})


@pytest.fixture(scope="module")
def view(session):
    return SPhot().view(session)


def test_the_view_fits_the_demo_and_shows_a_star_with_excess(view):
    assert view.photometry_file == "demo/sphot/sphot_demo.csv"
    assert len(view.results) == 150
    row = view._row[view.star]
    assert view.results["ir_excess"][row]  # the first star shown is one with infrared excess
    bands = view.bands
    assert list(bands["wavelength"]) == sorted(bands["wavelength"])
    assert len(bands) == 18
    # the model column is the fitted model, the excess column the one of the results table
    w4 = bands[bands["filter"] == "WISE/WISE.W4"].iloc[0]
    assert w4["excess_sigma"] == pytest.approx(float(view.results["WISE/WISE.W4_excess_sigma"][row]), nan_ok=True)


def test_excluding_a_band_refits_the_star(view):
    view.star = next(s for s, r in view._row.items() if view.results["n_bands"][r] >= 10 and not view.results["ir_excess"][r])
    row = view._row[view.star]
    before = float(view.results["teff"][row])
    use = dict(zip(view.bands["filter"], view.bands["use"], strict=True))
    optical = [f for f in use if use[f] and f.startswith(("GAIA", "PAN-STARRS", "SLOAN"))]
    for fid in optical:
        use[fid] = False
    result = view.refit(use)
    assert int(result["n_bands"]) == int(sum(use.values()))
    assert not view.bands.set_index("filter").loc[optical, "use"].any()
    assert np.isfinite(view.bands.set_index("filter").loc[optical, "excess_sigma"]).all()
    assert float(view.results["teff"][row]) == pytest.approx(before, rel=0.15)  # still the same star
    for fid in optical:
        use[fid] = True
    view.refit(use)
    assert float(view.results["teff"][row]) == pytest.approx(before, rel=1e-6)


def test_plots_and_the_layout_build(view):
    sed = view.sed_plot()
    assert "Teff" in sed.opts.get().kwargs["title"]
    assert view.residual_plot() is not None
    layout = view.__panel__()
    assert isinstance(layout, pn.Column)
    assert set(view.linked.plot_names) == {"hr", "excess_vs_luminosity", "excess_vs_position"}


def test_selecting_stars_in_the_linked_plots_shows_the_first(view):
    target = view.sample["id"].iloc[42]
    view.linked.select_ids([target])
    assert view.star == target
    assert view.bands is not None


def test_annotations_attach_to_the_sample_plots(view, session):
    record = session.annotate("hr", "odd giants", object_ids=["demo-00001"])
    view.notes.refresh()
    assert [a.title for a in view.notes.of_view("hr")] == ["odd giants"]
    assert record.view == "hr"
