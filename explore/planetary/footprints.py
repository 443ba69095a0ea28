"""Footprints and search regions in lon/lat and polar stereographic form.

A footprint arrives as corner coordinates (a label) or WKT (ODE). EXPLORE keeps two forms:

* ``lonlat``: a (Multi)Polygon in planetocentric degrees, longitude -180..180, edges straight in
  lon/lat (the convention of ODE's ``Footprint_C0_geometry``). A footprint that crosses the 180 deg
  meridian is split into two parts; one that encloses a pole is closed along the pole's latitude
  line, so plain planar intersection tests are correct.
* ``polar``: for products reaching poleward of 60 deg, the same footprint in the IAU 2015 polar
  stereographic CRS of its hemisphere (metres), where shapes near the pole are undistorted.

A ring is recognised as enclosing a pole by its winding: the sum of its longitude steps (each
taken the short way round) is +-360 deg instead of 0. Its bounding box is kept "unwrapped"
(``lon_min`` in -180..180, ``lon_max`` up to ``lon_min + 360``) so an index on four numbers can
answer region queries across the 180 deg meridian.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box, mapping
from shapely.geometry.base import BaseGeometry

from explore.planetary.bodies import MOON, Body, body

__all__ = [
    "FootprintError",
    "RegionError",
    "Footprint",
    "Region",
    "POLAR_LATITUDE",
    "parse_wkt",
    "footprint_from_corners",
    "footprint_from_wkt",
    "footprint_from_bbox",
    "split_antimeridian",
    "lon_extent",
    "to_polar",
    "polar_to_lonlat",
    "region_from_bbox",
    "region_from_wkt",
    "to_geojson",
]

#: footprints reaching poleward of this latitude (degrees) also get a polar stereographic form
POLAR_LATITUDE = 60.0

Pole = Literal["N", "S"]


class FootprintError(ValueError):
    """A footprint that cannot be understood (bad WKT, too few corners, coordinates out of range)."""


class RegionError(ValueError):
    """A search region that cannot be used (zero area, south above north, bad WKT)."""


def _wrap(lon: np.ndarray | float) -> np.ndarray:
    """Longitudes into [-180, 180)."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


def parse_wkt(wkt: str, *, error: type[ValueError] = FootprintError) -> BaseGeometry:
    """Parse WKT and insist on a polygonal geometry."""
    if not isinstance(wkt, str) or not wkt.strip():
        raise error("empty WKT")
    try:
        geom = shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise error(f"not valid WKT ({exc}): {wkt[:80]!r}") from exc
    if geom is None or geom.is_empty:
        raise error("the WKT geometry is empty")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise error(f"expected a POLYGON or MULTIPOLYGON, got a {geom.geom_type.upper()}")
    return geom


# --------------------------------------------------------------------------------------------
# rings in lon/lat


def _winding(lon: np.ndarray) -> float:
    steps = _wrap(np.diff(lon))
    return float(np.sum(steps))


