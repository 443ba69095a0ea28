"""``GET /api/v1/products``: the same filters as the CLI, GeoJSON-ready footprints, clear 4xx errors."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from explore.platform.db import Database
from explore.platform.products import make_demo_index


class _Platform:
    def __init__(self, db):
        self.db = db
        self.settings = None


@pytest.fixture
def client(database_url, test_data):
    from explore.web.api import products
    from explore.web.deps import get_platform

    db = Database(database_url)
    db.migrate()
    with db.session() as s:
        make_demo_index(s, n=300, lunar_root=test_data / "lunar")
    app = FastAPI()
    app.include_router(products.router, prefix="/api/v1")
    stub = _Platform(db)
    app.dependency_overrides[get_platform] = lambda: stub
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    db.dispose()


def test_search_with_every_kind_of_filter(client):
    r = client.get("/api/v1/products", params={"body": "moon", "instrument": "TC", "min_incidence": 80,
                                               "bbox": "40,-85,50,-80", "start": "2009-01-01", "stop": "2009-12-31"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 1
    tc = [i for i in body["items"] if i["product_id"] == "TC1S2B0_01_06691S820E0465"]
    assert tc and tc[0]["incidence"] == 83.46
    assert tc[0]["footprint"]["type"] == "Polygon" and tc[0]["pole"] == "S"


def test_paging_sorting_and_geojson(client):
    page = client.get("/api/v1/products", params={"body": "moon", "limit": 7, "offset": 3, "sort": "-start_time"}).json()
    assert page["limit"] == 7 and page["offset"] == 3 and len(page["items"]) == 7
    times = [i["start_time"] for i in page["items"]]
    assert times == sorted(times, reverse=True)
    fc = client.get("/api/v1/products", params={"body": "mars", "format": "geojson"}).json()
    assert fc["type"] == "FeatureCollection" and fc["total"] == 6
    assert {f["geometry"]["type"] for f in fc["features"]} == {"Polygon"}


def test_across_180_and_around_the_pole(client):
    across = client.get("/api/v1/products", params={"bbox": "170,-60,-170,60", "limit": 1000}).json()
    assert across["total"] > 0
    for item in across["items"]:
        west, _, east, _ = item["bbox"]
        assert east >= 170 or west <= -170 or east > 180
    polar = client.get("/api/v1/products", params={"polygon": "POLYGON ((-100000 -100000, 100000 -100000, 100000 100000, -100000 100000, -100000 -100000))",
                                                   "polygon_crs": "south_polar"}).json()
    assert all(i["bbox"][1] < -85 for i in polar["items"])


def test_one_product_and_facets(client):
    first = client.get("/api/v1/products", params={"limit": 1}).json()["items"][0]
    one = client.get(f"/api/v1/products/{first['id']}")
    assert one.status_code == 200 and one.json()["product_id"] == first["product_id"]
    missing = client.get("/api/v1/products/987654321")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    facets = client.get("/api/v1/products/facets", params={"body": "moon"}).json()
    assert {"LRO", "Kaguya", "Clementine"} <= {f["mission"] for f in facets}


@pytest.mark.parametrize("params,status,word", [
    ({"bbox": "10,0,10,5"}, 422, "zero area"),
    ({"bbox": "1,2,3"}, 422, "four numbers"),
    ({"polygon": "POLYGON ((0 0, 1 1, 2 2, 0 0))"}, 422, "zero area"),
    ({"polygon": "not wkt"}, 422, "WKT"),
    ({"min_phase": 50, "max_phase": 10}, 422, "above max"),
    ({"sort": "magnitude"}, 422, "cannot sort"),
    ({"limit": 0}, 422, "limit"),
    ({"start": "yesterday"}, 422, "start"),
])
def test_bad_requests_are_4xx_json(client, params, status, word):
    r = client.get("/api/v1/products", params=params)
    assert r.status_code == status
    assert word in r.text


def test_the_total_says_whether_it_is_exact(client):
    """A search without a region counts up to count_limit (10,000 by default), then says "more"."""
    everything = client.get("/api/v1/products", params={"body": "moon", "limit": 5}).json()
    assert everything["total_exact"] is True and everything["total"] > 100
    capped = client.get("/api/v1/products", params={"body": "moon", "limit": 5, "count_limit": 100}).json()
    assert (capped["total"], capped["total_exact"]) == (100, False)
    assert [i["id"] for i in capped["items"]] == [i["id"] for i in everything["items"]]
    fc = client.get("/api/v1/products", params={"body": "moon", "count_limit": 100, "format": "geojson"}).json()
    assert (fc["total"], fc["total_exact"]) == (100, False)
    exact = client.get("/api/v1/products", params={"body": "moon", "count_limit": everything["total"]}).json()
    assert (exact["total"], exact["total_exact"]) == (everything["total"], True)
    assert client.get("/api/v1/products", params={"count_limit": -1}).status_code == 422
