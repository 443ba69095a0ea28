"""A client for the PDS Orbital Data Explorer (ODE) REST API.

ODE (Washington University in St. Louis, PDS Geosciences Node) answers
``https://oderest.rsl.wustl.edu/live2?query=...&output=JSON``. What this client relies on, from the
ODE REST manual (v2.1.6):

* ``query=iipt&odemetadb=moon`` lists the valid instrument host / instrument / product type sets
  (``ODEResults.IIPTSets.IIPTSet``); a product search needs ``ihid`` + ``iid`` + ``pt`` and ODE
  *ignores every filter without them*, so :meth:`OdeClient.products` always sends all three.
* ``query=product`` pages with ``limit`` and ``offset``; angle filters ``minemangle/maxemangle``
  (emission), ``mininangle/maxinangle`` (incidence), ``minphangle/maxphangle`` (phase); box
  ``westernlon/easternlon/minlat/maxlat`` (planetocentric, 0..360 E); time ``minobtime/maxobtime``.
  ODE silently ignores misspelt parameters, so the names live in one place here.
* Answers are ``{"ODEResults": {"Status", "Count", "Products": {"Product": [...]}}}``; ``Product`` is a
  single object, not a list, when one product matches (likewise ``Product_file``); every value is
  a string; an error answer has ``"Status": "ERROR"`` and an ``"Error"`` message.

Example
-------
>>> client = OdeClient()
>>> sets = client.instrument_sets("moon")
>>> for record in client.products("moon", "LRO", "LROC", "EDRNAC", min_incidence=40, limit=10):
...     print(record.product_id, record.incidence)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from explore.planetary.bodies import body as get_body
from explore.planetary.footprints import FootprintError, footprint_from_bbox, footprint_from_wkt
from explore.planetary.labels import ProductRecord, canonical_instrument, canonical_mission, parse_time

__all__ = [
    "ODE_URL",
    "OdeError",
    "OdeQueryError",
    "OdeResponseError",
    "OdeConnectionError",
    "InstrumentSet",
    "OdeClient",
    "parse_product",
    "parse_products_answer",
    "parse_iipt_answer",
]

ODE_URL = "https://oderest.rsl.wustl.edu/live2"

#: the angle filters of a product query, by our name
ANGLE_PARAMETERS = {
    "min_emission": "minemangle",
    "max_emission": "maxemangle",
    "min_incidence": "mininangle",
    "max_incidence": "maxinangle",
    "min_phase": "minphangle",
    "max_phase": "maxphangle",
}


class OdeError(RuntimeError):
    """Anything that went wrong talking to ODE."""


class OdeQueryError(OdeError):
    """ODE answered with ``Status: ERROR`` (its message is kept)."""


class OdeResponseError(OdeError):
    """ODE's answer is not in the documented shape (not JSON, missing keys, wrong types)."""


class OdeConnectionError(OdeError):
    """ODE could not be reached or answered with an HTTP error."""


@dataclass(frozen=True)
class InstrumentSet:
    """One ``IIPTSet``: the (ihid, iid, pt) triple a product query needs."""

    body: str
    ihid: str
    iid: str
    pt: str
    instrument_host: str = ""
    instrument: str = ""
    product_type: str = ""
    data_set_id: str = ""
    n_products: int = 0
    valid_footprints: bool = True


def _as_list(value: Any, what: str) -> list[Any]:
    """ODE's one-or-many: a single object when one matches, a list otherwise, a string when none."""
    if value is None or isinstance(value, str):
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise OdeResponseError(f"ODE answer: {what} is a {type(value).__name__}, expected an object or a list")


def _results(answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict) or not isinstance(answer.get("ODEResults"), dict):
        raise OdeResponseError("ODE answer has no ODEResults object: is this an ODE REST answer?")
    results = answer["ODEResults"]
    status = str(results.get("Status", "")).strip()
    if status.upper() == "ERROR" or "Error" in results:
        message = results.get("Error") or "no message"
        raise OdeQueryError(f"ODE refused the query: {message}")
    if status.lower() != "success":
        raise OdeResponseError(f"ODE answer has Status {status!r}, expected 'Success' or 'ERROR'")
    return results


def _float(product: dict[str, Any], key: str) -> float | None:
    value = product.get(key)
    if value in (None, "", "N/A", "null"):
        return None
    if not isinstance(value, str | int | float):
        raise OdeResponseError(f"ODE product field {key} is a {type(value).__name__}, expected a string")
    try:
        number = float(value)
    except ValueError as exc:
        raise OdeResponseError(f"ODE product field {key}={value!r} is not a number") from exc
    return number if math.isfinite(number) and number > -1e30 else None


def _time(product: dict[str, Any], *keys: str) -> dt.datetime | None:
    for key in keys:
        value = product.get(key)
        if isinstance(value, str) and value.strip():
            try:
                return parse_time(value)
            except ValueError as exc:
                raise OdeResponseError(f"ODE product field {key}={value!r} is not a time") from exc
    return None