def _unwrapped_polygon(lon: np.ndarray, lat: np.ndarray) -> Polygon:
    """A closed ring as a planar polygon in unwrapped longitude (may extend past +-180).

    A ring that winds once around a pole is closed along that pole's latitude line.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if lon[0] != lon[-1] or lat[0] != lat[-1]:
        lon = np.append(lon, lon[0])
        lat = np.append(lat, lat[0])
    if np.any(np.abs(lat) > 90.0 + 1e-9):
        raise FootprintError(f"latitude {float(np.max(np.abs(lat))):.3f} is outside -90..90")
    steps = _wrap(np.diff(lon))
    unwrapped = np.round(np.concatenate([[_wrap(lon[0])], _wrap(lon[0]) + np.cumsum(steps)]), 9)
    turns = float(np.sum(steps))
    if abs(abs(turns) - 360.0) < 1e-6:
        # encloses a pole: the hemisphere of the ring decides which one
        pole_lat = -90.0 if float(np.mean(lat)) < 0 else 90.0
        coords = list(zip(unwrapped, lat, strict=True))
        coords += [(unwrapped[-1], pole_lat), (unwrapped[0], pole_lat)]
        poly = Polygon(coords)
    elif abs(turns) > 1e-6:
        raise FootprintError(f"the ring winds {turns:.1f} deg around the pole; expected 0 or +-360")
    else:
        poly = Polygon(list(zip(unwrapped, lat, strict=True)))
    if not poly.is_valid:
        poly = _polygonal(shapely.make_valid(poly))
    if poly.is_empty or poly.area <= 0.0:
        raise FootprintError("the ring has zero area (its corners are collinear or repeated)")
    return poly


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom  # type: ignore[return-value]
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys: list[Polygon] = []
    for p in parts:
        polys.extend(p.geoms if p.geom_type == "MultiPolygon" else [p])
    return MultiPolygon(polys) if len(polys) != 1 else polys[0]


def split_antimeridian(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """Cut a polygon given in unwrapped longitude into parts inside -180..180.

    Example
    -------
    >>> split_antimeridian(box(170, 0, 190, 10)).wkt     # two 10-degree-wide parts
    """
    parts: list[Polygon] = []
    minx, _, maxx, _ = geom.bounds
    for k in range(int(math.floor((minx + 180.0) / 360.0)), int(math.floor((maxx + 180.0) / 360.0)) + 1):
        window = box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = geom.intersection(window)
        if piece.is_empty:
            continue
        piece = affinity.translate(piece, xoff=-360.0 * k)
        for p in getattr(piece, "geoms", [piece]):
            if p.geom_type == "Polygon" and p.area > 0:
                parts.append(p)
            elif p.geom_type == "MultiPolygon":
                parts.extend(q for q in p.geoms if q.area > 0)
    if not parts:
        raise FootprintError("the footprint has zero area")
    merged = shapely.union_all(parts)
    return _polygonal(merged)


def lon_extent(geom: BaseGeometry) -> tuple[float, float]:
    """The shortest longitude interval covering a -180..180 geometry, unwrapped.

    Returns ``(lon_min, lon_max)`` with ``lon_min`` in [-180, 180] and ``lon_max`` possibly above 180
    for a footprint split at the 180 deg meridian; (-180, 180) for one that covers every longitude.
    """
    parts = list(getattr(geom, "geoms", [geom]))
    intervals = sorted((p.bounds[0], p.bounds[2]) for p in parts if not p.is_empty)
    if not intervals:
        raise FootprintError("empty geometry")
    merged: list[list[float]] = []
    for a, b in intervals:
        if merged and a <= merged[-1][1] + 1e-9:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    if merged[0][0] <= -180.0 + 1e-9 and merged[-1][1] >= 180.0 - 1e-9 and len(merged) == 1:
        return -180.0, 180.0
    # the largest gap on the circle is where the box is open
    gaps = [(merged[i + 1][0] - merged[i][1], i) for i in range(len(merged) - 1)]
    wrap_gap = merged[0][0] + 360.0 - merged[-1][1]
    best_gap, best_i = max(gaps, default=(-1.0, -1))
    if wrap_gap >= best_gap:
        return merged[0][0], merged[-1][1]
    lo = merged[best_i + 1][0]
    hi = merged[best_i][1] + 360.0
    if lo >= 180.0:
        lo, hi = lo - 360.0, hi - 360.0
    return lo, hi


# --------------------------------------------------------------------------------------------
# polar stereographic


@lru_cache(maxsize=8)
def _polar_transformers(pole: Pole, target: Body):
    from pyproj import Transformer

    projected = target.crs("south_polar" if pole == "S" else "north_polar")
    geographic = target.crs("geographic")
    fwd = Transformer.from_crs(geographic, projected, always_xy=True)
    inv = Transformer.from_crs(projected, geographic, always_xy=True)
    return fwd, inv


def _densify_ring(lon: np.ndarray, lat: np.ndarray, max_step_deg: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Insert points along each edge (straight in lon/lat, the short way round) every ``max_step_deg``."""
    out_lon, out_lat = [], []
    for k in range(len(lon) - 1):
        dl = float(_wrap(lon[k + 1] - lon[k]))
        dp = float(lat[k + 1] - lat[k])
        n = max(1, int(math.ceil(max(abs(dl), abs(dp)) / max_step_deg)))
        t = np.arange(n) / n
        out_lon.append(lon[k] + t * dl)
        out_lat.append(lat[k] + t * dp)
    out_lon.append([lon[-1]])
    out_lat.append([lat[-1]])
    return np.concatenate(out_lon), np.concatenate(out_lat)


