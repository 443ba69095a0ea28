"""The product index: search against a brute-force answer, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib
import sys

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, text

from explore.planetary.footprints import region_from_bbox, region_from_wkt
from explore.platform import product_columns
from explore.platform.db import Database
from explore.platform.products import (
    Product,
    ProductQuery,
    SearchError,
    harvest_ode,
    index_labels,
    index_ode_answer,
    make_demo_index,
    make_demo_products,
    product_facets,
    search_products,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "planetary"))
from ode_server import IIPT, answer, moon_product, ode_server  # noqa: E402


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture(params=["sql", "columns"])
def search(request, monkeypatch):
    """``search_products`` in SQL, or on the product columns held in memory (built at once, at the
    generation the session sees: after any write in the test they are built again)."""
    columns = request.param == "columns"
    answered = []
    original = product_columns.ProductColumns.search

    def spy(self, *args, **kwargs):
        answered.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(product_columns.ProductColumns, "search", spy)

    def run(session, q):
        before = len(answered)
        result = search_products(session, q, columns=columns)
        assert len(answered) == before + columns  # the path asked for answered
        return result

    return run


@pytest.fixture
def demo(db):
    with db.session() as s:
        assert make_demo_products(s, 1500, seed=7) == 1500
    return db


def _name_matches(value: str, wanted: str | None) -> bool:
    """``LROC`` matches ``LROC NAC``; ``a,b`` is either; case does not matter."""
    if not wanted:
        return True
    return any(value.lower() == w.strip().lower() or value.lower().startswith(w.strip().lower() + " ")
               for w in wanted.split(",") if w.strip())


def brute_force(session, q: ProductQuery) -> list[int]:
    """The answer by a linear scan: every product, every filter, shapely on every footprint."""
    region = q.region()
    out = []
    for p in session.scalars(select(Product).order_by(Product.id)):
        if q.body and p.body != q.body:
            continue
        if not all(_name_matches(v, w) for v, w in ((p.mission, q.mission), (p.instrument, q.instrument),
                                                     (p.product_type, q.product_type))):
            continue
        checks = [(p.incidence, q.min_incidence, q.max_incidence), (p.emission, q.min_emission, q.max_emission),
                  (p.phase, q.min_phase, q.max_phase)]
        if any((lo is not None or hi is not None) and v is None for v, lo, hi in checks):
            continue
        if any((lo is not None and v < lo) or (hi is not None and v > hi) for v, lo, hi in checks):
            continue
        end = p.stop_time or p.start_time  # unknown times match no time filter
        if q.start and (end is None or end < q.start.replace(tzinfo=dt.UTC)):
            continue
        if q.stop and (p.start_time is None or p.start_time > q.stop.replace(tzinfo=dt.UTC)):
            continue
        if region is not None and (p.footprint is None or not shapely.from_wkt(p.footprint).intersects(region.geometry)):
            continue
        out.append(p.id)
    return out


QUERIES = [
    ProductQuery(body="moon", bbox=(-20, -20, 20, 20)),
    ProductQuery(bbox=(170, -30, -170, 30), min_incidence=30, max_incidence=70),                # across 180 deg
    ProductQuery(bbox=(160, -60, 200, 60), instrument="LROC"),                                   # 0..360 style
    ProductQuery(polygon="POLYGON ((0 -75, 90 -75, 180 -75, 270 -75, 0 -75))"),                 # around the south pole
    ProductQuery(polygon="POLYGON ((-200000 -200000, 200000 -200000, 200000 200000, -200000 200000, -200000 -200000))",
                 polygon_crs="north_polar", max_emission=10),
    ProductQuery(bbox=(-60, -10, 60, 40), start=dt.datetime(2009, 1, 1), stop=dt.datetime(2012, 12, 31), min_phase=20),
    ProductQuery(polygon="POLYGON ((175 -5, -175 -5, -175 5, 175 5, 175 -5))"),
    # every angle bound, a time window and two instruments at once
    ProductQuery(bbox=(-90, -60, 90, 60), min_emission=1, max_emission=15, min_incidence=20, max_incidence=75,
                 min_phase=10, max_phase=80, start=dt.datetime(2009, 6, 1), stop=dt.datetime(2016, 1, 1),
                 instrument="LROC NAC, M3", mission="lro,chandrayaan-1"),
    ProductQuery(bbox=(-180, -90, 180, -60), max_incidence=60, product_type="edrnac"),              # a polar band
    ProductQuery(polygon="POLYGON ((-30 -30, 40 -20, 10 35, -30 -30))", min_phase=30, stop=dt.datetime(2012, 1, 1)),
]


@pytest.mark.parametrize("k", range(len(QUERIES)))
def test_search_equals_the_brute_force_answer(demo, k, search):
    q = QUERIES[k]
    q.limit, q.sort = 10_000, "id"
    with demo.session() as s:
        result = search(s, q)
        expected = brute_force(s, q)
    assert result.total == len(expected) > 0
    assert [p.id for p in result.items] == expected


def test_antimeridian_product_is_found_from_both_sides(demo, search):
    with demo.session() as s:
        crossing = s.scalars(select(Product).where(Product.lon_max > 180.0, Product.lon_max - Product.lon_min < 300)).first()
        assert crossing is not None
        lat = (crossing.lat_min + crossing.lat_max) / 2
        east = search(s, ProductQuery(bbox=(-179.99, lat - 0.01, crossing.lon_max - 360.0, lat + 0.01), limit=10_000))
        west = search(s, ProductQuery(bbox=(crossing.lon_min, lat - 0.01, 179.99, lat + 0.01), limit=10_000))
        assert crossing.id in {p.id for p in east.items} and crossing.id in {p.id for p in west.items}


def test_paging_sorting_and_filters(demo, search):
    with demo.session() as s:
        first = search(s, ProductQuery(body="moon", sort="-incidence", limit=5))
        second = search(s, ProductQuery(body="moon", sort="-incidence", limit=5, offset=5))
        assert first.total == 1500
        inc = [p.incidence for p in first.items + second.items]
        assert inc == sorted(inc, reverse=True)
        nac = search(s, ProductQuery(instrument="lroc nac", limit=1))
        count = s.execute(select(func.count()).select_from(Product).where(Product.instrument == "LROC NAC")).scalar_one()
        assert nac.total == count
        facets = {(f["mission"], f["instrument"]): f["count"] for f in product_facets(s, "moon")}
        assert facets[("LRO", "LROC NAC")] == count and sum(facets.values()) == 1500


@pytest.mark.parametrize("query,message", [
    (ProductQuery(bbox=(10, 0, 10, 5)), "zero area"),
    (ProductQuery(polygon="POLYGON ((0 0, 1 1, 2 2, 0 0))"), "zero area"),
    (ProductQuery(min_incidence=80, max_incidence=10), "above max"),
    (ProductQuery(sort="colour"), "cannot sort by 'colour'"),
    (ProductQuery(start=dt.datetime(2012, 1, 1), stop=dt.datetime(2011, 1, 1)), "after stop"),
    (ProductQuery(limit=0), "limit"),
    (ProductQuery(bbox=(0, 0, 1, 1), polygon="POLYGON ((0 0, 1 0, 1 1, 0 0))"), "not both"),
])
def test_bad_searches_are_clear_errors(db, query, message):
    with db.session() as s, pytest.raises(SearchError, match=message):
        search_products(s, query)


def test_spatial_index_is_kept_in_step(db):
    with db.session() as s:
        make_demo_products(s, 50, seed=3)
    with db.session() as s:
        victim = s.scalars(select(Product).order_by(Product.id)).first()
        victim_id = victim.id
        # move it to the far side of the Moon and delete another
        victim.footprint = "POLYGON ((100 10, 101 10, 101 11, 100 11, 100 10))"
        victim.lon_min, victim.lon_max, victim.lat_min, victim.lat_max = 100.0, 101.0, 10.0, 11.0
    with db.session() as s:
        hits = search_products(s, ProductQuery(bbox=(100.2, 10.2, 100.4, 10.4)))
        assert victim_id in {p.id for p in hits.items}
        s.delete(s.get(Product, victim_id))
    with db.session() as s:
        assert search_products(s, ProductQuery(bbox=(100.2, 10.2, 100.4, 10.4))).total == 0


def test_real_labels_index_with_their_geometry(db, test_data):
    with db.session() as s:
        report = index_labels(s, test_data / "lunar" / "ale_labels")
        assert report.added == 4 and report.skipped == []
        hits = search_products(s, ProductQuery(polygon="POLYGON ((0 -80, 120 -80, 240 -80, 0 -80))", min_incidence=80))
        assert [p.product_id for p in hits.items] == ["TC1S2B0_01_06691S820E0465"]
        mi = search_products(s, ProductQuery(bbox=(356, -14.5, 358, -13), instrument="MI")).items[0]
        assert mi.incidence == 23.386 and mi.to_feature()["geometry"]["type"] == "Polygon"
        # indexing twice merges, it does not duplicate
        again = index_labels(s, test_data / "lunar" / "ale_labels")
        assert again.added == 0 and again.updated == 4


def test_all_real_labels_and_merging_of_one_observation(db, shared_data):
    with db.session() as s:
        report = index_labels(s, shared_data / "lunar" / "ale_labels")
        # 14 labels; M103595705LE comes as a cube, an ISIS label and a PDS3 label: one product
        assert report.added == 12 and report.updated == 2
        nac = search_products(s, ProductQuery(instrument="LROC NAC")).items[0]
        assert nac.product_type == "EDR" and len(nac.files) >= 3


def test_ode_answer_and_harvest(db, test_data):
    with db.session() as s:
        data = json.loads((test_data / "lunar" / "ode_samples" / "ode_mars_hirise_rdrv11_bbox_meridian.json").read_text())
        assert index_ode_answer(s, data, "mars").added == 6
        hits = search_products(s, ProductQuery(body="mars", bbox=(359.99, -0.3, 0.01, 0.3)))
        assert hits.total == 4  # the footprints that cover the prime meridian

    pages = [moon_product(k, 179.95 if k % 2 else 30.0, -20.0 + k, 10.0 + 3 * k) for k in range(23)]

    def route(params):
        if params.get("query") == "iipt":
            return 200, json.dumps(IIPT).encode()
        lo, n = int(params["offset"]), int(params["limit"])
        chunk = pages[lo: lo + n]
        return 200, answer(chunk[0] if len(chunk) == 1 else chunk)

    from explore.planetary.ode import OdeClient

    seen_progress = []
    with ode_server(route) as (url, seen), OdeClient(url, page_size=10) as client, db.session() as s:
        report = harvest_ode(s, client, "moon", progress=lambda n, total, label: seen_progress.append((n, label)))
        assert report.added == 23
        assert [r.get("query") for r in seen] == ["iipt", "product", "product", "product"]  # CLEM/LWIR has no footprints
        assert seen_progress[-1] == (23, "LRO/LROC/EDRNAC")
        across = search_products(s, ProductQuery(bbox=(-179.99, -30, -179.9, 30), instrument="LROC NAC"))
        assert across.total == 11 and all(p.lon_max > 180 for p in across.items)


def test_demo_index_is_deterministic_and_realistic(db, test_data):
    rows_a = make_demo_products(None, 500, seed=11)
    rows_b = make_demo_products(None, 500, seed=11)
    assert [r["product_id"] for r in rows_a] == [r["product_id"] for r in rows_b]
    assert all(0 <= r["incidence"] <= 90 and abs(r["incidence"] - r["emission"]) - 2e-3 <= r["phase"] <= r["incidence"] + r["emission"] + 2e-3 for r in rows_a)
    clem = [r for r in rows_a if r["mission"] == "Clementine"]
    assert clem and all(dt.datetime(1994, 2, 19, tzinfo=dt.UTC) <= r["start_time"] <= dt.datetime(1994, 5, 4, tzinfo=dt.UTC) for r in clem)
    with db.session() as s:
        counts = make_demo_index(s, n=200, lunar_root=test_data / "lunar")
        assert counts == {"synthetic": 200, "from labels": 4, "from ODE answers": 6}
        again = make_demo_index(s, n=200, lunar_root=test_data / "lunar")
        assert again["synthetic"] == 200
        assert s.execute(select(func.count()).select_from(Product)).scalar_one() == 210


def test_sqlite_uses_the_rtree(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.migrate()
    with database.session() as s:
        make_demo_products(s, 100, seed=1)
        n = s.execute(text("SELECT count(*) FROM products_rtree")).scalar_one()
        assert n == 100
    database.dispose()


def test_region_objects_used_by_search():
    r = region_from_bbox(170, -10, -170, 10)
    assert r.is_box and (r.lon_min, r.lon_max) == (170.0, 190.0)
    assert region_from_wkt("POLYGON ((0 -80, 90 -80, 180 -80, 270 -80, 0 -80))").lat_min == -90.0
    assert np.isclose(r.geometry.area, 400.0)


def _alembic(db: Database, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from explore.platform.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _odd_products(session, seed: int = 5) -> None:
    """Products the demo does not have: unknown start time or incidence, and product ids that
    collations order differently (case, punctuation)."""
    rows = make_demo_products(None, 8, seed=seed)
    for k, row in enumerate(rows):
        row["instrument"] = "ODD"
        row["product_id"] = ["b_2", "B-1", "a", "A_3", "ab", "Ab", "a-b", "a b"][k]
        if k % 3 == 0:
            row["start_time"] = row["stop_time"] = None
        if k % 2 == 0:
            row["incidence"] = None
        # all in one place, inside the region below
        row["footprint"] = f"POLYGON (({k} 1, {k + 0.5} 1, {k + 0.5} 1.5, {k} 1.5, {k} 1))"
        row["lon_min"], row["lon_max"], row["lat_min"], row["lat_max"] = k, k + 0.5, 1.0, 1.5
        row["pole"] = row["footprint_polar"] = None
        session.add(Product(**row))
    session.flush()


def _expected_order(products, key: str) -> list[int]:
    """Unknown values are the smallest; ties by id; descending reverses both."""
    name = key.lstrip("-")
    ordered = sorted(products, key=lambda p: (getattr(p, name) is not None, getattr(p, name) or 0, p.id)
                     if name != "product_id" else (p.product_id.encode(), p.id))
    ids = [p.id for p in ordered]
    return ids[::-1] if key.startswith("-") else ids


@pytest.mark.parametrize("key", ["start_time", "-start_time", "incidence", "-incidence", "product_id", "-product_id"])
@pytest.mark.parametrize("with_region", [False, True])
def test_sort_order_is_the_same_on_every_database(db, key, with_region, search):
    """Unknown values first (last when descending), names by their bytes: SQLite and PostgreSQL
    (whatever its collation) give the same order, with and without a region."""
    with db.session() as s:
        if s.get_bind().dialect.name == "postgresql" and s.execute(
                text("SELECT count(*) FROM pg_collation WHERE collname = 'en-x-icu'")).scalar_one():
            # a linguistic collation orders "a b", "A_3", "ab", "Ab" differently from bytes
            s.execute(text('ALTER TABLE products ALTER COLUMN product_id TYPE varchar(200) COLLATE "en-x-icu"'))
        _odd_products(s)
        odd = list(s.scalars(select(Product).where(Product.instrument == "ODD")))
        q = ProductQuery(instrument="odd", sort=key, limit=100, bbox=(-1, 0, 20, 5) if with_region else None)
        result = search(s, q)
        assert result.total == 8
        assert [p.id for p in result.items] == _expected_order(odd, key)
        # and the pages join up
        pages = [search(s, ProductQuery(instrument="odd", sort=key, limit=3, offset=o,
                                                 bbox=q.bbox)).items for o in (0, 3, 6)]
        assert [p.id for page in pages for p in page] == _expected_order(odd, key)


def test_name_filters_are_literal(demo, search):
    """``_`` and ``%`` in a name are characters, not wildcards."""
    with demo.session() as s:
        tc = s.scalars(select(Product).where(Product.product_type == "TC_s_Level2B0")).first()
        lookalike = s.scalars(select(Product).where(Product.instrument == "MI")).first()
        lookalike.product_type = "TCxsxLevel2B0"
        s.flush()
        found = {p.id for p in search(s, ProductQuery(product_type="TC_s_Level2B0", limit=10_000)).items}
        assert tc.id in found and lookalike.id not in found
        assert search(s, ProductQuery(product_type="TC%", limit=10)).total == 0


def test_search_items_describe_products_like_the_orm_rows(demo):
    with demo.session() as s:
        result = search_products(s, ProductQuery(bbox=(-40, -40, 40, 40), limit=20))
        assert result.items
        for item in result.items:
            row = s.get(Product, item.id)
            assert item.to_dict() == row.to_dict()
            assert item.to_feature() == row.to_feature()
        assert result.to_dict()["items"][0]["start_time"].endswith("+00:00")


def test_the_spatial_index_answers_region_time_and_angles(demo):
    """The search statement uses the spatial index for the region, the time range and the angles
    (on PostgreSQL the query must repeat the GiST index's expressions exactly)."""
    from explore.platform import products

    q = ProductQuery(bbox=(-20, -20, 20, 20), min_incidence=30, max_incidence=70, max_emission=20,
                     min_phase=5, start=dt.datetime(2010, 1, 1), stop=dt.datetime(2014, 1, 1))
    with demo.session() as s:
        connection = s.connection()
        dialect = connection.dialect.name
        shape, params = products._plan(q, q.region(), dialect)
        compiled = products._candidates_statement(shape).compile(connection)
        sql = str(compiled)
        if dialect == "postgresql":
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # 1500 rows: a scan would be cheaper
            plan = connection.exec_driver_sql("EXPLAIN " + sql, compiled.construct_params(params)).all()
            text_plan = "\n".join(r[0] for r in plan)
            assert products.PG_SPATIAL_INDEX in text_plan
            # the time / incidence and emission / phase boxes are index conditions, not heap filters
            assert text_plan.count("&&") >= 3 and "Index Cond" in text_plan
        else:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                              tuple(compiled.construct_params(params)[k] for k in compiled.positiontup))
            assert any("products_rtree VIRTUAL TABLE" in r[-1] for r in plan.all())
        assert search_products(s, q).total == len(brute_force(s, q)) > 0


