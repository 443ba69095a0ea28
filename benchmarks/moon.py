"""Speed of the Moon's map tiles and of the product search.

Tiles: median and p95 time to serve a 256-pixel tile of each layer at several zooms, cold (a new
renderer: nothing cached) and warm (the same tiles again, from the LRU cache), and the ratio
against the naive way: open the raster, read all of it with rasterio, and warp the tile out of it.

Search: an index of 1e6 synthetic products (``make_demo_products``) in SQLite; a region + angle +
time query through ``search_products`` (R*Tree + exact footprint test), against a linear scan of
the same products held in memory (numpy masks + vectorised shapely ``intersects`` on the footprints,
already parsed). Aim: under 100 ms and at least 20 times faster.

Run ``python benchmarks/moon.py`` (or ``--quick`` for 1e5 products and fewer tiles). Prints
``name: value`` lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
import sqlite3
import statistics
import sys
import tempfile
import time

import numpy as np


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _pctl(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_tiles(data_dir: pathlib.Path, quick: bool) -> None:
    import rasterio
    from rasterio.warp import Resampling, reproject

    from explore.apps.lexplo.layers import moon_layers, prepare_demo_data
    from explore.planetary.tiles import TileRenderer, tile_matrix_set

    prepare_demo_data(data_dir)
    layers = moon_layers(data_dir)
    rng = np.random.default_rng(1)
    plan = {"geographic": [0, 2, 4, 6], "south_polar": [0, 3, 6]}
    per_zoom = 4 if quick else 12
    names = [n for n in ("elevation", "hillshade", "slope", "albedo") if n in layers]
    for layer in names:
        for tms_name, zooms in plan.items():
            tms = tile_matrix_set(tms_name)
            for z in zooms:
                m = tms.matrix(z)
                if tms_name == "south_polar":  # tiles within ~80 S (the middle 70 % of the matrix)
                    lo = int(m.matrixWidth * 0.15)
                    hi = max(lo + 1, int(np.ceil(m.matrixWidth * 0.85)))
                    cols, rows_ = range(lo, hi), range(lo, hi)
                else:
                    cols, rows_ = range(m.matrixWidth), range(m.matrixHeight)
                candidates = [(x, y) for x in cols for y in rows_] if len(cols) * len(rows_) <= 4096 else None
                if candidates is not None:
                    pick = rng.choice(len(candidates), size=min(per_zoom, len(candidates)), replace=False)
                    tiles = [candidates[i] for i in pick]
                else:
                    tiles = sorted({(int(rng.integers(cols.start, cols.stop)), int(rng.integers(rows_.start, rows_.stop)))
                                    for _ in range(per_zoom)})
                renderer = TileRenderer(layers, cache_size=4096)
                cold, warm, naive = [], [], []
                for x, y in tiles:
                    t0 = time.perf_counter()
                    renderer.tile(layer, tms_name, z, x, y)
                    cold.append(time.perf_counter() - t0)
                for x, y in tiles:
                    t0 = time.perf_counter()
                    renderer.tile(layer, tms_name, z, x, y)
                    warm.append(time.perf_counter() - t0)
                source = layers[layer].sources[0].path
                dst_crs = rasterio.crs.CRS.from_wkt(tms.crs._pyproj_crs.to_wkt())
                for x, y in tiles[: max(2, per_zoom // 3)]:
                    t0 = time.perf_counter()
                    with rasterio.open(source) as ds:
                        whole = ds.read(1)
                        b = tms.xy_bounds(x, y, z)
                        out = np.full((256, 256), np.nan, dtype="float32")
                        transform = rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, 256, 256)
                        reproject(whole, out, src_transform=ds.transform, src_crs=ds.crs, src_nodata=ds.nodata,
                                  dst_transform=transform, dst_crs=dst_crs, dst_nodata=np.nan,
                                  resampling=Resampling.bilinear)
                    naive.append(time.perf_counter() - t0)
                key = f"tile {layer} {tms_name} z{z}"
                print(f"{key} cold median ms: {_ms(statistics.median(cold))}")
                print(f"{key} cold p95 ms: {_ms(_pctl(cold, 95))}")
                print(f"{key} warm median ms: {_ms(statistics.median(warm))}")
                print(f"{key} warm p95 ms: {_ms(_pctl(warm, 95))}")
                print(f"{key} whole-raster read+crop median ms: {_ms(statistics.median(naive))}")
                print(f"{key} speedup cold vs whole-raster: {statistics.median(naive) / statistics.median(cold):.1f}")
                sys.stdout.flush()


def bench_search(n: int, workdir: pathlib.Path, repeats: int) -> None:
    import shapely

    from explore.platform.db import Database
    from explore.platform.products import ProductQuery, make_demo_products, search_products

    url = f"sqlite:///{workdir / 'products.db'}"
    db = Database(url)
    db.migrate()
    t0 = time.perf_counter()
    with db.session() as session:
        make_demo_products(session, n, seed=42, batch_size=50_000)
    print(f"search index build s: {time.perf_counter() - t0:.1f}")
    print(f"search products: {n}")

    # the same products in memory for the linear scan
    con = sqlite3.connect(workdir / "products.db")
    rows = con.execute("SELECT id, footprint, incidence, emission, start_time, stop_time FROM products ORDER BY id").fetchall()
    con.close()
    ids = np.array([r[0] for r in rows])
    geoms = shapely.from_wkt([r[1] for r in rows])
    inc = np.array([r[2] for r in rows], dtype=float)
    emi = np.array([r[3] for r in rows], dtype=float)
    start = np.array([r[4] for r in rows], dtype="datetime64[us]")
    stop = np.array([r[5] for r in rows], dtype="datetime64[us]")
    del rows

    rng = np.random.default_rng(3)
    queries = []
    for _ in range(repeats):
        w = float(rng.uniform(-180, 160))
        s = float(rng.uniform(-70, 50))
        queries.append(ProductQuery(bbox=(w, s, w + 20.0, s + 20.0), min_incidence=30.0, max_incidence=70.0,
                                    max_emission=20.0, start=dt.datetime(2010, 1, 1), stop=dt.datetime(2013, 12, 31),
                                    limit=100))
    # plus one across 180 deg and one around the south pole
    queries.append(ProductQuery(bbox=(170.0, -20.0, -170.0, 20.0), min_incidence=30.0, max_incidence=70.0,
                                max_emission=20.0, start=dt.datetime(2010, 1, 1), stop=dt.datetime(2013, 12, 31)))
    queries.append(ProductQuery(polygon="POLYGON ((0 -80, 90 -80, 180 -80, 270 -80, 0 -80))", min_incidence=30.0,
                                max_incidence=89.0, start=dt.datetime(2010, 1, 1), stop=dt.datetime(2013, 12, 31)))
    indexed, linear, totals = [], [], []
    with db.session() as session:
        search_products(session, queries[0])  # warm the page cache once
        for q in queries:
            t0 = time.perf_counter()
            result = search_products(session, q)
            indexed.append(time.perf_counter() - t0)
            region = q.region()
            t0 = time.perf_counter()
            mask = np.ones(len(ids), dtype=bool)
            if q.min_incidence is not None:
                mask &= inc >= q.min_incidence
            if q.max_incidence is not None:
                mask &= inc <= q.max_incidence
            if q.max_emission is not None:
                mask &= emi <= q.max_emission
            mask &= stop >= np.datetime64(q.start.replace(tzinfo=None))
            mask &= start <= np.datetime64(q.stop.replace(tzinfo=None))
            hit = shapely.intersects(geoms, region.geometry) & mask
            linear.append(time.perf_counter() - t0)
            if int(hit.sum()) != result.total:
                print(f"search MISMATCH: index {result.total} vs scan {int(hit.sum())} for {q}")
            totals.append(result.total)
    print(f"search queries: {len(queries)} (20x20 deg boxes, one across 180 deg, one around the south pole)")
    print(f"search matches median: {int(statistics.median(totals))}")
    print(f"search indexed median ms: {_ms(statistics.median(indexed))}")
    print(f"search indexed max ms: {_ms(max(indexed))}")
    print(f"search linear scan (shapely, in memory) median ms: {_ms(statistics.median(linear))}")
    print(f"search speedup vs linear scan: {statistics.median(linear) / statistics.median(indexed):.1f}")
    db.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 products and fewer tiles")
    parser.add_argument("--products", type=int, default=None, help="number of synthetic products")
    parser.add_argument("--skip-tiles", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    args = parser.parse_args(argv)
    n = args.products or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        work = pathlib.Path(tmp)
        if not args.skip_tiles:
            bench_tiles(work / "var", args.quick)
        if not args.skip_search:
            bench_search(n, work, repeats=5 if args.quick else 10)


if __name__ == "__main__":
    main()