def to_polar(lon: Sequence[float], lat: Sequence[float], pole: Pole, target: Body | str = MOON) -> Polygon:
    """A lon/lat ring as a polygon in the polar stereographic CRS of ``pole`` (metres)."""
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    if lon_a[0] != lon_a[-1] or lat_a[0] != lat_a[-1]:
        lon_a, lat_a = np.append(lon_a, lon_a[0]), np.append(lat_a, lat_a[0])
    dl, dp = _densify_ring(lon_a, lat_a)
    fwd, _ = _polar_transformers(pole, body(target))
    x, y = fwd.transform(dl, dp)
    poly = Polygon(list(zip(x, y, strict=True)))
    return poly if poly.is_valid else _polygonal(shapely.make_valid(poly))  # type: ignore[return-value]


def polar_to_lonlat(geom: BaseGeometry, pole: Pole, target: Body | str = MOON) -> Polygon | MultiPolygon:
    """A polygon drawn on a polar stereographic map (metres) as a -180..180 lon/lat geometry.

    Edges are densified first (straight lines on the polar map are curves in lon/lat); a polygon
    around the pole becomes a band closed along the pole's latitude line.
    """
    _, inv = _polar_transformers(pole, body(target))
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        step = max(poly.length / 720.0, 1.0)
        ring = np.asarray(shapely.segmentize(poly.exterior, step).coords)
        lon, lat = inv.transform(ring[:, 0], ring[:, 1])
        lon = np.asarray(lon)
        lat = np.asarray(lat)
        # a vertex exactly on the pole has no longitude: nudge it off along its neighbours
        at_pole = np.abs(lat) > 90.0 - 1e-9
        if np.any(at_pole):
            lat = np.where(at_pole, np.sign(lat) * (90.0 - 1e-7), lat)
        parts.append(split_antimeridian(_unwrapped_polygon(lon, lat)))
    return _polygonal(shapely.union_all(parts))


# --------------------------------------------------------------------------------------------
# footprints


@dataclass
class Footprint:
    """A product footprint in the forms the index stores.

    Attributes
    ----------
    lonlat
        (Multi)Polygon in degrees, longitude -180..180, split at the 180 deg meridian.
    lon_min, lon_max, lat_min, lat_max
        Bounding box with unwrapped longitudes (``lon_max`` may exceed 180).
    centre_lon, centre_lat
        A representative centre (degrees, longitude -180..180).
    polar
        The footprint in polar stereographic metres, or None for low-latitude products.
    pole
        ``"N"`` or ``"S"`` for the hemisphere of ``polar``.
    """

    lonlat: Polygon | MultiPolygon
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    centre_lon: float
    centre_lat: float
    polar: Polygon | MultiPolygon | None = None
    pole: Pole | None = None

    @property
    def crosses_antimeridian(self) -> bool:
        return self.lon_max > 180.0 and self.lon_max - self.lon_min < 360.0

    @property
    def encloses_pole(self) -> bool:
        return self.lat_min <= -90.0 + 1e-9 or self.lat_max >= 90.0 - 1e-9

    @property
    def wkt(self) -> str:
        return shapely.to_wkt(self.lonlat, rounding_precision=6)

    @property
    def polar_wkt(self) -> str | None:
        return None if self.polar is None else shapely.to_wkt(self.polar, rounding_precision=2)

    def geojson(self) -> dict[str, Any]:
        return to_geojson(self.lonlat)


def _finish(lonlat: Polygon | MultiPolygon, rings: Iterable[tuple[np.ndarray, np.ndarray]], target: Body) -> Footprint:
    lon_min, lon_max = lon_extent(lonlat)
    _, lat_min, _, lat_max = lonlat.bounds
    rings = list(rings)
    # centre: mean of the unit vectors of the ring vertices (well-defined across 180 deg)
    all_lon = np.concatenate([r[0] for r in rings])
    all_lat = np.concatenate([r[1] for r in rings])
    lo, la = np.radians(all_lon), np.radians(all_lat)
    v = np.array([np.mean(np.cos(la) * np.cos(lo)), np.mean(np.cos(la) * np.sin(lo)), np.mean(np.sin(la))])
    if np.linalg.norm(v) < 1e-12:
        c_lon, c_lat = 0.0, 0.0
    else:
        c_lon = math.degrees(math.atan2(v[1], v[0]))
        c_lat = math.degrees(math.atan2(v[2], math.hypot(v[0], v[1])))
    if lat_min <= -90.0 + 1e-9:
        c_lat = min(c_lat, -89.0) if abs(c_lat) > 89.0 else c_lat
    polar = pole = None
    if lat_min <= -POLAR_LATITUDE or lat_max >= POLAR_LATITUDE:
        pole = "S" if (lat_min + lat_max) / 2.0 < 0 else "N"
        polys = [to_polar(r[0], r[1], pole, target) for r in rings]
        polar = _polygonal(shapely.union_all(polys))
    return Footprint(lonlat, lon_min, lon_max, lat_min, lat_max, c_lon, c_lat, polar, pole)  # type: ignore[arg-type]


