"""The portal in a real headless Chromium: sign in, upload, share, run, stop.

Screenshots of every page land in ``test-output/screenshots/``.
"""

from __future__ import annotations

import pathlib
import re
import sys
import time

import pytest
from browser import CHROMIUM, free_port, launch

pytestmark = pytest.mark.browser

SHOTS = pathlib.Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
SUPPORT = str(pathlib.Path(__file__).resolve().parents[1] / "support")


# served as explore serve serves it (zero-copy transfers, the sign-in middleware)
SERVER = """
import uvicorn
from explore.settings import Settings
from explore.web.app import create_app, server_config
settings = Settings()
uvicorn.Server(server_config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")).run()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The portal in a process of its own (as in production: no state shared with other tests)."""
    import os
    import subprocess

    import httpx

    from explore.platform.core import Platform
    from explore.settings import Settings

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    port = free_port()
    data = tmp_path_factory.mktemp("portal")
    env = {**os.environ, "EXPLORE_DATA_DIR": str(data), "EXPLORE_PORT": str(port), "EXPLORE_DEMO": "false",
           "EXPLORE_EXTRA_APPS": "explore_test_apps:Countdown,explore_test_apps:ViewOnly",
           "EXPLORE_DEFAULT_QUOTA": "2000000", "EXPLORE_SECRET_KEY": "browser-tests",
           "PYTHONPATH": os.pathsep.join([SUPPORT, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    for key in ("EXPLORE_DATABASE_URL", "EXPLORE_STORAGE_URL", "EXPLORE_EXECUTOR"):
        env.pop(key, None)
    settings = Settings(data_dir=data, port=port, default_quota=2_000_000, secret_key="browser-tests",
                        extra_apps=["explore_test_apps:Countdown", "explore_test_apps:ViewOnly"])
    platform = Platform(settings)
    for name in ("alice", "bob"):
        platform.create_user(name, f"{name}-password")
    log = open(data / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-c", SERVER], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v1/apps", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("the portal did not start: " + (data / "server.log").read_text()[-2000:])
    yield {"url": url, "platform": platform}
    process.terminate()
    process.wait(20)
    log.close()
    platform.close()


@pytest.fixture(scope="module")
def chrome():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


def sign_in(chrome, server, name: str):
    context = chrome.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server["url"] + "/files")
    assert "/login" in page.url  # pages need a sign-in
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"{name}-password")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/files.*"))
    return page


def cell(page, text: str):
    """A cell of a Tabulator table (inside Panel's shadow DOM)."""
    return page.locator(".tabulator-cell", has_text=text).first


def close_dialog(page) -> None:
    page.get_by_role("dialog").get_by_role("button").first.click()
    page.get_by_role("dialog").wait_for(state="hidden")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_wrong_password_is_said_clearly(chrome, server):
    page = chrome.new_page()
    page.goto(server["url"] + "/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not-her-password")
    page.click("button[type=submit]")
    page.locator("text=wrong user name or password").wait_for()
    shot(page, "login-error")
    page.close()


def test_home_offers_three_bodies(chrome, server):
    page = sign_in(chrome, server, "alice")
    page.goto(server["url"] + "/")
    for body in ("The Milky Way", "The Moon", "Mars"):
        page.locator(f"text={body}").first.wait_for()
    page.locator("text=No app for Mars yet").wait_for()
    shot(page, "home")
    page.context.close()


def test_upload_share_and_permissions(chrome, server, tmp_path):
    page = sign_in(chrome, server, "alice")
    page.locator("text=Upload files").first.wait_for()
    a = tmp_path / "stars.csv"
    a.write_text("id,ra,dec\n1,10.5,-3.2\n2,11.0,4.5\n")
    b = tmp_path / "notes.txt"
    b.write_text("observing log\n")
    page.locator("input[type=file]").set_input_files([str(a), str(b)])
    page.locator("text=2 file(s) uploaded").wait_for()
    cell(page, "stars.csv").wait_for()
    cell(page, "notes.txt").wait_for()
    # preview
    cell(page, "stars.csv").click()
    page.locator("text=first rows").wait_for()
    shot(page, "files-preview")
    # over the quota: a clear message, nothing stored
    big = tmp_path / "huge.bin"
    big.write_bytes(b"\0" * 2_100_000)
    page.locator("input[type=file]").set_input_files([str(big)])
    page.locator("text=0 uploaded, 1 failed").wait_for()
    shot(page, "files-over-quota")
    page.locator("text=left in alice's quota").first.wait_for(state="attached")
    assert not server["platform"].storage.exists("alice/huge.bin")
    # share stars.csv with bob (read)
    cell(page, "stars.csv").click()
    page.get_by_role("button", name="Permissions").click()
    page.locator("text=Users who may read").first.wait_for()
    page.get_by_role("combobox", name="Users who may read", exact=True).click()
    page.get_by_role("listbox").get_by_text("bob", exact=True).click()
    page.get_by_role("listbox").press("Escape")
    shot(page, "files-permissions")
    page.get_by_role("button", name="Save").click()
    page.locator("text=Permissions of alice/stars.csv saved").wait_for()
    perms = server["platform"].workspace.get_permissions(server["platform"].accounts.get("alice"), "alice/stars.csv")
    assert perms["users"] == {"bob": "read"}
    page.context.close()
    # bob sees it and cannot delete it
    bob = sign_in(chrome, server, "bob")
    bob.locator("text=alice/stars.csv (read)").wait_for()
    bob.locator("text=alice/stars.csv (read)").click()
    bob.locator("text=first rows").wait_for()
    delete = bob.get_by_role("button", name="Delete")
    assert delete.is_disabled()
    shot(bob, "files-shared-with-bob")
    bob.context.close()
    assert server["platform"].storage.exists("alice/stars.csv")


def test_run_reaches_100_percent_and_a_long_one_stops(chrome, server):
    page = sign_in(chrome, server, "alice")
    page.goto(server["url"] + "/apps")
    page.locator("text=Countdown").first.wait_for()
    shot(page, "apps")
    page.get_by_role("button", name="Metadata").first.click()
    page.locator("text=Batch parameters").wait_for()
    shot(page, "apps-metadata")
    close_dialog(page)
    page.get_by_role("button", name="Run").first.click()
    page.locator("text=Submit run").wait_for()
    shot(page, "apps-run-form")
    steps = page.get_by_label(re.compile("^steps", re.I))
    steps.fill("0")
    steps.press("Tab")
    page.get_by_role("button", name="Submit run").click()
    page.locator("text=greater than or equal to 1").wait_for()  # out of range: said in the page
    shot(page, "apps-run-invalid")
    steps.fill("8")
    page.get_by_label(re.compile("^delay", re.I)).fill("0.2")
    page.get_by_role("button", name="Submit run").click()
    page.locator("text=submitted").wait_for()
    page.goto(server["url"] + "/runs")
    page.locator("text=COMPLETED").first.wait_for(timeout=90_000)
    page.locator("text=100").first.wait_for()
    shot(page, "runs-completed")
    # a long run, stopped from the page
    alice = server["platform"].accounts.get("alice")
    long = server["platform"].runs.submit(alice, "countdown", {"steps": 2000, "delay": 0.05})
    page.locator("text=EXECUTING").first.wait_for(timeout=60_000)
    page.locator("text=EXECUTING").first.click()
    page.get_by_role("button", name="Stop").click()
    page.locator("text=ABORTED").first.wait_for(timeout=60_000)
    shot(page, "runs-stopped")
    assert server["platform"].runs.get(alice, long["id"])["phase"] == "ABORTED"
    page.context.close()


def test_app_session_opens_and_stops(chrome, server):
    page = sign_in(chrome, server, "alice")
    page.goto(server["url"] + "/apps/viewonly/open")
    page.locator("text=Hello alice").wait_for()
    shot(page, "app-session")
    page.get_by_role("button", name="Stop session").click()
    page.locator("text=Session stopped").wait_for()
    page.context.close()