def test_migration_0003_keeps_every_answer(database_url):
    """A database made at revision 0002, filled, then upgraded: same answers, the new indexes;
    and back down again."""
    db = Database(database_url)
    _alembic(db, "upgrade", "0002")
    with db.session() as s:
        make_demo_products(s, 400, seed=9)
    _alembic(db, "upgrade", "head")
    q = ProductQuery(bbox=(-60, -60, 60, 60), min_incidence=20, max_emission=15, start=dt.datetime(2009, 1, 1),
                     limit=10_000, sort="id")
    with db.session() as s:
        assert [p.id for p in search_products(s, q).items] == brute_force(s, q)
        if s.get_bind().dialect.name == "postgresql":
            indexes = dict(s.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'products' "
                                          "AND schemaname = current_schema()")).all())
            assert "ix_products_box" not in indexes and "ix_products_box_time_angles" in indexes
            assert "NULLS FIRST" in indexes["ix_products_start_time"] and "NULLS FIRST" in indexes["ix_products_incidence"]
    _alembic(db, "downgrade", "0002")
    with db.session() as s:
        if s.get_bind().dialect.name == "postgresql":
            names = set(s.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'products' "
                                       "AND schemaname = current_schema()")).scalars())
            assert "ix_products_box" in names and "ix_products_box_time_angles" not in names
        assert s.execute(select(func.count()).select_from(Product)).scalar_one() == 400
    db.dispose()