def footprint_from_corners(
    lon: Sequence[float], lat: Sequence[float], target: Body | str = MOON
) -> Footprint:
    """A footprint from the corner coordinates of an image, in order around the image.

    Longitudes may be 0..360 or -180..180. A ring that winds around a pole gives a footprint
    that contains it.

    Raises
    ------
    FootprintError
        Fewer than 3 corners, latitudes outside -90..90, or zero area.
    """
    lon_a = np.asarray(lon, dtype=float)
    lat_a = np.asarray(lat, dtype=float)
    if lon_a.shape != lat_a.shape or lon_a.size < 3:
        raise FootprintError("a footprint needs at least 3 (lon, lat) corners")
    if not (np.all(np.isfinite(lon_a)) and np.all(np.isfinite(lat_a))):
        raise FootprintError("footprint corners must be finite numbers")
    unwrapped = _unwrapped_polygon(lon_a, lat_a)
    lonlat = split_antimeridian(unwrapped)
    return _finish(lonlat, [(lon_a, lat_a)], body(target))


def footprint_from_wkt(wkt: str, target: Body | str = MOON) -> Footprint:
    """A footprint from lon/lat WKT (0..360 or -180..180; parts may be split at 180 or 0 deg)."""
    geom = parse_wkt(wkt)
    rings = []
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        ring = np.asarray(poly.exterior.coords)
        lon, lat = ring[:, 0], ring[:, 1]
        if np.any(lon < -180.0 - 1e-9) or np.any(lon > 360.0 + 1e-9):
            raise FootprintError("footprint longitudes must lie in -180..360")
        parts.append(split_antimeridian(_unwrapped_polygon(lon, lat)))
        rings.append((lon, lat))
    merged = _polygonal(shapely.union_all(parts))
    return _finish(merged, rings, body(target))


def footprint_from_bbox(
    west: float, south: float, east: float, north: float, target: Body | str = MOON
) -> Footprint:
    """The footprint of a map-projected product given by its lon/lat bounds.

    ``west > east`` crosses the 180 deg meridian; ``east - west >= 360`` covers every longitude
    (a global map, or a polar cap when ``south`` is -90 or ``north`` is 90).
    """
    if not (-90.0 <= south < north <= 90.0):
        raise FootprintError(f"latitude bounds {south}..{north} are not a band inside -90..90")
    tb = body(target)
    if east - west >= 360.0 - 1e-9 or (west == -180.0 and east == 180.0):
        lonlat = box(-180.0, south, 180.0, north)
        polar = pole = None
        global_cover = south <= -90.0 + 1e-9 and north >= 90.0 - 1e-9
        if not global_cover and (south <= -POLAR_LATITUDE or north >= POLAR_LATITUDE):
            pole = "S" if (south + north) / 2.0 < 0 else "N"
            ring_lon = np.linspace(-180.0, 180.0, 361)
            outer_lat = north if pole == "S" else south
            inner_lat = south if pole == "S" else north
            outer = to_polar(ring_lon, np.full_like(ring_lon, outer_lat), pole, tb)
            if abs(inner_lat) < 90.0:
                inner = to_polar(ring_lon, np.full_like(ring_lon, inner_lat), pole, tb)
                polar = Polygon(outer.exterior.coords, [inner.exterior.coords])
            else:
                polar = outer
        c_lat = (south + north) / 2.0
        if not global_cover and south <= -90.0 + 1e-9:
            c_lat = -90.0
        elif not global_cover and north >= 90.0 - 1e-9:
            c_lat = 90.0
        return Footprint(lonlat, -180.0, 180.0, south, north, 0.0, c_lat, polar, pole)  # type: ignore[arg-type]
    span = (east - west) % 360.0
    if span == 0.0:
        raise FootprintError("west equals east: the footprint has zero width")
    n = max(2, int(math.ceil(span)))
    top = np.linspace(west, west + span, n + 1)
    lons = np.concatenate([top, top[::-1]])
    lats = np.concatenate([np.full(n + 1, south), np.full(n + 1, north)])
    fp = footprint_from_corners(lons, lats, tb)
    fp.lonlat = _polygonal(fp.lonlat.simplify(0.0))  # the densified edges are straight in lon/lat
    return fp


