"""The product index: search against a brute-force answer, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import sys

import numpy as np
import pytest
import shapely
from sqlalchemy import func, select, text

from explore.planetary.footprints import region_from_bbox, region_from_wkt
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


@pytest.fixture
def demo(db):
    with db.session() as s:
        assert make_demo_products(s, 1500, seed=7) == 1500
    return db


def brute_force(session, q: ProductQuery) -> list[int]:
    """The answer by a linear scan: every product, every filter, shapely on every footprint."""
    region = q.region()
    out = []
    for p in session.scalars(select(Product).order_by(Product.id)):
        if q.body and p.body != q.body:
            continue
        if q.instrument and not (p.instrument.lower() == q.instrument.lower() or p.instrument.lower().startswith(q.instrument.lower() + " ")):
            continue
        checks = [(p.incidence, q.min_incidence, q.max_incidence), (p.emission, q.min_emission, q.max_emission),
                  (p.phase, q.min_phase, q.max_phase)]
        if any((lo is not None or hi is not None) and v is None for v, lo, hi in checks):
            continue
        if any((lo is not None and v < lo) or (hi is not None and v > hi) for v, lo, hi in checks):
            continue
        if q.start and (p.stop_time or p.start_time) < q.start.replace(tzinfo=dt.UTC):
            continue
        if q.stop and p.start_time > q.stop.replace(tzinfo=dt.UTC):
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
]


@pytest.mark.parametrize("k", range(len(QUERIES)))
def test_search_equals_the_brute_force_answer(demo, k):
    q = QUERIES[k]
    q.limit, q.sort = 10_000, "id"
    with demo.session() as s:
        result = search_products(s, q)
        expected = brute_force(s, q)
    assert result.total == len(expected) > 0
    assert [p.id for p in result.items] == expected


def test_antimeridian_product_is_found_from_both_sides(demo):
    with demo.session() as s:
        crossing = s.scalars(select(Product).where(Product.lon_max > 180.0, Product.lon_max - Product.lon_min < 300)).first()
        assert crossing is not None
        lat = (crossing.lat_min + crossing.lat_max) / 2
        east = search_products(s, ProductQuery(bbox=(-179.99, lat - 0.01, crossing.lon_max - 360.0, lat + 0.01), limit=10_000))
        west = search_products(s, ProductQuery(bbox=(crossing.lon_min, lat - 0.01, 179.99, lat + 0.01), limit=10_000))
        assert crossing.id in {p.id for p in east.items} and crossing.id in {p.id for p in west.items}


def test_paging_sorting_and_filters(demo):
    with demo.session() as s:
        first = search_products(s, ProductQuery(body="moon", sort="-incidence", limit=5))
        second = search_products(s, ProductQuery(body="moon", sort="-incidence", limit=5, offset=5))
        assert first.total == 1500
        inc = [p.incidence for p in first.items + second.items]
        assert inc == sorted(inc, reverse=True)
        nac = search_products(s, ProductQuery(instrument="lroc nac", limit=1))
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