def parse_product(product: dict[str, Any], default_body: str = "moon") -> ProductRecord:
    """A :class:`ProductRecord` from one ODE ``Product`` object (all values are strings).

    Raises
    ------
    OdeResponseError
        A product without ``pdsid``, or with fields that are not numbers / times where they must be.
    """
    if not isinstance(product, dict):
        raise OdeResponseError(f"ODE Product is a {type(product).__name__}, expected an object")
    pdsid = product.get("pdsid")
    if not isinstance(pdsid, str) or not pdsid:
        raise OdeResponseError("ODE Product has no pdsid")
    target = str(product.get("Target_name") or default_body).strip().lower()
    try:
        body_name = get_body(target).name
    except KeyError:
        body_name = default_body
    ihid = str(product.get("ihid", ""))
    iid = str(product.get("iid", ""))
    mission = canonical_mission(ihid)
    footprint = None
    wkt = product.get("Footprint_C0_geometry") or ""
    try:
        if isinstance(wkt, str) and wkt.strip() and "EMPTY" not in wkt.upper():
            footprint = footprint_from_wkt(wkt, body_name)
        else:
            box = [_float(product, k) for k in ("Westernmost_longitude", "Minimum_latitude", "Easternmost_longitude", "Maximum_latitude")]
            if None not in box:
                footprint = footprint_from_bbox(*box, target=body_name)  # type: ignore[misc]
    except FootprintError as exc:
        raise OdeResponseError(f"ODE product {pdsid}: footprint not usable ({exc})") from exc
    centre_lon = _float(product, "Center_longitude")
    if centre_lon is not None:
        centre_lon = (centre_lon + 180.0) % 360.0 - 180.0
    centre_lat = _float(product, "Center_latitude")
    if footprint is not None and (centre_lon is None or centre_lat is None):
        centre_lon, centre_lat = footprint.centre_lon, footprint.centre_lat
    files = []
    for f in _as_list((product.get("Product_files") or {}).get("Product_file") if isinstance(product.get("Product_files"), dict) else None, "Product_file"):
        if not isinstance(f, dict):
            raise OdeResponseError(f"ODE product {pdsid}: a Product_file is not an object")
        kb = f.get("KBytes")
        files.append({
            "name": f.get("FileName", ""),
            "url": f.get("URL", ""),
            "type": (f.get("Type") or "").lower(),
            "description": f.get("Description", ""),
            "kbytes": float(kb) if isinstance(kb, str) and kb.replace(".", "", 1).isdigit() else None,
        })
    urls = {k: product[k] for k in ("LabelURL", "ProductURL", "FilesURL", "External_url") if isinstance(product.get(k), str) and product[k]}
    return ProductRecord(
        product_id=pdsid,
        body=body_name,
        mission=mission,
        instrument=canonical_instrument(mission, iid, pdsid),
        product_type=str(product.get("pt", "")) or "UNKNOWN",
        start_time=_time(product, "UTC_start_time", "Observation_time"),
        stop_time=_time(product, "UTC_stop_time", "Observation_time"),
        emission=_float(product, "Emission_angle"),
        incidence=_float(product, "Incidence_angle"),
        phase=_float(product, "Phase_angle"),
        resolution=_float(product, "Map_scale"),
        centre_lon=centre_lon,
        centre_lat=centre_lat,
        footprint=footprint,
        data_set_id=str(product.get("Data_Set_Id", "")),
        source="ode",
        files=files,
        urls=urls,
        extra={"ihid": ihid, "iid": iid, "pt": str(product.get("pt", ""))},
    )


def parse_products_answer(answer: Any, default_body: str = "moon") -> tuple[list[ProductRecord], int | None]:
    """Records of a ``query=product`` answer and its ``Count`` (None when absent).

    Raises
    ------
    OdeQueryError
        For an ODE error answer.
    OdeResponseError
        For an answer not in the documented shape.
    """
    results = _results(answer)
    count = results.get("Count")
    n = None
    if count is not None:
        try:
            n = int(str(count))
        except ValueError as exc:
            raise OdeResponseError(f"ODE Count {count!r} is not an integer") from exc
    products = results.get("Products")
    if products is None or isinstance(products, str):  # "No Products Found"
        return [], n if n is not None else 0
    if not isinstance(products, dict):
        raise OdeResponseError(f"ODE Products is a {type(products).__name__}, expected an object")
    items = _as_list(products.get("Product"), "Products.Product")
    return [parse_product(p, default_body) for p in items], n


def parse_iipt_answer(answer: Any) -> list[InstrumentSet]:
    """The instrument sets of a ``query=iipt`` answer."""
    results = _results(answer)
    sets = results.get("IIPTSets")
    if not isinstance(sets, dict):
        raise OdeResponseError("ODE iipt answer has no IIPTSets object")
    out = []
    for s in _as_list(sets.get("IIPTSet"), "IIPTSets.IIPTSet"):
        if not isinstance(s, dict) or not all(isinstance(s.get(k), str) for k in ("IHID", "IID", "PT")):
            raise OdeResponseError("ODE IIPTSet lacks the IHID / IID / PT strings")
        n = s.get("NumberProducts", "0")
        out.append(InstrumentSet(
            body=str(s.get("ODEMetaDB", "")).lower(),
            ihid=s["IHID"],
            iid=s["IID"],
            pt=s["PT"],
            instrument_host=str(s.get("IHName", "")),
            instrument=str(s.get("IName", "")),
            product_type=str(s.get("PTName", "")),
            data_set_id=str(s.get("DataSetId", "")),
            n_products=int(n) if str(n).isdigit() else 0,
            valid_footprints=str(s.get("ValidFootprints", "T")).upper() != "F",
        ))
    return out