def test_a_bulk_load_leaves_planner_statistics(db):
    """Without statistics SQLite takes ``body = 'moon'`` for a selective filter and sorts every
    product for the first page of the default search."""
    with db.session() as s:
        make_demo_products(s, 300, seed=2)
        if s.get_bind().dialect.name == "sqlite":
            stats = dict(s.execute(text("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'products'")).all())
            assert stats["ix_products_body_instrument"].startswith("300 300")  # one body: not selective
            plan = s.execute(text("EXPLAIN QUERY PLAN SELECT id FROM products WHERE body = 'moon' "
                                  "ORDER BY start_time, id LIMIT 10")).all()
            assert any("ix_products_start_time" in row[-1] for row in plan)
        else:
            n = s.execute(text("SELECT count(*) FROM pg_stats WHERE tablename = 'products' "
                               "AND schemaname = current_schema()")).scalar_one()
            assert n > 0


# searches without a region: name, angle and time filters read from B-tree indexes, a bounded count
NO_REGION_QUERIES = [
    ProductQuery(instrument="LROC NAC", min_incidence=60, max_incidence=80, max_emission=10),
    ProductQuery(mission="clementine", min_phase=20, max_phase=60),                              # four sets
    ProductQuery(instrument="LROC", start=dt.datetime(2012, 1, 1), stop=dt.datetime(2014, 6, 30)),  # two sets
    ProductQuery(start=dt.datetime(2010, 3, 1), stop=dt.datetime(2010, 9, 1)),                     # a time window only
    ProductQuery(start=dt.datetime(2024, 6, 1)),                                                   # from a time on
    ProductQuery(stop=dt.datetime(1994, 3, 15), min_incidence=40),
    ProductQuery(body="moon", product_type="edr", min_emission=2, max_emission=8, min_incidence=10),
    ProductQuery(min_incidence=85),
    ProductQuery(instrument="M3, OHRC", mission="chandrayaan-1,chandrayaan-2", stop=dt.datetime(2009, 6, 1)),
    ProductQuery(body="moon"),
]


