"""The ODE REST client against a local server answering in ODE's exact JSON layout."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

from explore.planetary.ode import (
    OdeClient,
    OdeConnectionError,
    OdeQueryError,
    OdeResponseError,
    parse_products_answer,
)

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from ode_server import IIPT, answer, moon_product, ode_server  # noqa: E402


def test_real_hirise_answer(test_data):
    data = json.loads((test_data / "lunar" / "ode_samples" / "ode_mars_hirise_rdrv11_bbox_meridian.json").read_text())
    records, count = parse_products_answer(data, "mars")
    assert count == 6 and len(records) == 6
    r = records[0]
    assert (r.product_id, r.body, r.mission, r.instrument, r.product_type) == ("PSP_007361_1800_COLOR", "mars", "MRO", "HIRISE", "RDRV11")
    assert (r.emission, r.incidence, r.phase, r.resolution) == (0.172008, 44.12436, 43.954011, 0.5)
    # Westernmost/Easternmost_longitude say 359.97 / 0.044; the footprint is the truth
    assert r.footprint.lon_min == pytest.approx(-0.03) and r.footprint.lon_max == pytest.approx(0.044)
    assert len(r.files) == 27 and r.urls["LabelURL"].endswith("PSP_007361_1800_COLOR.LBL")


def test_real_error_answer(test_data):
    data = json.loads((test_data / "lunar" / "ode_samples" / "ode_error_missing_iipt.json").read_text())
    with pytest.raises(OdeQueryError, match="requires either a combination of IHID, IID, and PT"):
        parse_products_answer(data)


def test_single_product_is_an_object_not_a_list():
    records, count = parse_products_answer(json.loads(answer(moon_product(1, 10.0, 5.0, 40.0))))
    assert count == 1 and [r.product_id for r in records] == ["M104000001LE"]
    assert records[0].files[0]["name"] == "M104000001LE.IMG"  # Product_file, one object too
    assert records[0].instrument == "LROC NAC"


@pytest.mark.parametrize("body,message", [
    (b"<html>Service unavailable</html>", "not JSON"),
    (b'{"results": []}', "no ODEResults"),
    (b'{"ODEResults": {"Status": "Success", "Products": {"Product": 7}}}', "expected an object or a list"),
    (b'{"ODEResults": {"Status": "Success", "Products": {"Product": [{"pdsid": "X", "Incidence_angle": "abc"}]}}}', "not a number"),
    (b'{"ODEResults": {"Status": "Maybe"}}', "Status 'Maybe'"),
])
def test_malformed_answers_are_clear_errors(body, message):
    with ode_server(lambda params: (200, body)) as (url, _):
        with OdeClient(url) as client, pytest.raises(OdeResponseError, match=message):
            list(client.products("moon", "LRO", "LROC", "EDRNAC"))


def test_http_error_and_unreachable():
    with ode_server(lambda params: (503, b"busy")) as (url, _):
        with OdeClient(url) as client, pytest.raises(OdeConnectionError, match="HTTP 503"):
            client.instrument_sets("moon")
    with OdeClient("http://127.0.0.1:9/live2", timeout=2) as client, pytest.raises(OdeConnectionError):
        client.instrument_sets("moon")


def test_iipt_sets():
    with ode_server(lambda params: (200, b"\xef\xbb\xbf" + json.dumps(IIPT).encode())) as (url, seen):
        with OdeClient(url) as client:
            sets = client.instrument_sets("moon")
    assert seen[0] == {"query": "iipt", "odemetadb": "moon", "output": "JSON"}
    assert [(s.ihid, s.iid, s.pt, s.n_products, s.valid_footprints) for s in sets] == [
        ("LRO", "LROC", "EDRNAC", 2171245, True), ("CLEM", "LWIR", "EDR", 220000, False)]


def test_paging_and_filter_names():
    everything = [moon_product(k, -170.0 + k, 0.0, 20.0 + k) for k in range(25)]

    def route(params):
        offset, limit = int(params["offset"]), int(params["limit"])
        page = everything[offset: offset + limit]
        return 200, answer(page[0] if len(page) == 1 else page)

    with ode_server(route) as (url, seen):
        with OdeClient(url, page_size=10) as client:
            got = list(client.products("moon", "LRO", "LROC", "EDRNAC", min_incidence=30, max_emission=5,
                                       min_phase=1, bbox=(170, -10, -170, 10)))
    assert [r.product_id for r in got] == [p["pdsid"] for p in everything]
    assert [(p["offset"], p["limit"]) for p in seen] == [("0", "10"), ("10", "10"), ("20", "10")]
    first = seen[0]
    assert (first["ihid"], first["iid"], first["pt"], first["odemetadb"]) == ("LRO", "LROC", "EDRNAC", "moon")
    assert (first["mininangle"], first["maxemangle"], first["minphangle"]) == ("30", "5", "1")
    assert (first["westernlon"], first["easternlon"], first["minlat"], first["maxlat"]) == ("170", "190", "-10", "10")
    assert "min_incidence" not in first  # our names never reach ODE, which would ignore them silently


def test_limit_and_a_server_ignoring_offset():
    page = [moon_product(k, 0.0, 0.0, 30.0) for k in range(5)]
    with ode_server(lambda params: (200, answer(page))) as (url, seen):
        with OdeClient(url, page_size=5) as client:
            assert len(list(client.products("moon", "LRO", "LROC", "EDRNAC", limit=3))) == 3
            with pytest.raises(OdeResponseError, match="same page again"):
                list(client.products("moon", "LRO", "LROC", "EDRNAC"))


def test_product_search_needs_the_triple():
    with pytest.raises(ValueError, match="ihid, iid and pt"):
        OdeClient.product_params("moon", "LRO", "", "EDRNAC")
    with pytest.raises(ValueError, match="unknown ODE filter"):
        OdeClient.product_params("moon", "LRO", "LROC", "EDRNAC", min_incidense=3)
