"""Map tiles cut on the fly from rasters, in the Moon's tile matrix sets.

Tile matrix sets, all on the IAU 2015 Moon sphere (R = 1737.4 km):

* ``geographic`` (lon/lat), ``equirectangular`` and ``webmercator``: the OGC TileMatrixSet
  definitions of planetcantile (A. Annex, BSD-3) shipped in ``explore/planetary/data/``;
* ``north_polar`` and ``south_polar``: built here on IAU_2015:30130 / 30135 (polar stereographic,
  true scale at the pole, no false origin). Zoom 0 is one 256-pixel tile of 2048 km centred on the
  pole (8 km pixels), so the polar maps reach 57.2 deg latitude at the middle of the tile's edges
  and 44.8 deg at its corners; each zoom halves the pixel, to 0.24 m at zoom 15 (the ShadowCam 60 m
  images are at their own resolution at zoom 7). planetcantile's own polar sets ("Universal Polar
  Stereographic", 200 km false origin) cover only a 565 km square, poleward of about 80.7 deg.

A tile is read with rio-tiler, which warps the source raster with GDAL straight into the tile's
own 256 x 256 grid (so each tile pixel is the source's value at the pixel's centre, with no second
resampling) using the exact coordinate transformation: GDAL's default approximation, linear
between a few points of each row, picks the wrong source column near a pole, where longitude turns
fast across a tile. A global lon/lat raster (LDEM_4 and the maps derived from it, the albedo
mosaic) in a polar tile is instead sampled at each tile pixel's lon/lat (:func:`sample_lonlat`),
wrapping across its edge meridian, which GDAL's warper does not do. The tile is then coloured with
a colour map and encoded as PNG.

A :class:`Layer` is an ordered list of :class:`Source` rasters, coarse to fine. Each tile starts
from the coarsest source and lets every finer source paint over it where it has data, provided
the tile's pixels are small enough for that source to matter (``Source.max_pixel_m``). So the
ShadowCam 60 m images near the south pole, or a user's own GeoTIFF, appear as the user zooms in.

Tiles outside the tile matrix, or where no source has data, are a fully transparent PNG: map
clients expect a picture, not an error, at the edge of the world.
"""

from __future__ import annotations

import io
import json
import math
import pathlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import morecantile
import numpy as np
import rasterio
import rasterio.transform
import rasterio.windows
from PIL import Image

# imported here, not lazily in the tile threads: concurrent first imports of rio_tiler.io race
# into a circular-import error
from rio_tiler.colormap import cmap
from rio_tiler.io import Reader  # noqa: F401 - see above
from rio_tiler.reader import read

from explore.planetary.bodies import MOON

__all__ = [
    "TMS_NAMES",
    "POLAR_HALF_SIDE_M",
    "POLAR_MAXZOOM",
    "TileError",
    "UnknownTileMatrixSetError",
    "UnknownLayerError",
    "Source",
    "Layer",
    "TileRenderer",
    "tile_matrix_set",
    "tile_matrix_sets",
    "empty_tile",
    "colormap_lut",
    "encode_png",
    "tile_pixel_size_m",
    "is_global_lonlat",
    "lon_span",
    "sample_lonlat",
]

DATA = pathlib.Path(__file__).with_name("data")

#: the planetcantile tile matrix sets shipped as JSON: short name -> identifier (file name)
_SHIPPED = {
    "geographic": "MoonGeographicSphere",
    "equirectangular": "MoonEquidistantCylindricalSphere",
    "webmercator": "MoonWebMercatorSphere",
}
#: the polar tile matrix sets built by :func:`_polar_tms`: short name -> identifier
_POLAR = {
    "north_polar": "MoonNorthPolarStereographic",
    "south_polar": "MoonSouthPolarStereographic",
}
#: short names of the Moon tile matrix sets and their identifiers
TMS_NAMES = {**_SHIPPED, **_POLAR}

#: half the side of the polar sets' zoom-0 tile, metres from the pole (the pole is at its centre)
POLAR_HALF_SIDE_M = 1_024_000.0
#: the finest zoom of the polar sets (0.24 m pixels, finer than any lunar orbital image)
POLAR_MAXZOOM = 15
#: GDAL's tolerance (source pixels) when approximating the warp transformation; rasterio refuses
#: 0, and this small a value makes GDAL transform every pixel exactly
_WARP_TOLERANCE_PX = 1e-6
#: global lon/lat rasters up to this many pixels are kept in memory by a renderer (32 MB each)
_KEEP_WHOLE_PX = 8_000_000


