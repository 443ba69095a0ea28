"""S-Phot's view in a real headless Chromium, served on a fake session over a small demo sample: the page
loads with its plots, a star picked in the Star box shows its SED and per-band table with the fitted
numbers, and unticking a band in the table refits the star. Screenshots go to ``test-output/sphot/``."""

from __future__ import annotations

import io
import pathlib
import time

import numpy as np
import pytest

pytest.importorskip("playwright")
from browser import free_port, launch, needs_chromium, wait_until  # noqa: E402
from fake_sessions import FakeSession  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[3]
SHOTS = ROOT / "test-output" / "sphot"
N_STARS = 300

pytestmark = needs_chromium

@pytest.fixture(scope="module")
def demo():
    """The demo sample (300 stars in 18 bands) and its batch fit with the view's defaults (CK04, A_V = 0)."""
    from explore.apps.sphot.batch import fit_table
    from explore.apps.sphot.demo import demo_sample

    phot, _ = demo_sample(N_STARS, seed=9)
    results = fit_table(phot, grid="ck04", extinction="none")
    buffer = io.StringIO()
    phot.write(buffer, format="ascii.csv")
    return phot, results, FakeSession({"demo/sphot/sphot_demo.csv": buffer.getvalue().encode(),
                                       "alice/notes.txt": b"x"})


def test_the_view_in_a_browser(demo):
    import panel as pn

    from explore.apps.sphot.app import SPhot

    phot, results, session = demo
    ids = [str(i) for i in np.asarray(results["id"])]
    # a star with many bands and no excess; unticking one of its bands leaves one band fewer in the fit
    target = next(i for i, sid in enumerate(ids)
                  if results["n_bands"][i] >= 12 and not results["ir_excess"][i] and not results["uv_excess"][i]
                  and results["n_rejected"][i] == 0 and results["status"][i] == "ok")
    star = ids[target]
    band = "2MASS/2MASS.J"
    assert results[f"{band}_used"][target]
    views = []

    def page():
        view = SPhot().view(session)
        views.append(view)
        return pn.panel(view)

    SHOTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = pn.serve({"sphot": page}, port=port, address="127.0.0.1", threaded=True, show=False)
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            tab = browser.new_page(viewport={"width": 1440, "height": 1100})
            started = time.monotonic()
            tab.goto(f"http://127.0.0.1:{port}/sphot", timeout=60_000)
            tab.locator(f"text=0 of {N_STARS} selected").wait_for(timeout=60_000)
            canvases = tab.locator("canvas")
            assert wait_until(lambda: canvases.count() >= 5, 30), canvases.count()
            first_paint = time.monotonic() - started
            view = views[-1]
            # the view's own fit of the table is the batch fit
            assert np.allclose(np.asarray(view.results["teff"], float), np.asarray(results["teff"], float),
                               equal_nan=True)
            first = view.star
            tab.locator(f"text={first}").first.wait_for(timeout=20_000)
            tab.wait_for_timeout(1500)
            tab.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

            # pick the star in the Star box
            box = tab.get_by_label("Star")
            box.fill(star)
            box.press("End")  # a key event opens the completion menu
            tab.locator(f".bk-menu >> text={star}").or_(tab.get_by_role("option", name=star)).first.click(
                timeout=10_000)
            assert wait_until(lambda: view.star == star, 15), view.star
            teff = float(results["teff"][target])
            summary = tab.locator(f"text=Teff {teff:.0f} ±").first
            summary.wait_for(timeout=15_000)
            assert star in summary.inner_text()
            n0, chi0 = int(results["n_bands"][target]), float(results["chi2_red"][target])
            tab.locator(f"text=χ²_red {chi0:.2f} on {n0} bands").first.wait_for(timeout=10_000)
            # the SED's title (drawn on the canvas)
            assert view.sed_plot().opts.get().kwargs["title"].startswith(f"{star}: Teff {teff:.0f} K")
            # the per-band table: the 18 bands, the J row with its magnitude
            rows = tab.locator(".tabulator-row")
            assert wait_until(lambda: rows.count() == 18, 10), rows.count()
            j_row = rows.filter(has_text=band)
            mag = f"{float(phot[band][target]):.3f}"
            assert wait_until(lambda: mag in j_row.inner_text().split(), 10), (mag, j_row.inner_text())
            tab.wait_for_timeout(1000)
            tab.screenshot(path=str(SHOTS / "star.png"), full_page=True)

            # untick J: the star is refitted without it
            cell = j_row.locator('[tabulator-field="use"]')
            cell.click()  # one click toggles the band
            assert wait_until(lambda: int(view.results["n_bands"][target]) == n0 - 1, 15)
            assert not bool(view.results[f"{band}_used"][target])
            chi1 = float(view.results["chi2_red"][target])
            assert chi1 != pytest.approx(chi0, rel=1e-9)
            tab.locator(f"text=χ²_red {chi1:.2f} on {n0 - 1} bands").first.wait_for(timeout=10_000)
            assert float(view.results["teff"][target]) == pytest.approx(teff, rel=0.1)  # still the same star
            # the table shows J unticked, and the SED marks it with a cross
            assert wait_until(lambda: cell.get_attribute("aria-checked") == "false", 10), cell.evaluate(
                "e => e.outerHTML")
            tab.wait_for_timeout(1000)
            tab.screenshot(path=str(SHOTS / "refit.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
    print(f"first paint {first_paint:.1f} s")
    assert first_paint < 40, f"first paint took {first_paint:.1f} s"
