"""``/tiles/moon/...``: map tiles of the Moon for the portal's map and for any XYZ / TileJSON client
(QGIS, Leaflet, OpenLayers). Tiles are public (no sign-in), like the data they are cut from.

* ``GET /tiles/moon/layers``: the raster and vector layers.
* ``GET /tiles/moon/tms``: the tile matrix sets; ``GET /tiles/moon/tms/{tms}``: one, as OGC JSON.
* ``GET /tiles/moon/{layer}/{tms}/{z}/{x}/{y}.png``: a 256-pixel PNG; a transparent tile outside the
  tile matrix or the layer's coverage; 404 JSON for an unknown layer or tile matrix set.
* ``GET /tiles/moon/{layer}/{tms}/tilejson.json``: the TileJSON 3.0 description.
* ``GET /tiles/moon/vector/{craters|psrs}.geojson``: the overlays.

The layers come from the Moon app's ``tile_layers(data_dir)`` hook, found through the app catalogue
(the web layer never imports an app by name).
"""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from explore.planetary.tiles import (
    TMS_NAMES,
    TileError,
    TileRenderer,
    UnknownLayerError,
    UnknownTileMatrixSetError,
    empty_tile,
    tile_matrix_set,
)
from explore.web.deps import get_platform

log = logging.getLogger(__name__)
router = APIRouter(prefix="/tiles/moon", tags=["tiles"])
_lock = threading.Lock()
PNG_HEADERS = {"Cache-Control": "public, max-age=86400"}


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse({"error": kind, "message": message}, status_code=status)


def _moon_app(platform: Any, request: Request) -> Any:
    catalogue = getattr(platform, "catalogue", None)
    if catalogue is None:
        catalogue = getattr(request.app.state, "moon_catalogue", None)
        if catalogue is None:
            from explore.platform.catalogue import Catalogue

            catalogue = Catalogue(list(getattr(platform.settings, "extra_apps", []) or []))
            request.app.state.moon_catalogue = catalogue
    for cls in getattr(catalogue, "apps", {}).values():
        if getattr(cls, "body", None) == "moon" and hasattr(cls, "tile_layers"):
            return cls
    return None


def renderer(request: Request, platform: Any) -> TileRenderer:
    """The application's tile renderer (built once, kept in ``app.state``)."""
    state = request.app.state
    existing = getattr(state, "moon_tiles", None)
    if existing is not None:
        return existing
    with _lock:
        existing = getattr(state, "moon_tiles", None)
        if existing is None:
            app = _moon_app(platform, request)
            if app is None:
                raise LookupError("no Moon app with tile layers is installed (the explore.apps entry points)")
            existing = TileRenderer(app.tile_layers(platform.settings.data_path))
            state.moon_tiles = existing
    return existing


@router.get("/layers", summary="The Moon's map layers")
def layers(request: Request, platform: Annotated[Any, Depends(get_platform)]) -> Any:
    try:
        r = renderer(request, platform)
    except (LookupError, FileNotFoundError) as exc:
        return _error(503, "Unavailable", str(exc))
    raster = [{"kind": "raster", **lyr.describe(),
               "url": f"/tiles/moon/{name}/{{tms}}/{{z}}/{{x}}/{{y}}.png"} for name, lyr in r.layers.items()]
    vector = [{"kind": "vector", "name": n, "url": f"/tiles/moon/vector/{n}.geojson"} for n in ("craters", "psrs")]
    return {"layers": raster + vector, "tile_matrix_sets": list(TMS_NAMES)}


@router.get("/tms", summary="The Moon tile matrix sets")
def tms_list() -> Any:
    out = []
    for name in TMS_NAMES:
        t = tile_matrix_set(name)
        out.append({"name": name, "id": t.id, "title": t.title, "crs": t.crs._pyproj_crs.name,
                    "minzoom": t.minzoom, "maxzoom": t.maxzoom, "url": f"/tiles/moon/tms/{name}"})
    return out


@router.get("/tms/{tms}", summary="One tile matrix set (OGC TileMatrixSet JSON)")
def tms_one(tms: str) -> Any:
    try:
        return tile_matrix_set(tms).model_dump(mode="json", exclude_none=True)
    except UnknownTileMatrixSetError as exc:
        return _error(404, "NotFound", str(exc))


@router.get("/vector/{name}.geojson", summary="Named craters or south-polar PSRs as GeoJSON")
def vector(
    name: str,
    request: Request,
    platform: Annotated[Any, Depends(get_platform)],
    bbox: Annotated[str | None, Query(description="W,S,E,N degrees")] = None,
    circles: Annotated[bool, Query(description="rims / equal-area circles instead of points")] = False,
) -> Any:
    app = _moon_app(platform, request)
    if app is None or not hasattr(app, "vector_layer"):
        return _error(503, "Unavailable", "no Moon app with vector layers is installed")
    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
            if len(box) != 4:
                raise ValueError
        except ValueError:
            return _error(422, "InvalidRequest", f"bbox must be four numbers W,S,E,N; got {bbox!r}")
    try:
        return app.vector_layer(name, platform.settings.data_path, bbox=box, as_circles=circles)
    except KeyError as exc:
        return _error(404, "NotFound", str(exc.args[0]))


@router.get("/{layer}/{tms}/tilejson.json", summary="TileJSON of a layer")
def tilejson(layer: str, tms: str, request: Request, platform: Annotated[Any, Depends(get_platform)]) -> Any:
    try:
        r = renderer(request, platform)
        base = str(request.base_url).rstrip("/")
        return r.tilejson(layer, tms, f"{base}/tiles/moon/{layer}/{tms}/{{z}}/{{x}}/{{y}}.png")
    except (UnknownLayerError, UnknownTileMatrixSetError) as exc:
        return _error(404, "NotFound", str(exc))
    except (LookupError, FileNotFoundError) as exc:
        return _error(503, "Unavailable", str(exc))


@router.get("/{layer}/{tms}/{z}/{x}/{y}.png", summary="A 256-pixel PNG tile",
            responses={200: {"content": {"image/png": {}}}})
def tile(layer: str, tms: str, z: int, x: int, y: int, request: Request,
         platform: Annotated[Any, Depends(get_platform)]) -> Any:
    try:
        r = renderer(request, platform)
        png = r.tile(layer, tms, z, x, y)
    except (UnknownLayerError, UnknownTileMatrixSetError) as exc:
        return _error(404, "NotFound", str(exc))
    except (LookupError, FileNotFoundError) as exc:
        return _error(503, "Unavailable", str(exc))
    except TileError as exc:
        return _error(422, "InvalidRequest", str(exc))
    except Exception:  # noqa: BLE001 - a map client needs a picture; the cause goes to the log
        log.exception("tile %s/%s/%s/%s/%s failed", layer, tms, z, x, y)
        return Response(empty_tile(), media_type="image/png", headers={"X-Tile-Error": "render failed"})
    return Response(png, media_type="image/png", headers=PNG_HEADERS)
