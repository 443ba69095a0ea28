"""In a real headless Chromium: a box drawn with the mouse on one datashaded plot of 1e5 points selects
the objects inside, shows their count, and highlights them in the other plot; an annotation made from
the page carries the plot region and is drawn on the plot."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("playwright")
from browser import HIGHLIGHT, OUT, free_port, launch, needs_chromium, pixels_like, wait_until  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

REGION = (0xFF, 0x8F, 0x00)

pytestmark = needs_chromium

def test_box_selection_in_one_plot_highlights_in_the_other_and_annotates(session):
    import holoviews as hv
    import panel as pn

    from explore.viz import AnnotationLayer, LinkedViews, SelectionActions, points_in_box, points_in_polygon

    hv.extension("bokeh")
    OUT.mkdir(exist_ok=True)
    n = 100_000
    rng = np.random.default_rng(11)
    table = pd.DataFrame({"id": np.arange(n), "a": rng.normal(size=n), "b": rng.normal(size=n),
                          "c": rng.uniform(0, 1, n)})
    pages: list[tuple[LinkedViews, AnnotationLayer]] = []

    def page():
        linked = LinkedViews(table, dataset="test")
        layer = AnnotationLayer(session, linked=linked)
        pages.append((linked, layer))
        left = layer.wrap(linked.scatter("a", "b", name="ab"), view="ab")
        right = linked.scatter("b", "c", name="bc")
        return pn.Row(pn.Column(linked.controls(), pn.Row(left, pn.pane.HoloViews(right)), layer, width=1000),
                      SelectionActions(linked, session, apps=["sphot"]))

    port = free_port()
    server = pn.serve({"linked": page}, port=port, address="127.0.0.1", threaded=True, show=False, start=True)
    try:
        with sync_playwright() as p:
            browser = launch(p)
            tab = browser.new_page(viewport={"width": 1400, "height": 900})
            tab.goto(f"http://127.0.0.1:{port}/linked")
            tab.locator("text=0 of 100,000 selected").wait_for(timeout=90_000)
            canvases = tab.locator("canvas")
            wait_until(lambda: canvases.count() >= 4, 30)
            # the canvases without their toolbars (the Bokeh logo has red in it)
            left_box = dict(canvases.first.bounding_box(), width=canvases.first.bounding_box()["width"] - 50)
            right_box = canvases.nth(canvases.count() - 1).bounding_box()
            right_box["width"] -= 50
            assert right_box["x"] > left_box["x"] + 200
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=right_box), (0x08, 0x30, 0x6B), 90) > 2000)
            before = tab.screenshot(clip=right_box)
            (OUT / "viz_linked_before.png").write_bytes(tab.screenshot())
            assert pixels_like(before, HIGHLIGHT) == 0

            tab.locator('[title="Box Select"]').first.click()
            x0, y0 = left_box["x"] + 150, left_box["y"] + 150
            tab.mouse.move(x0, y0)
            tab.mouse.down()
            tab.mouse.move(x0 + 40, y0 + 30, steps=4)
            tab.mouse.move(x0 + 80, y0 + 60, steps=4)
            tab.mouse.up()

            linked, layer = pages[-1]
            assert wait_until(lambda: linked.n_selected > 0)
            bounds = linked.streams("ab")[0].bounds
            expected = points_in_box(table.a.to_numpy(), table.b.to_numpy(), bounds)
            assert linked.selection.tolist() == expected.tolist()
            assert 1000 < linked.n_selected < n
            tab.locator(f"text={linked.n_selected:,} of 100,000 selected").wait_for(timeout=10_000)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=right_box), HIGHLIGHT) > 1000, 10)
            after = tab.screenshot(clip=right_box)
            (OUT / "viz_linked_selected.png").write_bytes(tab.screenshot())
            # the highlight in the b-c plot spans the b range of the box, not the whole axis
            lit = np.abs(np.asarray(Image.open(io.BytesIO(after)).convert("RGB")).astype(int)
                         - np.array(HIGHLIGHT)).max(axis=2) <= 40
            columns = np.flatnonzero(lit.any(axis=0))
            assert 0.1 * right_box["width"] < columns.max() - columns.min() < 0.5 * right_box["width"]

            # annotate the left plot: the dialog's record carries the region in view and the objects
            tab.get_by_role("button", name="Annotate").click()
            tab.get_by_label("Title").fill("Dense core")
            tab.wait_for_timeout(300)
            (OUT / "viz_annotate_dialog.png").write_bytes(tab.screenshot())
            tab.get_by_role("button", name="Save", exact=True).click()
            assert wait_until(lambda: bool(session.calls_to("annotate")), 10)
            (args, kwargs), = session.calls_to("annotate")
            assert args[:2] == ("ab", "Dense core")
            assert len(kwargs["object_ids"]) == linked.n_selected
            region = kwargs["region"]
            assert region is not None and region["x_dim"] == "a"
            assert region["x"][0] < bounds[0] < bounds[2] < region["x"][1]

            tab.get_by_role("button", name="Clear selection").click()
            tab.locator("text=0 of 100,000 selected").wait_for(timeout=10_000)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=right_box), HIGHLIGHT) == 0, 10)

            # a lasso (a triangle) on the right plot selects exactly the objects inside it
            tab.locator('[title="Lasso Select"]').nth(1).click()
            rx, ry = right_box["x"] + 130, right_box["y"] + 100
            tab.mouse.move(rx, ry)
            tab.mouse.down()
            for px, py in ((rx + 60, ry + 10), (rx + 90, ry + 150), (rx + 20, ry + 120), (rx + 5, ry + 5)):
                tab.mouse.move(px, py, steps=6)
            tab.mouse.up()
            assert wait_until(lambda: linked.n_selected > 0)
            geometry = linked.streams("bc")[1].geometry
            inside = points_in_polygon(table.b.to_numpy(), table.c.to_numpy(), geometry)
            assert len(geometry) >= 5 and linked.selection.tolist() == inside.tolist()
            tab.locator(f"text={linked.n_selected:,} of 100,000 selected").wait_for(timeout=10_000)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=left_box), HIGHLIGHT) > 200, 10)
            assert wait_until(lambda: pixels_like(tab.screenshot(clip=right_box), HIGHLIGHT) > 200, 10)
            (OUT / "viz_linked_lasso.png").write_bytes(tab.screenshot())
            # the 50,000 annotated objects are drawn (as a translucent green image) on the annotated plot
            rgb = np.asarray(Image.open(io.BytesIO(tab.screenshot(clip=left_box))).convert("RGB")).astype(int)
            green = (rgb[..., 1] > rgb[..., 0] + 60) & (rgb[..., 1] > rgb[..., 2] + 40)
            assert green.sum() > 2000
            tab.get_by_role("button", name="Clear selection").click()
            tab.locator("text=0 of 100,000 selected").wait_for(timeout=10_000)
            tab.wait_for_timeout(500)
            shot = tab.screenshot()
            (OUT / "viz_linked_annotated.png").write_bytes(shot)
            assert pixels_like(tab.screenshot(clip=left_box), REGION, 30) > 100  # the region's outline
            browser.close()
    finally:
        server.stop()
