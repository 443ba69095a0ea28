"""Memory of the server after many app sessions opened and stopped (Panel sessions leak if not cleaned up).

Starts a real server (uvicorn, in a subprocess), opens an app's interactive session in headless Chromium,
presses STOP, and repeats; prints the server's resident memory after the first session and after the
last, once the server has discarded the closed sessions.

    python benchmarks/sessions_memory.py [--sessions 50] [--app gtomo] [--quick]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import psutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

SERVER = """
import sys, uvicorn
from explore.settings import Settings
from explore.platform.core import Platform
from explore.platform.demo import prepare_demo
from explore.web.app import create_app
settings = Settings()
platform = Platform(settings)
prepare_demo(platform, echo=lambda m: None)
if not platform.accounts.exists("bench"):
    platform.create_user("bench", "bench-password")
uvicorn.run(create_app(settings, platform=platform), host="127.0.0.1", port=settings.port, log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--app", default="gtomo")
    parser.add_argument("--quick", action="store_true", help="10 sessions")
    args = parser.parse_args()
    n = 10 if args.quick else args.sessions
    from playwright.sync_api import sync_playwright

    data = tempfile.mkdtemp(prefix="explore-bench-sessions-")
    port = free_port()
    env = {**os.environ, "EXPLORE_DATA_DIR": data, "EXPLORE_PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-c", SERVER], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/api/v1/apps", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        print(f"server: pid {server.pid}, rss after start: {rss_mb(server.pid):.0f} MB")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(base + "/login")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", "bench-password")
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            after: dict[int, float] = {}
            times = []
            for i in range(1, n + 1):
                t0 = time.perf_counter()
                page.goto(f"{base}/apps/{args.app}/open")
                page.get_by_role("button", name="Stop session").wait_for()
                times.append(time.perf_counter() - t0)
                page.get_by_role("button", name="Stop session").click()
                page.locator("text=Session stopped").wait_for()
                page.goto(base + "/login")  # leave the page: the websocket closes
                if i in (1, n):
                    time.sleep(8)  # the server discards unused sessions after 4 s, checking every 2 s
                    after[i] = rss_mb(server.pid)
                    print(f"sessions opened and stopped: {i}, server rss: {after[i]:.0f} MB")
            browser.close()
        growth = after[n] - after[1]
        print(f"session open time: median {sorted(times)[len(times) // 2]:.2f} s")
        print(f"rss after 1 session: {after[1]:.0f} MB")
        print(f"rss after {n} sessions: {after[n]:.0f} MB")
        print(f"growth per session: {growth / max(n - 1, 1):.2f} MB")
        print(f"ratio rss {n} / rss 1: {after[n] / after[1]:.2f}")
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