@pytest.mark.parametrize("sort", ["id", "start_time", "-incidence", "product_id", "-product_id"])
@pytest.mark.parametrize("k", range(len(NO_REGION_QUERIES)))
def test_search_without_a_region_equals_the_brute_force_answer(demo, k, sort, search):
    q = dataclasses.replace(NO_REGION_QUERIES[k], limit=10_000, sort=sort, count_limit=None)
    with demo.session() as s:
        result = search(s, q)
        expected = brute_force(s, q)
        everything = list(s.scalars(select(Product).where(Product.id.in_(expected))))
    assert result.total == len(expected) > 0 and result.total_exact
    assert [p.id for p in result.items] == _expected_order(everything, sort)
    # a middle page of several product sets merged, and a bounded count
    with demo.session() as s:
        page = search(s, dataclasses.replace(q, limit=7, offset=11, count_limit=20))
    assert [p.id for p in page.items] == _expected_order(everything, sort)[11:18]
    assert (page.total, page.total_exact) == ((len(expected), True) if len(expected) <= 20 else (20, False))


def test_the_count_stops_at_the_count_limit(demo, search):
    """Up to the limit the total is exact; beyond it, it is "more than the limit"."""
    with demo.session() as s:
        assert (lambda r: (r.total, r.total_exact))(search(s, ProductQuery(count_limit=None))) == (1500, True)
        assert (lambda r: (r.total, r.total_exact))(search(s, ProductQuery(count_limit=1500))) == (1500, True)
        broad = search(s, ProductQuery(body="moon", count_limit=1499, limit=10))
        assert (broad.total, broad.total_exact, len(broad.items)) == (1499, False, 10)
        nac = s.execute(select(func.count()).select_from(Product).where(Product.instrument.like("LROC %"))).scalar_one()
        # two product sets: the count goes on in the second set and stops there
        lroc = search(s, ProductQuery(instrument="lroc", count_limit=nac - 1, limit=1))
        assert (lroc.total, lroc.total_exact) == (nac - 1, False)
        assert search(s, ProductQuery(instrument="lroc", count_limit=nac)).total_exact
        assert search(s, ProductQuery(instrument="no such camera")).to_dict()["total_exact"]
        with pytest.raises(SearchError, match="count_limit"):
            search(s, ProductQuery(count_limit=-1))