class TileError(ValueError):
    """A tile request that cannot be served."""


class UnknownTileMatrixSetError(TileError, KeyError):
    """A tile matrix set name that is not one of :data:`TMS_NAMES`."""

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownLayerError(TileError, KeyError):
    """A layer name the renderer does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


def _polar_tms(name: str) -> morecantile.TileMatrixSet:
    """A polar stereographic tile matrix set of the Moon centred on the pole (see the module notes)."""
    half = POLAR_HALF_SIDE_M
    pole = "north" if name == "north_polar" else "south"
    code = MOON.iau_code(name)  # type: ignore[arg-type]
    edge_lat = 90.0 - 2.0 * math.degrees(math.atan(half / (2.0 * MOON.radius_m)))
    return morecantile.TileMatrixSet.custom(
        [-half, -half, half, half], MOON.crs(name),  # type: ignore[arg-type]
        minzoom=0, maxzoom=POLAR_MAXZOOM, id=_POLAR[name],
        title=f"Moon (2015) sphere, {pole} polar stereographic ({code}), centred on the pole, "
              f"{2 * half / 1000:.0f} km at zoom 0 (to {edge_lat:.1f} deg {pole[0].upper()} at the edges)",
    )


@lru_cache(maxsize=16)
def _load_tms(identifier: str) -> morecantile.TileMatrixSet:
    for name, polar_id in _POLAR.items():
        if identifier == polar_id:
            return _polar_tms(name)
    path = DATA / f"{identifier}.json"
    with open(path) as fh:
        return morecantile.TileMatrixSet.model_validate(json.load(fh))


def tile_matrix_set(name: str) -> morecantile.TileMatrixSet:
    """A Moon tile matrix set by short name (``south_polar``) or identifier (``MoonSouthPolarStereographic``).

    Raises
    ------
    UnknownTileMatrixSetError
        For any other name.
    """
    identifier = TMS_NAMES.get(name, name)
    if identifier not in TMS_NAMES.values():
        raise UnknownTileMatrixSetError(
            f"unknown tile matrix set {name!r}; use one of {', '.join(TMS_NAMES)}"
        )
    return _load_tms(identifier)


def tile_matrix_sets() -> dict[str, morecantile.TileMatrixSet]:
    """All Moon tile matrix sets by short name."""
    return {name: tile_matrix_set(name) for name in TMS_NAMES}


def tile_pixel_size_m(tms: morecantile.TileMatrixSet, z: int) -> float:
    """The nominal size of a tile pixel at zoom ``z`` in metres on the Moon's surface."""
    cell = tms.matrix(z).cellSize
    if tms.crs._pyproj_crs.is_geographic:
        return cell * math.pi * MOON.radius_m / 180.0
    return float(cell)


# --------------------------------------------------------------------------------------------
# colours


@lru_cache(maxsize=32)
def colormap_lut(name: str | None) -> np.ndarray:
    """A 256 x 4 uint8 RGBA lookup table for a rio-tiler colour map name (None: grey)."""
    if name in (None, "", "gray", "grey", "greys_r"):
        ramp = np.arange(256, dtype=np.uint8)
        return np.column_stack([ramp, ramp, ramp, np.full(256, 255, np.uint8)])
    try:
        table = cmap.get(name)
    except Exception as exc:  # rio-tiler raises InvalidColorMapName
        raise TileError(f"unknown colour map {name!r}") from exc
    lut = np.zeros((256, 4), dtype=np.uint8)
    for k, rgba in table.items():
        if 0 <= int(k) < 256:
            lut[int(k)] = rgba
    lut[:, 3] = 255
    return lut


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of an (h, w, 4) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@lru_cache(maxsize=4)
def empty_tile(size: int = 256) -> bytes:
    """A fully transparent PNG tile."""
    return encode_png(np.zeros((size, size, 4), dtype=np.uint8))


# --------------------------------------------------------------------------------------------
# layers


