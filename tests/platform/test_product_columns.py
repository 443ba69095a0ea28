"""The product columns held in memory: the same answers as SQL, and never stale.

On SQLite and (when configured) PostgreSQL. ``test_products.py`` runs its searches on both paths
too; here: many random searches, odd footprints, and the generation counter that keeps the columns
current across sessions, transactions and processes.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import numpy as np
import pytest
import shapely
from sqlalchemy import select, text

from explore.platform import product_columns
from explore.platform.db import Database
from explore.platform.products import Product, ProductQuery, make_demo_products, search_products


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    yield database
    product_columns.forget(database.engine)
    database.dispose()


def _odd_rows(seed: int = 3) -> list[dict]:
    """Products the demo has few or none of: split at 180 deg, with a hole, around a pole, no
    footprint, unknown times and angles, a box but no footprint."""
    rows = make_demo_products(None, 8, seed=seed)
    shapes = [
        ("MULTIPOLYGON (((175 1, 180 1, 180 4, 175 4, 175 1)), ((-180 1, -176 1, -176 4, -180 4, -180 1)))",
         (175.0, 184.0, 1.0, 4.0)),
        ("POLYGON ((10 10, 20 10, 20 20, 10 20, 10 10), (12 12, 18 12, 18 18, 12 18, 12 12))", (10.0, 20.0, 10.0, 20.0)),
        ("POLYGON ((-180 -90, 180 -90, 180 -84, -180 -84, -180 -90))", (-180.0, 180.0, -90.0, -84.0)),
        (None, (None, None, None, None)),
        ("POLYGON ((30 -5, 31 -5, 31 -4, 30 -4, 30 -5))", (30.0, 31.0, -5.0, -4.0)),
        (None, (40.0, 41.0, 0.0, 1.0)),  # a box and no footprint: matches no region
        ("POLYGON Z ((50 5 0, 51 5 0, 51 6 0, 50 6 0, 50 5 0))", (50.0, 51.0, 5.0, 6.0)),
        ("POLYGON ((60 -60, 61.5 -60, 61.5 -58.5, 60 -58.5, 60 -60))", (60.0, 61.5, -60.0, -58.5)),
    ]
    for k, (row, (wkt, box)) in enumerate(zip(rows, shapes, strict=True)):
        row["footprint"], row["footprint_polar"], row["pole"] = wkt, None, None
        row["lon_min"], row["lon_max"], row["lat_min"], row["lat_max"] = box
        row["product_id"] = f"ODD_{k}"
        if k in (2, 4):
            row["start_time"] = None
        if k == 4:
            row["stop_time"] = dt.datetime(2011, 6, 1, tzinfo=dt.UTC)
        if k in (1, 7):
            row["incidence"] = row["emission"] = None
    return rows


@pytest.fixture
def products(db):
    with db.session() as s:
        make_demo_products(s, 2500, seed=21)
        for row in _odd_rows():
            s.add(Product(**row))
    return db


def _random_query(rng: np.random.Generator) -> ProductQuery:
    kind = rng.integers(6)
    q = ProductQuery(limit=int(rng.choice([1, 7, 100, 10_000])), offset=int(rng.choice([0, 0, 3, 50])))
    w, s = float(rng.uniform(-180, 180)), float(rng.uniform(-90, 80))
    width, height = float(rng.choice([0.5, 5, 20, 90, 200, 360])), float(rng.choice([0.5, 5, 20, 60]))
    if kind <= 1:
        east = w + width
        q.bbox = ((-180.0, s, 180.0, min(90.0, s + height)) if width >= 360 else
                  (w, s, east - 360.0 if east > 180.0 else east, min(90.0, s + height)))
    elif kind == 2:  # a triangle
        q.polygon = f"POLYGON (({w} {s}, {w + width / 3} {s}, {w + width / 6} {min(90, s + height)}, {w} {s}))"
    elif kind == 3:  # a cap around a pole
        lat = float(rng.uniform(50, 88)) * (1 if rng.random() < 0.5 else -1)
        q.polygon = f"POLYGON ((0 {lat}, 90 {lat}, 180 {lat}, 270 {lat}, 0 {lat}))"
    elif kind == 4:  # a square in polar stereographic metres
        r = float(rng.uniform(50_000, 600_000))
        q.polygon, q.polygon_crs = (f"POLYGON ((-{r} -{r}, {r} -{r}, {r} {r}, -{r} {r}, -{r} -{r}))",
                                    str(rng.choice(["south_polar", "north_polar"])))
    # kind 5: no region
    for name in ("incidence", "emission", "phase"):
        if rng.random() < 0.3:
            lo = float(rng.uniform(0, 60))
            setattr(q, f"min_{name}", lo)
            if rng.random() < 0.5:
                setattr(q, f"max_{name}", lo + float(rng.uniform(1, 40)))
    if rng.random() < 0.4:
        start = dt.datetime(int(rng.integers(1994, 2025)), int(rng.integers(1, 13)), 1)
        q.start = start
        if rng.random() < 0.7:
            q.stop = start + dt.timedelta(days=float(rng.uniform(1, 2000)))
    elif rng.random() < 0.2:
        q.stop = dt.datetime(int(rng.integers(1995, 2024)), 1, 1)
    if rng.random() < 0.3:
        q.instrument = str(rng.choice(["LROC", "LROC NAC", "M3", "HIRES, uvvis", "TC", "nothing"]))
    if rng.random() < 0.15:
        q.mission = str(rng.choice(["LRO", "Clementine", "kaguya"]))
    if rng.random() < 0.1:
        q.body = str(rng.choice(["moon", "mars"]))
    q.sort = str(rng.choice(["start_time", "-start_time", "id", "-incidence", "product_id", "-phase", "stop_time",
                             "resolution", "-mission"]))
    q.count_limit = int(rng.choice([10_000, 30])) if rng.random() < 0.8 else None
    return q


def _answer(result) -> tuple:
    return result.total, result.total_exact, [p.id for p in result.items]


def test_random_searches_give_the_answers_of_sql(products):
    """300 random searches (boxes, across 180 deg, triangles, polar caps, polar squares, none;
    angles, times, names, sorts, pages, count limits): the same total and page on both paths."""
    rng = np.random.default_rng(12)
    used = 0
    with products.session() as s:
        for _ in range(300):
            q = _random_query(rng)
            sql = _answer(search_products(s, q, columns=False))
            mem = _answer(search_products(s, q, columns=True))
            assert mem == sql, q
            used += sql[0] > 0
    assert used > 120  # nearly half the searches find something: the comparison is not of empty pages


def test_footprints_are_read_exactly(products):
    """The ragged arrays hold every footprint as shapely reads its WKT (multi-part, holes, Z)."""
    with products.session() as s:
        columns = product_columns.columns_for(s.connection(), build=True)
        rows = s.execute(select(Product.id, Product.footprint).order_by(Product.id)).all()
    assert columns.ids.tolist() == [r[0] for r in rows]
    with_footprint = [k for k, r in enumerate(rows) if r[1] is not None]
    assert columns.has_footprint.sum() == len(with_footprint) == len(rows) - 2
    rebuilt = columns._geometries(columns.geometry[with_footprint])
    expected = shapely.force_2d(shapely.from_wkt([rows[k][1] for k in with_footprint]))
    assert shapely.equals(rebuilt, expected).all()
    assert np.array_equal(np.sort(shapely.get_coordinates(rebuilt), axis=0),
                          np.sort(shapely.get_coordinates(expected), axis=0))
    holed = with_footprint.index(len(rows) - 7)  # ODD_1: the footprint with a hole
    assert shapely.get_num_interior_rings(shapely.get_geometry(rebuilt[holed], 0)) == 1
    split = with_footprint.index(len(rows) - 8)  # ODD_0: two parts, either side of 180 deg
    assert shapely.get_num_geometries(rebuilt[split]) == 2


def test_writes_make_the_columns_stale(products):
    """A write in another session, in this session (not yet committed) or rolled back and replaced:
    the columns built before are never used for the new state."""
    q = ProductQuery(bbox=(100, 50, 110, 60), limit=10_000)
    with products.session() as s:
        before = product_columns.columns_for(s.connection(), build=True)
        assert before is not None
        first = _answer(search_products(s, q))
    row = _odd_rows(seed=9)[4]
    row.update(product_id="NEW", footprint="POLYGON ((105 55, 106 55, 106 56, 105 56, 105 55))",
               lon_min=105.0, lon_max=106.0, lat_min=55.0, lat_max=56.0)
    with products.session() as s:
        s.add(Product(**row))
        s.flush()
        # this session sees its own insert: the columns are stale for it, SQL answers
        assert product_columns.columns_for(s.connection(), build=False) is None
        assert _answer(search_products(s, q))[0] == first[0] + 1
        # columns built now hold the insert, for this transaction only: they are not kept
        mine = product_columns.columns_for(s.connection(), build=True)
        assert mine.size == before.size + 1
        assert _answer(search_products(s, q, columns=True))[0] == first[0] + 1
        s.rollback()
        assert product_columns.columns_for(s.connection(), build=False) is before
        s.add(Product(**row))
    with products.session() as s:  # committed by the block before: every session sees it
        assert product_columns.columns_for(s.connection(), build=False) is None
        answer = _answer(search_products(s, q, columns=True))
        assert answer[0] == first[0] + 1 and answer == _answer(search_products(s, q, columns=False))
        new = s.scalars(select(Product).where(Product.product_id == "NEW")).one()
        new.incidence = 89.5  # an update is a write too
        s.flush()
        assert product_columns.columns_for(s.connection(), build=False) is None
        s.delete(new)
    with products.session() as s:
        assert _answer(search_products(s, q, columns=True)) == first


def test_a_write_by_another_process_is_seen(products):
    q = ProductQuery(bbox=(-40, -40, 40, 40), min_incidence=10, limit=10_000)
    with products.session() as s:
        before = _answer(search_products(s, q, columns=True))
    code = """