def test_a_time_window_finds_long_observations_and_unknown_starts(demo, search):
    """The window is a range of start times from (start - the longest observation): a long map
    product that began long before the window is still found, and so is a product with a stop but
    no start time when there is no upper bound."""
    with demo.session() as s:
        long, open_start = s.scalars(select(Product).order_by(Product.id).limit(2)).all()
        long.start_time, long.stop_time = dt.datetime(2001, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        open_start.start_time, open_start.stop_time = None, dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        s.flush()
        for q in (ProductQuery(start=dt.datetime(2020, 1, 1), stop=dt.datetime(2020, 1, 2)),
                  ProductQuery(start=dt.datetime(2025, 1, 1)),
                  ProductQuery(instrument="LROC NAC, " + long.instrument, start=dt.datetime(2011, 5, 1),
                               stop=dt.datetime(2011, 5, 3))):
            q = dataclasses.replace(q, limit=10_000, sort="id")
            expected = brute_force(s, q)
            assert long.id in expected
            assert [p.id for p in search(s, q).items] == expected
        assert open_start.id in [p.id for p in search(s, ProductQuery(start=dt.datetime(2025, 1, 1),
                                                                               limit=10_000)).items]


def _plan_text(session, statement, params) -> str:
    connection = session.connection()
    compiled = statement.compile(connection)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # 1500 rows: a scan would be cheaper
        rows = connection.exec_driver_sql("EXPLAIN " + str(compiled), compiled.construct_params(params)).all()
        return "\n".join(r[0] for r in rows)
    values = compiled.construct_params(params)
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                      tuple(values[k] for k in compiled.positiontup)).all()
    return "\n".join(r[-1] for r in rows)