@dataclass(frozen=True)
class Source:
    """One raster of a layer.

    Attributes
    ----------
    path
        A GeoTIFF / COG / VRT with a CRS.
    vmin, vmax
        Values mapped to the ends of the layer's colour map (None: the layer's range).
    max_pixel_m
        Use this source only in tiles whose pixels are at most this many metres (inf: always).
    resampling
        rio-tiler resampling for reading (``nearest`` keeps values exact, ``bilinear`` is smoother).
    """

    path: pathlib.Path
    vmin: float | None = None
    vmax: float | None = None
    max_pixel_m: float = math.inf
    resampling: str = "bilinear"
    title: str = ""


@dataclass
class Layer:
    """A named map layer: sources coarse to fine, a colour map and a value range."""

    name: str
    title: str
    sources: list[Source]
    vmin: float
    vmax: float
    colormap: str | None = None
    unit: str = ""
    description: str = ""
    attribution: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "unit": self.unit,
            "colormap": self.colormap or "gray",
            "vmin": self.vmin,
            "vmax": self.vmax,
            "description": self.description,
            "attribution": self.attribution,
            "sources": [s.title or s.path.name for s in self.sources],
        }


# --------------------------------------------------------------------------------------------
# global lon/lat rasters in the polar tiles


def is_global_lonlat(dataset: Any) -> bool:
    """Whether an open rasterio dataset is a north-up lon/lat grid spanning 360 deg of longitude."""
    t = dataset.transform
    return bool(dataset.crs is not None and dataset.crs.is_geographic and t.b == 0 and t.d == 0
                and math.isclose(abs(t.a) * dataset.width, 360.0, rel_tol=1e-9))


def _pixel_lonlat(tms: morecantile.TileMatrixSet, bounds: Any, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (degrees) of the centres of a tile's pixels, rows from the top."""
    cell_x = (bounds.right - bounds.left) / size
    cell_y = (bounds.top - bounds.bottom) / size
    x, y = np.meshgrid(bounds.left + (np.arange(size) + 0.5) * cell_x, bounds.top - (np.arange(size) + 0.5) * cell_y)
    lon, lat = _to_lonlat(tms.id).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


@lru_cache(maxsize=8)
def _to_lonlat(identifier: str) -> Any:
    from pyproj import Transformer

    crs = _load_tms(identifier).crs._pyproj_crs
    return Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)


def _read_values(dataset: Any, window: Any = None) -> np.ndarray:
    """Band 1 as float32 physical values (scale and offset applied), NaN where there is no data."""
    band = dataset.read(1, window=window, masked=True)
    values = band.astype("float32").filled(np.nan)
    scale, offset = dataset.scales[0], dataset.offsets[0]
    return values * np.float32(scale) + np.float32(offset) if (scale, offset) != (1.0, 0.0) else values


def lon_span(lon: np.ndarray) -> np.ndarray:
    """Degrees of longitude each pixel of a grid of lon values spans (the larger of its steps to
    the next pixel across and down; near a pole, many source columns)."""
    def step(d: np.ndarray) -> np.ndarray:
        return np.abs((d + 180.0) % 360.0 - 180.0)

    across = step(np.diff(lon, axis=1))
    down = step(np.diff(lon, axis=0))
    return np.maximum(np.concatenate([across, across[:, -1:]], axis=1), np.concatenate([down, down[-1:]], axis=0))