class OdeClient:
    """Talks to ODE REST (or any server answering in its format, e.g. a test server).

    Parameters
    ----------
    base_url
        The ``live2`` endpoint.
    timeout
        Seconds per HTTP request.
    page_size
        Products per ``query=product`` request (ODE's default is 100).
    http
        An ``httpx.Client`` to use instead of a new one.
    """

    def __init__(self, base_url: str = ODE_URL, *, timeout: float = 60.0, page_size: int = 100,
                 http: httpx.Client | None = None) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = base_url
        self.page_size = page_size
        self._http = http or httpx.Client(timeout=timeout, headers={"User-Agent": "EXPLORE-platform/0.1 (space browser)"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OdeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, params: dict[str, Any]) -> Any:
        """One GET with ``output=JSON``; the decoded JSON (ODE may prefix a UTF-8 BOM)."""
        params = {**params, "output": "JSON"}
        try:
            response = self._http.get(self.base_url, params=params)
        except httpx.HTTPError as exc:
            raise OdeConnectionError(f"cannot reach ODE at {self.base_url}: {exc}") from exc
        if response.status_code != 200:
            raise OdeConnectionError(f"ODE answered HTTP {response.status_code} for {response.url}")
        try:
            return json.loads(response.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OdeResponseError(f"ODE answer is not JSON ({exc}); first bytes: {response.content[:60]!r}") from exc

    def instrument_sets(self, body: str = "moon") -> list[InstrumentSet]:
        """The valid (ihid, iid, pt) sets for a body (``query=iipt``)."""
        return parse_iipt_answer(self.query({"query": "iipt", "odemetadb": get_body(body).name}))

    @staticmethod
    def product_params(
        body: str, ihid: str, iid: str, pt: str, *,
        bbox: tuple[float, float, float, float] | None = None,
        start: dt.datetime | None = None, stop: dt.datetime | None = None,
        **angles: float | None,
    ) -> dict[str, Any]:
        """The query parameters of a product search (see the module docstring for the names)."""
        if not (ihid and iid and pt):
            raise ValueError("an ODE product search needs ihid, iid and pt (ODE ignores filters without them)")
        params: dict[str, Any] = {"query": "product", "results": "fmpc", "odemetadb": get_body(body).name,
                                  "ihid": ihid, "iid": iid, "pt": pt}
        for name, value in angles.items():
            if name not in ANGLE_PARAMETERS:
                raise ValueError(f"unknown ODE filter {name!r}; known: {', '.join(ANGLE_PARAMETERS)}")
            if value is not None:
                params[ANGLE_PARAMETERS[name]] = f"{float(value):g}"
        if bbox is not None:
            west, south, east, north = bbox
            east360 = east % 360.0
            if east360 == 0.0 and east > 0.0:
                east360 = 360.0
            params.update(westernlon=f"{west % 360.0:g}", easternlon=f"{east360:g}",
                          minlat=f"{south:g}", maxlat=f"{north:g}", loc="o")
        if start is not None:
            params["minobtime"] = start.strftime("%Y-%m-%dT%H:%M:%S")
        if stop is not None:
            params["maxobtime"] = stop.strftime("%Y-%m-%dT%H:%M:%S")
        return params

    def count(self, body: str, ihid: str, iid: str, pt: str, **filters: Any) -> int:
        """How many products match (``results=c``)."""
        params = self.product_params(body, ihid, iid, pt, **filters)
        params["results"] = "c"
        _, n = parse_products_answer(self.query(params), get_body(body).name)
        if n is None:
            raise OdeResponseError("ODE count answer has no Count")
        return n

    def products(
        self, body: str, ihid: str, iid: str, pt: str, *,
        limit: int | None = None,
        on_page: Callable[[int, int | None], None] | None = None,
        **filters: Any,
    ) -> Iterator[ProductRecord]:
        """Every matching product, page by page (``limit``/``offset``), as records.

        ``on_page(n_so_far, total)`` is called after each page (for progress bars).
        """
        params = self.product_params(body, ihid, iid, pt, **filters)
        offset = 0
        seen = 0
        previous_first: str | None = None
        while True:
            size = self.page_size if limit is None else min(self.page_size, limit - seen)
            if size <= 0:
                return
            page, total = parse_products_answer(self.query({**params, "limit": size, "offset": offset}), get_body(body).name)
            page = page[:size]  # a server that ignores limit must not overrun ours
            if page and previous_first is not None and page[0].product_id == previous_first:
                raise OdeResponseError(f"ODE returned the same page again at offset {offset}: paging is not honoured")
            previous_first = page[0].product_id if page else None
            yield from page
            seen += len(page)
            offset += len(page)
            if on_page is not None:
                on_page(seen, total)
            if len(page) < size:
                return