def test_searches_without_a_region_read_index_ranges(demo):
    """A product set + angles + time is a range of ix_products_set_time (count and page in
    start-time order, no sort); a time window alone is a range of a start-time index."""
    from explore.platform import products

    nac = ProductQuery(instrument="LROC NAC", min_incidence=60, max_emission=10, start=dt.datetime(2011, 1, 1),
                       stop=dt.datetime(2012, 1, 1))
    window = ProductQuery(start=dt.datetime(2011, 1, 1), stop=dt.datetime(2012, 1, 1))
    with demo.session() as s:
        connection = s.connection()
        dialect = connection.dialect.name
        floor = products._time_floor(connection, dt.datetime(2011, 1, 1, tzinfo=dt.UTC), True)
        assert dt.timedelta(0) < dt.datetime(2011, 1, 1, tzinfo=dt.UTC) - floor < dt.timedelta(minutes=10)
        shape, params = products._plan(nac, None, dialect)
        shape = dataclasses.replace(shape, names=(), in_set=True, time_floor=True)
        params.update(set_body="moon", set_mission="LRO", set_instrument="LROC NAC", set_product_type="EDRNAC",
                      start_floor=floor, cap=10_001, limit=100, offset=0)
        count, page, _ = products._page_statements(shape)
        for statement in (count, page):
            plan = _plan_text(s, statement, params)
            assert "ix_products_set_time" in plan, plan
            assert "TEMP B-TREE FOR ORDER BY" not in plan and "Sort Key: products.start_time" not in plan, plan
        shape, params = products._plan(window, None, dialect)
        shape = dataclasses.replace(shape, time_floor=True)
        params.update(start_floor=floor, cap=10_001, limit=100, offset=0)
        plan = _plan_text(s, products._page_statements(shape)[0], params)
        assert "ix_products_start_time" in plan, plan
        if dialect == "sqlite":  # a closed range: from the floor to the window's end
            assert "ix_products_start_time (start_time>? AND start_time<?)" in plan, plan
        else:
            assert "Index Cond: ((start_time >= " in plan and "AND (start_time <= " in plan, plan