def sample_lonlat(dataset: Any, lon: np.ndarray, lat: np.ndarray, method: str = "bilinear",
                  values: np.ndarray | None = None, span: np.ndarray | None = None) -> np.ma.MaskedArray:
    """Values of a global lon/lat raster (see :func:`is_global_lonlat`) at points, wrapping in longitude.

    GDAL's warper does not know that such a raster is continuous across its edge meridian: tiles of
    the polar maps showed a step along that meridian, and tiles beside it came out blurred (their
    source window spans every column, and GDAL widens its kernel by the ratio). Sampling the grid
    at each tile pixel's lon/lat has neither problem.

    ``nearest`` is the pixel holding the point (as ``rasterio``'s ``sample``). ``bilinear`` weighs
    the four nearest pixel centres, across the edge meridian too; where a point stands for a pixel
    spanning more than one source column (``span``, degrees of longitude, see :func:`lon_span`:
    near a pole), it takes instead the mean of the columns the pixel spans in each of the two
    nearest rows, so that detail finer than the pixel averages out instead of aliasing. Either way
    no-data pixels are left out of the weights. Rows beyond the first and last centres (within half
    a pixel of the poles) repeat the edge row. Scale and offset are applied; no-data is masked.
    ``values``: the whole band as read by the caller, if it keeps it.
    """
    t = dataset.transform
    h, w = dataset.height, dataset.width
    shape = np.shape(lon)
    if method == "nearest":
        row, col = rasterio.transform.rowcol(t, lon, lat, op=np.floor)
        rows = [np.clip(np.reshape(row, shape), 0, h - 1).astype(np.int64)]
        cols = [np.mod(np.reshape(col, shape), w).astype(np.int64)]
        weights = [np.ones(shape)]
    elif method == "bilinear":
        col_f = (np.asarray(lon) - t.c) / t.a - 0.5  # in pixel-centre units
        row_f = (np.asarray(lat) - t.f) / t.e - 0.5
        c0, r0 = np.floor(col_f), np.floor(row_f)
        fx, fy = col_f - c0, row_f - r0
        west = np.mod(c0, w).astype(np.int64)
        east = np.where(west == w - 1, 0, west + 1)  # across the edge meridian
        north = np.clip(r0, 0, h - 1).astype(np.int64)
        south = np.clip(r0 + 1, 0, h - 1).astype(np.int64)
        rows, cols = [north, north, south, south], [west, east, west, east]
        weights = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy]
    else:
        raise TileError(f"resampling {method!r} is not available for a global lon/lat raster; use nearest or bilinear")
    if values is None:  # only the rows the points need
        top = int(min(r.min() for r in rows))
        bottom = int(max(r.max() for r in rows))
        values = _read_values(dataset, rasterio.windows.Window(0, top, w, bottom - top + 1))
    else:
        top = 0
    flat = values.ravel()
    total = np.zeros(shape)
    weight = np.zeros(shape)
    for r, c, wt in zip(rows, cols, weights, strict=True):
        v = flat[(r - top) * w + c].astype("float64")
        ok = np.isfinite(v)
        total += np.where(ok, v * wt, 0.0)
        weight += np.where(ok, wt, 0.0)
    if method == "bilinear" and span is not None:
        n = np.minimum(np.asarray(span) / abs(t.a), w)  # source columns per pixel
        wide = n > 1.0
        if wide.any():
            means = _row_means(values, [north[wide] - top, south[wide] - top], col_f[wide] + 0.5, n[wide])
            total[wide], weight[wide] = 0.0, 0.0
            for mean, wt in zip(means, ((1 - fy)[wide], fy[wide]), strict=True):
                ok = np.isfinite(mean)
                total[wide] += np.where(ok, mean * wt, 0.0)
                weight[wide] += np.where(ok, wt, 0.0)
    valid = weight > 0
    out = np.where(valid, total / np.where(valid, weight, 1.0), 0.0).astype("float32")
    return np.ma.MaskedArray(out, mask=~valid)


