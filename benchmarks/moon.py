"""Speed of the Moon's map tiles and of the product search.

Tiles: median and p95 time to serve a 256-pixel tile of each layer at several zooms, cold (a new
renderer: nothing cached) and warm (the same tiles again, from the LRU cache), and the ratio
against the naive way: open the raster, read all of it with rasterio, and warp the tile out of it.

Search: an index of 1e6 synthetic products (``make_demo_products``) in SQLite (or the database of
``--database-url``); region + angle + time queries through ``search_products`` (spatial index + exact
footprint test, a page of 100 and the total), against a linear scan of the same products held in
memory (footprints already parsed; vectorised shapely ``intersects`` on every footprint, numpy masks
for angles and time, matches sorted and paged the same way). Every query must give the same total,
the same page and the same ordered list of all matching ids (asserted). A second scan that tests
only the footprints passing the angle and time masks is reported too. Aim: under 100 ms and at
least 20 times faster.

Searches without a region (product sets by name with angles, time windows, angles alone, the
default search) are timed too, against numpy masks over the same products in memory: the same page
and total (counted up to 10,000) asserted.

Run ``python benchmarks/moon.py`` (or ``--quick`` for 1e5 products and fewer tiles;
``--skip-tiles`` for the search only). Prints ``name: value`` lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gc
import pathlib
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
                if tms_name == "south_polar":  # tiles poleward of ~67 S (the middle 70 % of the 2048 km matrix)
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


def _search_queries(repeats: int, seed: int = 3) -> list:
    """``repeats`` 20 x 20 deg boxes at random, one box across 180 deg and one cap around the south
    pole, each with incidence, emission and time filters."""
    from explore.platform.products import ProductQuery

    rng = np.random.default_rng(seed)
    years = {"start": dt.datetime(2010, 1, 1), "stop": dt.datetime(2013, 12, 31)}
    queries = []
    for _ in range(repeats):
        w = float(rng.uniform(-180, 160))
        s = float(rng.uniform(-70, 50))
        queries.append(ProductQuery(bbox=(w, s, w + 20.0, s + 20.0), min_incidence=30.0, max_incidence=70.0,
                                    max_emission=20.0, **years))
    queries.append(ProductQuery(bbox=(170.0, -20.0, -170.0, 20.0), min_incidence=30.0, max_incidence=70.0,
                                max_emission=20.0, **years))
    queries.append(ProductQuery(polygon="POLYGON ((0 -80, 90 -80, 180 -80, 270 -80, 0 -80))", min_incidence=30.0,
                                max_incidence=89.0, **years))
    return queries


def _unregioned_queries() -> dict:
    """Searches without a region, by name: product sets by name with angles, a time window, angles
    alone, and the default search (everything on the Moon)."""
    from explore.platform.products import ProductQuery

    return {
        "set + angles": ProductQuery(instrument="LROC NAC", min_incidence=60.0, max_incidence=80.0, max_emission=10.0),
        "rare set + angles": ProductQuery(instrument="OHRC", min_incidence=85.0),
        "mission (4 sets) + phase": ProductQuery(mission="Clementine", min_phase=20.0, max_phase=60.0),
        "2 sets + time": ProductQuery(instrument="LROC", start=dt.datetime(2012, 1, 1), stop=dt.datetime(2013, 12, 31)),
        "time window (1 month)": ProductQuery(start=dt.datetime(2010, 3, 1), stop=dt.datetime(2010, 4, 1)),
        "time window (1 day)": ProductQuery(start=dt.datetime(2016, 7, 1), stop=dt.datetime(2016, 7, 2)),
        "from a date on": ProductQuery(start=dt.datetime(2024, 6, 1)),
        "angles only": ProductQuery(min_incidence=80.0, max_emission=5.0),
        "default (body)": ProductQuery(body="moon"),
    }


class _LinearScan:
    """The products in memory (footprints parsed, angles and times in arrays) and a search over all
    of them with the same filters, order (start time, then id) and page as ``search_products``."""

    def __init__(self, db) -> None:
        import shapely
        from sqlalchemy import select

        from explore.platform.products import Product

        with db.session() as session:
            rows = session.execute(select(Product.id, Product.footprint, Product.incidence, Product.emission,
                                          Product.start_time, Product.stop_time, Product.phase, Product.body,
                                          Product.mission, Product.instrument).order_by(Product.id)).all()
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.geoms = shapely.from_wkt([r[1] for r in rows])
        self.inc = np.array([np.nan if r[2] is None else r[2] for r in rows], dtype=float)
        self.emi = np.array([np.nan if r[3] is None else r[3] for r in rows], dtype=float)
        # seconds since 1970 (float64 keeps microseconds); unknown start: first, as in the index
        self.start = np.array([-np.inf if r[4] is None else r[4].timestamp() for r in rows])
        self.stop = np.array([np.nan if r[5] is None and r[4] is None else (r[5] or r[4]).timestamp() for r in rows])
        self.pha = np.array([np.nan if r[6] is None else r[6] for r in rows], dtype=float)
        self.body = np.array([r[7] for r in rows])
        self.mission = np.array([r[8].lower() for r in rows])
        self.instrument = np.array([r[9].lower() for r in rows])

    def _mask(self, q) -> np.ndarray:
        mask = np.ones(len(self.ids), dtype=bool)
        if q.min_incidence is not None:
            mask &= self.inc >= q.min_incidence
        if q.max_incidence is not None:
            mask &= self.inc <= q.max_incidence
        if q.max_emission is not None:
            mask &= self.emi <= q.max_emission
        if q.min_emission is not None:
            mask &= self.emi >= q.min_emission
        if q.min_phase is not None:
            mask &= self.pha >= q.min_phase
        if q.max_phase is not None:
            mask &= self.pha <= q.max_phase
        if q.start is not None:
            mask &= self.stop >= q.start.replace(tzinfo=dt.UTC).timestamp()
        if q.stop is not None:
            mask &= self.start <= q.stop.replace(tzinfo=dt.UTC).timestamp()
        if q.body is not None:
            mask &= self.body == q.body
        for column, wanted in (("mission", q.mission), ("instrument", q.instrument)):
            if wanted:  # the name or its first words ("LROC" is LROC NAC and LROC WAC)
                w = wanted.lower()
                values = getattr(self, column)
                mask &= (values == w) | np.char.startswith(values, w + " ")
        return mask

    def search_unregioned(self, q) -> tuple[int, list[int]]:
        """(total, the page's ids) of a search without a region: numpy masks over every product."""
        ordered = self._ordered(self._mask(q))
        return len(ordered), ordered[q.offset: q.offset + q.limit].tolist()

    def _ordered(self, hit: np.ndarray) -> np.ndarray:
        k = np.flatnonzero(hit)
        return self.ids[k[np.lexsort((self.ids[k], self.start[k]))]]

    def search(self, q, region, filters_first: bool = False) -> tuple[int, list[int], np.ndarray]:
        """(total, the page's ids, every matching id in order). ``filters_first``: test the
        footprints only of the products that pass the angle and time filters."""
        import shapely

        if filters_first:
            hit = self._mask(q)
            k = np.flatnonzero(hit)
            hit[k] = shapely.intersects(self.geoms[k], region.geometry)
        else:
            hit = shapely.intersects(self.geoms, region.geometry) & self._mask(q)
        ordered = self._ordered(hit)
        return len(ordered), ordered[q.offset: q.offset + q.limit].tolist(), ordered


def bench_search(n: int, workdir: pathlib.Path, repeats: int, database_url: str | None = None,
                 reuse: bool = False) -> None:
    from sqlalchemy import func, select

    from explore.platform import product_columns
    from explore.platform.db import Database
    from explore.platform.products import Product, make_demo_products, search_products

    url = database_url or f"sqlite:///{workdir / 'products.db'}"
    db = Database(url)
    db.migrate()
    with db.session() as session:
        existing = session.execute(select(func.count()).select_from(Product)).scalar_one()
    if reuse and existing == n:
        print("search index build s: (reused)")
    else:
        if existing:
            raise SystemExit(f"{url} already holds {existing} products; give an empty database or --reuse-index")
        t0 = time.perf_counter()
        with db.session() as session:
            make_demo_products(session, n, seed=42, batch_size=50_000)
        print(f"search index build s: {time.perf_counter() - t0:.1f}")
    print(f"search database: {db.engine.dialect.name}")
    print(f"search products: {n}")
    if db.engine.dialect.name == "postgresql":
        # what autovacuum does in time after a bulk load (index-only scans need the visibility map);
        # a test server may run without autovacuum
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE) products")
    with db.session() as session:  # the columns a server builds in the background once the index is large
        t0 = time.perf_counter()
        columns = product_columns.columns_for(session.connection(), build=True)
        print(f"search columns build s: {time.perf_counter() - t0:.1f}")
        print(f"search columns MB: {columns.nbytes / 1e6:.0f}")

    scan = _LinearScan(db)
    # the scan's million geometries are not the search's garbage: keep the collector from walking them
    # on every full collection (that would add pauses to whatever is timed next)
    gc.collect()
    gc.freeze()
    queries = _search_queries(repeats)
    # wall time, and the CPU time of this process (SQLite and the scan run in it; on a loaded machine
    # it is the steadier figure; a PostgreSQL server's work is not in it)
    wall: dict[str, list[float]] = {"indexed": [], "sql": [], "linear": [], "filtered": []}
    cpu: dict[str, list[float]] = {"indexed": [], "sql": [], "linear": [], "filtered": []}

    def timed(name, call):
        t0, c0 = time.perf_counter(), time.process_time()
        out = call()
        wall[name].append((time.perf_counter() - t0) * 1e3)
        cpu[name].append((time.process_time() - c0) * 1e3)
        return out

    # one pass per method (a scan walks a gigabyte of geometries and would leave the next search
    # with cold CPU caches), then the answers are compared
    with db.session() as session:
        for q in _search_queries(3, seed=4)[:3]:  # warm up on other boxes than those measured
            search_products(session, q)
        results = [timed("indexed", lambda q=q: search_products(session, q)) for q in queries]
        in_sql = [timed("sql", lambda q=q: search_products(session, q, columns=False)) for q in queries]
        regions = [q.region() for q in queries]
        scans = [timed("linear", lambda q=q, r=r: scan.search(q, r)) for q, r in zip(queries, regions, strict=True)]
        firsts = [timed("filtered", lambda q=q, r=r: scan.search(q, r, filters_first=True))
                  for q, r in zip(queries, regions, strict=True)]
        for q, result, sql, (total, page, ordered), (total_f, page_f, _) in zip(queries, results, in_sql, scans,
                                                                              firsts, strict=True):
            # the same answer: total, page, and every matching id in the same order
            assert result.total == sql.total == total == total_f, (result.total, total, total_f, q)
            assert [p.id for p in result.items] == [p.id for p in sql.items] == page == page_f, q
            everything = search_products(session, dataclasses.replace(q, limit=10_000))
            assert [p.id for p in everything.items] == ordered.tolist(), q
            everything = search_products(session, dataclasses.replace(q, limit=10_000), columns=False)
            assert [p.id for p in everything.items] == ordered.tolist(), q
    totals = [r.total for r in results]
    med = {k: statistics.median(v) for k, v in wall.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(f"search queries: {len(queries)} (20x20 deg boxes, one across 180 deg, one around the south pole; "
          "page of 100)")
    print("search results identical to the linear scan: yes (totals, pages and every matching id)")
    print(f"search matches median: {int(statistics.median(totals))}")
    print(f"search indexed (product columns in memory) median ms: {med['indexed']:.1f}")
    print(f"search indexed p95 ms: {_pctl(wall['indexed'], 95):.1f}")
    print(f"search indexed max ms: {max(wall['indexed']):.1f}")
    print(f"search linear scan (shapely on every footprint, in memory) median ms: {med['linear']:.1f}")
    print(f"search linear scan p95 ms: {_pctl(wall['linear'], 95):.1f}")
    print(f"search speedup vs linear scan (median / median): {med['linear'] / med['indexed']:.1f}")
    print(f"search indexed CPU median ms: {cpu_med['indexed']:.1f}")
    print(f"search in SQL only (spatial index + shapely) median ms: {med['sql']:.1f}, p95 ms {_pctl(wall['sql'], 95):.1f}, "
          f"speedup vs linear scan {med['linear'] / med['sql']:.1f}")
    print(f"search linear scan CPU median ms: {cpu_med['linear']:.1f}")
    print(f"search speedup vs linear scan, CPU time: {cpu_med['linear'] / cpu_med['indexed']:.1f}")
    print(f"search linear scan, angle and time filters first, median ms: {med['filtered']:.1f}")
    print(f"search speedup vs the filters-first scan: {med['filtered'] / med['indexed']:.1f}")
    bench_unregioned(db, scan, repeats=max(5, repeats // 2))
    bench_sorted(db)
    bench_large_regions(db)
    gc.unfreeze()
    db.dispose()


def bench_unregioned(db, scan: _LinearScan, repeats: int) -> None:
    """Searches without a region: median and p95 of ``repeats`` runs each (a page of 100 and the
    count up to 10,000), against numpy masks over every product in memory; the page and the
    total (or "more than 10,000") must equal the scan's."""
    from explore.platform.products import search_products

    with db.session() as session:
        for name, q in _unregioned_queries().items():
            search_products(session, q)  # warm
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                result = search_products(session, q)
                times.append((time.perf_counter() - t0) * 1e3)
            scan_times = []
            for _ in range(3):
                t0 = time.perf_counter()
                total, page = scan.search_unregioned(q)
                scan_times.append((time.perf_counter() - t0) * 1e3)
            assert [p.id for p in result.items] == page, name
            assert (result.total, result.total_exact) == ((total, True) if total <= q.count_limit
                                                          else (q.count_limit, False)), (name, result.total, total)
            shown = f"{result.total}" if result.total_exact else f"{result.total}+"
            print(f"search without region, {name}: median ms {statistics.median(times):.1f}, "
                  f"p95 ms {_pctl(times, 95):.1f}, matches {shown} (scan: {total}, "
                  f"numpy masks median ms {statistics.median(scan_times):.1f})")
            sys.stdout.flush()


def _columns_against_sql(session, name: str, q, runs: int = 3, sql_runs: int = 3) -> tuple[float, float, float, int]:
    """One search on the columns in memory (a first run, then ``runs`` more) and in SQL alone
    (``sql_runs``): (first s, median s, SQL median s, total), the same total and page asserted."""
    from explore.platform.products import search_products

    def timed(**kwargs):
        t0 = time.perf_counter()
        result = search_products(session, q, **kwargs)
        return time.perf_counter() - t0, result

    first, result = timed()
    times = [timed()[0] for _ in range(runs)]
    sql_times, sql = zip(*(timed(columns=False) for _ in range(sql_runs)), strict=True)
    answer = (result.total, result.total_exact, [p.id for p in result.items])
    assert answer == (sql[0].total, sql[0].total_exact, [p.id for p in sql[0].items]), name
    return first, statistics.median(times), statistics.median(sql_times), result.total


def bench_sorted(db) -> None:
    """Searches without a region in an order no index gives (SQL sorts every match; the columns
    rank them): the columns against SQL, the same page asserted. The first search in a new order
    reads the ranks once; its time is shown apart."""
    from explore.platform.products import ProductQuery

    searches = {"everything by product id": ProductQuery(body="moon", sort="product_id"),
                "angles by -incidence": ProductQuery(min_incidence=80.0, max_emission=5.0, sort="-incidence"),
                "a set by -resolution": ProductQuery(instrument="LROC NAC", sort="-resolution")}
    with db.session() as session:
        for name, q in searches.items():
            first, median, sql, _ = _columns_against_sql(session, name, q)
            print(f"search without region sorted, {name}: columns median ms {median * 1e3:.1f} "
                  f"(first in this order {first * 1e3:.0f}), SQL median ms {sql * 1e3:.1f}")
            sys.stdout.flush()


def bench_large_regions(db) -> None:
    """Regions with tens of thousands of matches up to the whole Moon (every match counted): the
    columns (median of 3) against SQL (once: seconds), the same total and page asserted."""
    from explore.platform.products import ProductQuery

    searches = {
        "the whole Moon": ProductQuery(bbox=(-180.0, -90.0, 180.0, 90.0)),
        "60 x 60 deg, incidence >= 60": ProductQuery(bbox=(-30.0, -30.0, 30.0, 30.0), min_incidence=60.0),
        "south of 60 S, LROC NAC": ProductQuery(polygon="POLYGON ((0 -60, 90 -60, 180 -60, 270 -60, 0 -60))",
                                                instrument="LROC NAC"),
        "120 x 120 deg polygon, two years": ProductQuery(
            polygon="POLYGON ((-60 -60, 60 -60, 60 60, 0 65, -60 60, -60 -60))",
            start=dt.datetime(2011, 1, 1), stop=dt.datetime(2012, 12, 31)),
    }
    with db.session() as session:
        for name, q in searches.items():
            _, median, sql, total = _columns_against_sql(session, name, q, sql_runs=1)
            print(f"search large region, {name} ({total} matches): columns median ms {median * 1e3:.1f}, "
                  f"SQL ms {sql * 1e3:.0f}")
            sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 products and fewer tiles")
    parser.add_argument("--products", type=int, default=None, help="number of synthetic products")
    parser.add_argument("--skip-tiles", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--database-url", default=None,
                        help="search on this database (e.g. PostgreSQL) instead of a new SQLite file")
    parser.add_argument("--reuse-index", action="store_true",
                        help="use the products already in --database-url if there are exactly --products of them")
    args = parser.parse_args(argv)
    n = args.products or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="explore-bench-") as tmp:
        work = pathlib.Path(tmp)
        if not args.skip_tiles:
            bench_tiles(work / "var", args.quick)
        if not args.skip_search:
            bench_search(n, work, repeats=5 if args.quick else 20, database_url=args.database_url,
                         reuse=args.reuse_index)


if __name__ == "__main__":
    main()