import sys
from sqlalchemy import text
from explore.platform.db import Database
db = Database(sys.argv[1])
with db.engine.begin() as c:
    c.execute(text("DELETE FROM products WHERE id IN (SELECT id FROM products WHERE lon_min > -30 AND lon_max < 30 "
                   "AND lat_min > -30 AND lat_max < 30 AND incidence > 10 ORDER BY id LIMIT 5)"))
"""
    subprocess.run([sys.executable, "-c", code, products.url], check=True, timeout=120)
    with products.session() as s:
        assert product_columns.columns_for(s.connection(), build=False) is None
        after = _answer(search_products(s, q))
        assert after[0] == before[0] - 5
        assert after == _answer(search_products(s, q, columns=True))


def test_large_indexes_build_the_columns_in_the_background(products):
    """Above the configured size the first region search answers in SQL and starts a build; the
    searches after it use the columns. Configured 0: never built."""
    q = ProductQuery(bbox=(0, 0, 60, 60), max_emission=20)
    product_columns.configure(products.engine, 0)
    with products.session() as s:
        expected = _answer(search_products(s, q))
        assert product_columns.columns_for(s.connection()) is None
    product_columns.configure(products.engine, 1000)
    with products.session() as s:
        assert _answer(search_products(s, q)) == expected  # in SQL, and a build starts
    deadline = time.monotonic() + 60
    while True:
        with products.session() as s:
            if product_columns.columns_for(s.connection(), build=False) is not None:
                break
        assert time.monotonic() < deadline, "the columns were not built within a minute"
        time.sleep(0.05)
    with products.session() as s:
        columns = product_columns.columns_for(s.connection(), build=False)
        assert columns.size == 2508 and columns.nbytes > 0
        calls = []
        original = columns.search
        columns.search = lambda *a, **k: calls.append(1) or original(*a, **k)  # type: ignore[method-assign]
        assert _answer(search_products(s, q)) == expected
        assert calls == [1]
        # searches without a region in an indexed order stay in SQL; other orders use the columns
        search_products(s, ProductQuery(instrument="LROC"))
        assert calls == [1]
        search_products(s, ProductQuery(instrument="LROC", sort="-product_id"))
        assert calls == [1, 1]
        del columns.search


def test_the_generation_table_and_its_triggers(products):
    """Every writing transaction moves the counter (SQLite: every row); its own reads see the new
    value at once; a rolled-back one leaves it as it was."""
    def generation(s):
        return product_columns.read_generation(s.connection())

    with products.session() as s:
        g0 = generation(s)
        s.execute(text("UPDATE products SET resolution = 1 WHERE id IN (1, 2, 3)"))
        g1 = generation(s)
        assert g1 > g0
    with products.session() as s:
        assert generation(s) == g1
        s.execute(text("DELETE FROM products WHERE id = 4"))
        s.execute(text("DELETE FROM products WHERE id = 5"))
        g2 = generation(s)
    assert g2 > g1 and isinstance(g0, int) and g0 > 0
    with products.session() as s:
        s.execute(text("DELETE FROM products WHERE id = 6"))
        assert generation(s) > g2
        s.rollback()
        assert generation(s) == g2


def test_search_answers_without_columns_on_a_database_without_the_counter(db):
    """A database without the counter (a migration not run): no columns, never an error."""
    with db.engine.begin() as connection:
        product_columns.drop_generation(connection)
        assert product_columns.read_generation(connection) is None
    with db.session() as s:
        make_demo_products(s, 50, seed=2)
    q = ProductQuery(bbox=(-90, -60, 90, 60), limit=1000)
    with db.session() as s:
        expected = _answer(search_products(s, q, columns=False))
        assert expected[0] > 0
        assert _answer(search_products(s, q)) == _answer(search_products(s, q, columns=True)) == expected
        assert product_columns.columns_for(s.connection(), build=True) is None