def _row_means(values: np.ndarray, rows: list[np.ndarray], centre: np.ndarray, n: np.ndarray) -> list[np.ndarray]:
    """For each array of row indices: the mean of the valid values of those rows over the columns
    whose centres lie within ``n / 2`` columns of ``centre`` (continuous column coordinates,
    wrapping around), NaN where none is valid."""
    w = values.shape[1]
    needed = np.unique(np.concatenate(rows))
    band = values[needed]
    finite = np.isfinite(band)
    sums = np.zeros((len(needed), w + 1))
    sums[:, 1:] = np.cumsum(np.where(finite, band, 0.0), axis=1)
    counts = np.zeros((len(needed), w + 1))
    counts[:, 1:] = np.cumsum(finite, axis=1)
    first = np.ceil(centre - n / 2.0 - 0.5).astype(np.int64)
    stop = np.maximum(np.floor(centre + n / 2.0 - 0.5).astype(np.int64) + 1, first + 1)  # at least one column
    stop = np.minimum(stop, first + w)
    out = []
    for r in rows:
        i = np.searchsorted(needed, r)

        def upto(table: np.ndarray, k: np.ndarray, i: np.ndarray = i) -> np.ndarray:  # columns [0, k), any k
            return (k // w) * table[i, w] + table[i, k % w]

        count = upto(counts, stop) - upto(counts, first)
        out.append(np.where(count > 0, (upto(sums, stop) - upto(sums, first)) / np.maximum(count, 1), np.nan))
    return out


class TileRenderer:
    """Cuts, colours and caches tiles of a set of layers.

    Parameters
    ----------
    layers
        The layers by name.
    cache_size
        How many encoded tiles to keep (least recently used are dropped).

    Example
    -------
    >>> renderer = TileRenderer(moon_layers(data_dir))
    >>> png = renderer.tile("elevation", "geographic", 2, 3, 1)
    """

    def __init__(self, layers: dict[str, Layer], cache_size: int = 512, tile_size: int = 256) -> None:
        self.layers = dict(layers)
        self.cache_size = cache_size
        self.tile_size = tile_size
        self._cache: OrderedDict[tuple[str, str, int, int, int], bytes] = OrderedDict()
        self._extent: dict[tuple[pathlib.Path, str], tuple[float, float, float, float] | None] = {}
        self._wholes: dict[pathlib.Path, np.ndarray] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def layer(self, name: str) -> Layer:
        if name not in self.layers:
            raise UnknownLayerError(f"unknown layer {name!r}; available: {', '.join(self.layers)}")
        return self.layers[name]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    @staticmethod
    def in_matrix(tms: morecantile.TileMatrixSet, z: int, x: int, y: int) -> bool:
        """Whether (z, x, y) is a tile of the tile matrix set."""
        if z < tms.minzoom or z > tms.maxzoom:
            return False
        m = tms.matrix(z)
        return 0 <= x < m.matrixWidth and 0 <= y < m.matrixHeight

    def values(self, layer: str, tms_name: str, z: int, x: int, y: int) -> np.ndarray | None:
        """The layer's values in a tile (float32, NaN where no source has data), or None when the
        tile is outside the matrix or every source.

        Raises
        ------
        UnknownLayerError, UnknownTileMatrixSetError
            For names that do not exist.
        """
        lyr = self.layer(layer)
        tms = tile_matrix_set(tms_name)
        if not self.in_matrix(tms, z, x, y):
            return None
        norm = self._normalised(lyr, tms, z, x, y, keep_values=True)
        return norm

    def _normalised(self, lyr: Layer, tms: morecantile.TileMatrixSet, z: int, x: int, y: int,
                    keep_values: bool = False) -> np.ndarray | None:
        size = self.tile_size
        pixel_m = tile_pixel_size_m(tms, z)
        out = np.full((size, size), np.nan, dtype="float32")
        painted = False
        tile_bounds = tms.xy_bounds(morecantile.Tile(x, y, z))
        dst_crs = tms.rasterio_crs
        # the tile's own grid for GDAL's warped VRT: rio-tiler would otherwise warp at the source's
        # resolution first and then resample that to 256 x 256, moving values by a fraction of a pixel
        grid = {"transform": rasterio.transform.from_bounds(*tile_bounds, size, size), "width": size,
                "height": size, "tolerance": _WARP_TOLERANCE_PX}
        polar = tms.id in _POLAR.values()
        lonlat = span = None  # the tile pixels' lon/lat and lon span, when a global lon/lat source needs them
        for src in lyr.sources:
            if pixel_m > src.max_pixel_m:
                continue
            extent = self._source_extent(src, tms)
            if extent is not None and (
                extent[2] < tile_bounds.left or extent[0] > tile_bounds.right
                or extent[3] < tile_bounds.bottom or extent[1] > tile_bounds.top
            ):
                continue
            with rasterio.open(src.path) as dataset:
                if polar and is_global_lonlat(dataset):
                    if lonlat is None:
                        lonlat = _pixel_lonlat(tms, tile_bounds, size)
                        span = lon_span(lonlat[0])
                    arr = sample_lonlat(dataset, *lonlat, method=src.resampling, values=self._whole(src, dataset),
                                        span=span)
                else:
                    arr = read(dataset, dst_crs=dst_crs, width=size, height=size, vrt_options=grid,
                               resampling_method=src.resampling, reproject_method=src.resampling,
                               unscale=True).array[0]
            valid = ~np.ma.getmaskarray(arr)
            if not valid.any():
                continue
            values = np.asarray(arr.filled(0), dtype="float32")
            if not keep_values:
                lo = lyr.vmin if src.vmin is None else src.vmin
                hi = lyr.vmax if src.vmax is None else src.vmax
                values = (values - lo) / (hi - lo)
            out[valid] = values[valid]
            painted = True
        return out if painted else None

    def _whole(self, src: Source, dataset: Any) -> np.ndarray | None:
        """A small global raster's values, read once and kept (a few MB for LDEM_4 and the maps
        made from it); None for a raster too large to keep, which is read row band by row band."""
        if dataset.width * dataset.height > _KEEP_WHOLE_PX:
            return None
        key = pathlib.Path(src.path)
        with self._lock:
            values = self._wholes.get(key)
        if values is None:
            values = _read_values(dataset)
            with self._lock:
                self._wholes[key] = values
        return values

    def _source_extent(self, src: Source, tms: morecantile.TileMatrixSet) -> tuple[float, float, float, float] | None:
        """The source's bounds in the tile matrix set's CRS, for skipping tiles it cannot touch.

        None (always read) for sources whose bounds do not transform to finite numbers, e.g. a
        global map seen from a polar projection.
        """
        key = (src.path, tms.id)
        if key not in self._extent:
            import rasterio
            from rasterio.warp import transform_bounds

            extent = None
            try:
                with rasterio.open(src.path) as ds:
                    b = ds.bounds
                    width_deg = (b.right - b.left) if ds.crs.is_geographic else 0.0
                    if width_deg < 359.0:
                        dst = rasterio.crs.CRS.from_wkt(tms.crs._pyproj_crs.to_wkt())
                        box_ = transform_bounds(ds.crs, dst, *b, densify_pts=21)
                        if all(math.isfinite(v) for v in box_):
                            extent = box_
            except Exception:  # noqa: BLE001 - an unknown extent only costs a read
                extent = None
            self._extent[key] = extent
        return self._extent[key]

    def render(self, layer: str, tms_name: str, z: int, x: int, y: int) -> bytes:
        """A PNG tile (transparent outside the matrix or the layer's coverage), uncached."""
        lyr = self.layer(layer)
        tms = tile_matrix_set(tms_name)
        if not self.in_matrix(tms, z, x, y):
            return empty_tile(self.tile_size)
        norm = self._normalised(lyr, tms, z, x, y)
        if norm is None:
            return empty_tile(self.tile_size)
        nan = np.isnan(norm)
        index = np.clip(np.nan_to_num(norm, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        rgba = colormap_lut(lyr.colormap)[index]
        rgba[nan, 3] = 0
        return encode_png(rgba)

    def tile(self, layer: str, tms_name: str, z: int, x: int, y: int) -> bytes:
        """A PNG tile through the LRU cache."""
        key = (layer, tms_name, int(z), int(x), int(y))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self.hits += 1
                return self._cache[key]
        png = self.render(layer, tms_name, z, x, y)
        with self._lock:
            self.misses += 1
            self._cache[key] = png
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return png

    def tilejson(self, layer: str, tms_name: str, url_template: str) -> dict[str, Any]:
        """A TileJSON 3.0 description of one layer in one tile matrix set.

        ``url_template`` contains ``{z}``, ``{x}`` and ``{y}``.
        """
        lyr = self.layer(layer)
        tms = tile_matrix_set(tms_name)
        west, south, east, north = tms.bbox
        # the middle of the matrix (the pole for the polar sets; the middle of the bbox is not)
        xy = tms.xy_bbox
        centre_lon, centre_lat = tms.lnglat((xy.left + xy.right) / 2.0, (xy.bottom + xy.top) / 2.0)
        return {
            "tilejson": "3.0.0",
            "name": lyr.title,
            "description": lyr.description,
            "attribution": lyr.attribution,
            "scheme": "xyz",
            "tiles": [url_template],
            "minzoom": tms.minzoom,
            "maxzoom": min(tms.maxzoom, 12),
            "bounds": [west, south, east, north],
            "center": [round(centre_lon, 9) + 0.0, round(centre_lat, 9) + 0.0, 1],
            "tile_matrix_set": tms.id,
            "crs": tms.crs._pyproj_crs.name,
            "layer": lyr.describe(),
        }
