"""Linked views benchmark: a linked pair of datashaded plots in headless Chromium.

For 1e5 points (the baseline) and 1e6 points, a Panel server in this process serves a page with two
linked datashaded scatter plots (``explore.viz.LinkedViews``). Playwright drives Debian's chromium:

- ``first_render_s``: from navigation to both plots painted (their canvases hold the density image);
- ``select_to_highlight_s``: from the mouse-up that ends a box selection on the left plot to the first
  animation frame where the highlight colour appears in the right plot (measured in the page, with a
  ``pointerup`` listener and a ``requestAnimationFrame`` poll of the right plot's canvas pixels);
  several boxes, cleared in between; median and worst are printed.

The datashader kernels are compiled (numba) once per process on a tiny table first, printed as
``jit_warmup_s``, so that the first render measures the page and not the compiler. Also printed: the
cost of the box and lasso tests alone, the server's share of each selection (wall and CPU time in its
thread: the test plus both plots' highlight updates), and the load average, since the machine is shared
and a busy one stretches every wall-clock figure.

Usage::

    python benchmarks/linked_views.py            # 1e5 and 1e6 points, 3 selections each
    python benchmarks/linked_views.py --quick    # 1e5 points, 2 selections
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import numpy as np
import pandas as pd

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
TOOLBAR_PX = 50

# counts pixels of a colour in canvases, leaving out the toolbar strip on their right
COUNT_JS = """
(canvases, [rgb, tol]) => {
  let n = 0;
  for (const c of canvases) {
    const ctx = c.getContext('2d');
    if (!ctx || !c.width) continue;
    const w = Math.max(1, c.width - TOOLBAR_PX * window.devicePixelRatio);
    const d = ctx.getImageData(0, 0, w, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - rgb[0]) <= tol && Math.abs(d[i + 1] - rgb[1]) <= tol && Math.abs(d[i + 2] - rgb[2]) <= tol) n++;
    }
  }
  return n;
}
""".replace("TOOLBAR_PX", str(TOOLBAR_PX))

# waits (per animation frame) after the next pointerup for the colour to appear; result in window.__hl
ARM_JS = """
(canvases, [rgb, tol, timeout]) => {
  const count = COUNT_JS;
  window.__hl = undefined;
  let t0 = null;
  document.addEventListener('pointerup', () => { t0 = performance.now(); }, {capture: true, once: true});
  const start = performance.now();
  const tick = () => {
    if (t0 !== null && count(canvases, [rgb, tol]) > 0) { window.__hl = performance.now() - t0; return; }
    if (performance.now() - start > timeout) { window.__hl = -1; return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}
""".replace("COUNT_JS", COUNT_JS)


def hex_rgb(color: str) -> list[int]:
    color = color.lstrip("#")
    return [int(color[i:i + 2], 16) for i in (0, 2, 4)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_table(n: int, seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"id": np.arange(n), "a": rng.normal(size=n), "b": rng.normal(size=n),
                         "c": rng.uniform(0, 1, n)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 points only, 2 selections")
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="table sizes (default 1e5 1e6)")
    parser.add_argument("--repeats", type=int, default=None, help="box selections per size")
    args = parser.parse_args()
    sizes = args.sizes or ([100_000] if args.quick else [100_000, 1_000_000])
    repeats = args.repeats or (2 if args.quick else 3)

    import holoviews as hv
    import panel as pn
    from playwright.sync_api import sync_playwright

    from explore.viz import LinkedViews, points_in_box, points_in_polygon
    from explore.viz.linked import warm_up

    hv.extension("bokeh")
    print(f"load_average_1min: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    t0 = time.perf_counter()
    warm_up()
    print(f"jit_warmup_s: {time.perf_counter() - t0:.2f}")

    # the server's share of a selection: the box test and both plots' highlight updates, in its thread
    server_costs: list[tuple[int, float, float]] = []
    on_box = LinkedViews._on_box

    def timed_on_box(self, x, y, bounds):
        wall, cpu = time.perf_counter(), time.thread_time()
        on_box(self, x, y, bounds)
        server_costs.append((self.n_rows, time.perf_counter() - wall, time.thread_time() - cpu))

    LinkedViews._on_box = timed_on_box

    tables = {n: make_table(n) for n in sizes}
    for n, table in tables.items():
        a, b = table.a.to_numpy(), table.b.to_numpy()
        t = time.perf_counter()
        points_in_box(a, b, (-0.5, -0.5, 0.7, 0.9))
        print(f"select_box_compute_ms[{n}]: {1000 * (time.perf_counter() - t):.1f}")
        order = np.argsort(b, kind="stable")
        angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
        lasso = np.c_[1.2 * np.cos(angles) * (1 + 0.3 * np.sin(6 * angles)), np.sin(angles)]
        t = time.perf_counter()
        points_in_polygon(a, b, lasso, order=order)
        print(f"select_lasso_200_vertices_compute_ms[{n}]: {1000 * (time.perf_counter() - t):.1f}")

    pages: dict[int, list[LinkedViews]] = {n: [] for n in sizes}

    def page_for(n: int):
        def page():
            linked = LinkedViews(tables[n], dataset=f"bench{n}")
            pages[n].append(linked)
            return pn.Column(linked.controls(), pn.Row(linked.scatter("a", "b", name="ab"),
                                                       linked.scatter("b", "c", name="bc")))
        return page

    port = free_port()
    server = pn.serve({f"linked{n}": page_for(n) for n in sizes}, port=port, address="127.0.0.1",
                      threaded=True, show=False, start=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for n in sizes:
                run_size(browser, port, n, repeats, pages[n])
                costs = [c for c in server_costs if c[0] == n and c[1] > 0]
                if costs:
                    print(f"server_select_update_s[{n}]: wall median {statistics.median(c[1] for c in costs):.3f}, "
                          f"cpu median {statistics.median(c[2] for c in costs):.3f}")
            browser.close()
    finally:
        server.stop()


def run_size(browser, port: int, n: int, repeats: int, made: list) -> None:
    tab = browser.new_page(viewport={"width": 1100, "height": 700})
    density = [[0x08, 0x30, 0x6B], 90]
    t0 = time.perf_counter()
    tab.goto(f"http://127.0.0.1:{port}/linked{n}", wait_until="commit")
    painted = False
    while time.perf_counter() - t0 < 180:
        canvases = tab.locator("canvas")
        if canvases.count() >= 4:
            handles = canvases.element_handles()
            boxes = [h.bounding_box() for h in handles]
            mid = max(b["x"] for b in boxes)
            left = [h for h, b in zip(handles, boxes, strict=True) if b["x"] < mid]
            right = [h for h, b in zip(handles, boxes, strict=True) if b["x"] == mid]
            counts = [tab.evaluate(f"([cs, a]) => ({COUNT_JS})(cs, a)", [side, density]) for side in (left, right)]
            if min(counts) > 2000:
                painted = True
                break
        time.sleep(0.05)
    first_render = time.perf_counter() - t0
    print(f"first_render_s[{n}]: {first_render:.2f}" + ("" if painted else " (not painted: timed out)"))
    if not painted:
        tab.close()
        return
    linked = made[-1]
    highlight = [hex_rgb(linked.highlight_color), 40, 15_000]
    tab.wait_for_timeout(1500)  # let the first range and size reports from the browser settle
    box_tool = tab.locator('[title="Box Select"]').first
    frame = boxes[0]
    times = []
    for k in range(repeats):
        if "bk-active" not in (box_tool.get_attribute("class") or ""):
            box_tool.click()  # (clicking an active tool would switch it off)
        tab.evaluate(f"([cs, a]) => ({ARM_JS})(cs, a)", [right, highlight])
        x0, y0 = frame["x"] + 130 + 15 * k, frame["y"] + 140 + 10 * k
        tab.mouse.move(x0, y0)
        tab.mouse.down()
        tab.mouse.move(x0 + 50, y0 + 40, steps=3)
        tab.mouse.move(x0 + 90, y0 + 70, steps=3)
        tab.mouse.up()
        tab.wait_for_function("window.__hl !== undefined", timeout=20_000)
        elapsed = tab.evaluate("window.__hl") / 1000
        if elapsed < 0:
            print(f"select_to_highlight_s[{n}] run {k}: highlight never appeared "
                  f"(server selection: {linked.n_selected} objects)")
        else:
            times.append(elapsed)
            print(f"select_to_highlight_s[{n}] run {k}: {elapsed:.3f} ({linked.n_selected} objects)")
        if linked.n_selected:
            tab.get_by_role("button", name="Clear selection").click()
            tab.locator(f"text=0 of {n:,} selected").wait_for(timeout=20_000)
        deadline = time.perf_counter() + 20
        while time.perf_counter() < deadline and tab.evaluate(
                f"([cs, a]) => ({COUNT_JS})(cs, a)", [right, highlight[:2]]) > 0:
            time.sleep(0.05)
    if times:
        print(f"select_to_highlight_s[{n}]: median {statistics.median(times):.3f}, worst {max(times):.3f}, "
              f"runs {len(times)}")
    tab.close()


if __name__ == "__main__":
    main()