def test_migration_0004_adds_and_removes_the_search_indexes(database_url):
    db = Database(database_url)
    _alembic(db, "upgrade", "0003")
    with db.session() as s:
        make_demo_products(s, 200, seed=11)
    _alembic(db, "upgrade", "head")

    def names(s):
        if s.get_bind().dialect.name == "postgresql":
            return set(s.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'products' "
                                      "AND schemaname = current_schema()")).scalars())
        return set(s.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())

    q = ProductQuery(instrument="lroc", min_incidence=30, start=dt.datetime(2009, 1, 1), stop=dt.datetime(2020, 1, 1),
                     limit=10_000, sort="id")
    with db.session() as s:
        assert {"ix_products_set_time", "ix_products_duration"} <= names(s)
        assert [p.id for p in search_products(s, q).items] == brute_force(s, q)
    _alembic(db, "downgrade", "0003")
    with db.session() as s:
        assert not {"ix_products_set_time", "ix_products_duration"} & names(s)
        assert [p.id for p in search_products(s, q).items] == brute_force(s, q)  # slower, same answer
    db.dispose()


def test_migration_0005_adds_and_removes_the_generation_counter(database_url):
    db = Database(database_url)
    _alembic(db, "upgrade", "0004")
    with db.session() as s:
        make_demo_products(s, 300, seed=12)
    _alembic(db, "upgrade", "head")
    q = ProductQuery(bbox=(-120, -50, 60, 50), min_incidence=20, limit=10_000)
    with db.session() as s:
        before = product_columns.read_generation(s.connection())
        assert before is not None
        answer = [p.id for p in search_products(s, q, columns=True).items]
        assert answer == [p.id for p in search_products(s, q, columns=False).items] and answer
        s.add(Product(**{**make_demo_products(None, 1, seed=13)[0], "product_id": "EXTRA"}))
        s.flush()
        assert product_columns.read_generation(s.connection()) > before
    _alembic(db, "downgrade", "0004")
    with db.session() as s:
        assert product_columns.read_generation(s.connection()) is None
        assert product_columns.columns_for(s.connection(), build=True) is None  # no counter: no columns
        assert len(search_products(s, q).items) >= len(answer)
    product_columns.forget(db.engine)
    db.dispose()