# --------------------------------------------------------------------------------------------
# search regions


@dataclass
class Region:
    """A search region: a -180..180 lon/lat geometry and the unwrapped boxes an index can use."""

    geometry: Polygon | MultiPolygon
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    is_box: bool = False

    def lon_windows(self) -> list[tuple[float, float]]:
        """Longitude windows (unwrapped) to test against unwrapped product boxes.

        A product box ``[a, b]`` (``a`` in -180..180, ``b <= a + 360``) meets the region iff it
        overlaps one of these windows.
        """
        lo, hi = self.lon_min, self.lon_max
        windows = [(lo, hi), (lo + 360.0, hi + 360.0)]
        if hi > 180.0:
            windows.append((lo - 360.0, hi - 360.0))
        return windows


def _region(geometry: BaseGeometry, is_box: bool = False) -> Region:
    if geometry.is_empty or geometry.area <= 0.0:
        raise RegionError("the region has zero area: draw a box or polygon with some width and height")
    lon_min, lon_max = lon_extent(geometry)
    _, lat_min, _, lat_max = geometry.bounds
    return Region(_polygonal(geometry), lon_min, lon_max, lat_min, lat_max, is_box)


def region_from_bbox(west: float, south: float, east: float, north: float) -> Region:
    """A lon/lat box; ``west > east`` means the box crosses the 180 deg meridian.

    Longitudes may be given in -180..360; ``east - west == 360`` is a full band of latitude.

    Raises
    ------
    RegionError
        South not below north, latitudes outside -90..90, or zero width.
    """
    values = (west, south, east, north)
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise RegionError("bbox values must be finite numbers: W,S,E,N")
    if not (-90.0 <= south <= 90.0 and -90.0 <= north <= 90.0):
        raise RegionError(f"bbox latitudes {south}, {north} must lie in -90..90")
    if south >= north:
        raise RegionError(f"bbox south ({south}) must be below north ({north}): the region has zero area")
    if not (-180.0 <= west <= 360.0 and -180.0 <= east <= 360.0):
        raise RegionError("bbox longitudes must lie in -180..360")
    width = east - west
    if width == 0.0:
        raise RegionError("bbox west equals east: the region has zero area")
    if abs(width) >= 360.0 or (west == -180.0 and east == 180.0) or (west == 0.0 and east == 360.0):
        geom = box(-180.0, south, 180.0, north)
        return Region(geom, -180.0, 180.0, south, north, True)
    w = float(_wrap(west))
    span = width % 360.0
    unwrapped = box(w, south, w + span, north)
    geom = split_antimeridian(unwrapped)
    return Region(geom, w, w + span, south, north, True)


def region_from_wkt(
    wkt: str, crs: Literal["lonlat", "north_polar", "south_polar"] = "lonlat", target: Body | str = MOON
) -> Region:
    """A polygon region from WKT in lon/lat degrees or in polar stereographic metres.

    Lon/lat rings may cross the 180 deg meridian or wind around a pole (they then contain it).

    Raises
    ------
    RegionError
        Bad WKT, a non-polygon, or zero area.
    """
    geom = parse_wkt(wkt, error=RegionError)
    # (a ring around a pole along one parallel has no planar area in lon/lat: test after closing it)
    try:
        if crs == "lonlat":
            parts = []
            for poly in getattr(geom, "geoms", [geom]):
                ring = np.asarray(poly.exterior.coords)
                parts.append(split_antimeridian(_unwrapped_polygon(ring[:, 0], ring[:, 1])))
            merged = shapely.union_all(parts)
        elif crs in ("north_polar", "south_polar"):
            merged = polar_to_lonlat(geom, "N" if crs == "north_polar" else "S", target)
        else:
            raise RegionError(f"unknown region CRS {crs!r}; use lonlat, north_polar or south_polar")
    except FootprintError as exc:
        raise RegionError(str(exc)) from exc
    return _region(merged)


def to_geojson(geom: BaseGeometry | None) -> dict[str, Any] | None:
    """A GeoJSON geometry dictionary (None stays None)."""
    if geom is None:
        return None
    return mapping(geom)  # type: ignore[return-value]
