"""``/api/v1/products``: search the product index of the space browser (the same filters as
``explore browse search``). Product metadata is public: no sign-in is needed to search."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from explore.platform.products import ProductQuery, SearchError, get_product, product_facets, search_products
from explore.web.deps import get_platform

router = APIRouter(tags=["products"])


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": kind, "message": message}, status_code=status)


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``W,S,E,N`` in degrees into four floats (``SearchError`` otherwise)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise SearchError(f"bbox must be four numbers W,S,E,N; got {text!r}")
    try:
        return tuple(float(p) for p in parts)  # type: ignore[return-value]
    except ValueError as exc:
        raise SearchError(f"bbox must be four numbers W,S,E,N; got {text!r}") from exc


@router.get("/products", summary="Search planetary products")
def search(
    platform: Annotated[Any, Depends(get_platform)],
    body: Annotated[str | None, Query(description="moon or mars")] = None,
    mission: Annotated[str | None, Query(description="e.g. LRO, Clementine, Chandrayaan-1 (case-insensitive)")] = None,
    instrument: Annotated[str | None, Query(description="e.g. LROC NAC, LWIR, M3; 'LROC' matches NAC and WAC")] = None,
    product_type: Annotated[str | None, Query(description="e.g. EDRNAC, CALIBRATED_IMAGE")] = None,
    min_emission: Annotated[float | None, Query(ge=-180, le=180)] = None,
    max_emission: Annotated[float | None, Query(ge=-180, le=180)] = None,
    min_incidence: Annotated[float | None, Query(ge=-180, le=180)] = None,
    max_incidence: Annotated[float | None, Query(ge=-180, le=180)] = None,
    min_phase: Annotated[float | None, Query(ge=-180, le=180)] = None,
    max_phase: Annotated[float | None, Query(ge=-180, le=180)] = None,
    start: Annotated[dt.datetime | None, Query(description="observations overlapping from this UTC time")] = None,
    stop: Annotated[dt.datetime | None, Query(description="... to this UTC time")] = None,
    bbox: Annotated[str | None, Query(description="W,S,E,N degrees; W > E crosses 180 deg")] = None,
    polygon: Annotated[str | None, Query(description="WKT polygon (lon/lat degrees, or metres with polygon_crs)")] = None,
    polygon_crs: Annotated[Literal["lonlat", "south_polar", "north_polar"], Query()] = "lonlat",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str, Query(description="start_time, incidence, ...; prefix - for descending")] = "start_time",
    count_limit: Annotated[int, Query(ge=0, le=1_000_000, description="count matches up to this many "
                                      "(searches without a region); beyond it total_exact is false")] = 10_000,
    format: Annotated[Literal["json", "geojson"], Query(description="json: total + items; geojson: a FeatureCollection")] = "json",
) -> Any:
    """Products matching every filter: ``{"total", "total_exact", "limit", "offset", "items": [...]}``,
    each item with its footprint as a GeoJSON geometry (lon -180..180, split at the 180 deg meridian).
    A search without a region counts up to ``count_limit`` matches (10,000): beyond that ``total`` is
    ``count_limit`` and ``total_exact`` false ("more than 10,000")."""
    try:
        query = ProductQuery(
            body=body, mission=mission, instrument=instrument, product_type=product_type,
            min_emission=min_emission, max_emission=max_emission, min_incidence=min_incidence,
            max_incidence=max_incidence, min_phase=min_phase, max_phase=max_phase,
            start=start, stop=stop, bbox=parse_bbox(bbox) if bbox else None, polygon=polygon,
            polygon_crs=polygon_crs, limit=limit, offset=offset, sort=sort, count_limit=count_limit,
        )
        with platform.db.session() as session:
            result = search_products(session, query)
            return result.feature_collection() if format == "geojson" else result.to_dict()
    except SearchError as exc:
        return _error(422, "InvalidRequest", str(exc))


@router.get("/products/facets", summary="Missions, instruments and product types in the index")
def facets(platform: Annotated[Any, Depends(get_platform)], body: str | None = None) -> list[dict[str, Any]]:
    with platform.db.session() as session:
        return product_facets(session, body)


@router.get("/products/{product_id}", summary="One product")
def product(product_id: int, platform: Annotated[Any, Depends(get_platform)]) -> Any:
    with platform.db.session() as session:
        found = get_product(session, product_id)
        if found is None:
            return _error(404, "NotFound", f"no product with id {product_id}")
        return found.to_dict()
