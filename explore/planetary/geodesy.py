"""Measurements on the sphere: distances, paths, areas, point values and elevation profiles.

The Moon is the sphere R = 1737.4 km. Lines between vertices are great circles (the shortest
path), so a profile drawn across the map is sampled where a rover would drive, not along a straight
line of the map projection. Distances use the haversine formula (Sinnott 1984); points along a
great circle come from spherical linear interpolation of unit vectors; polygon areas use the
geodesic polygon algorithm of Karney (2013) on the sphere (pyproj ``Geod``), which handles edges
that cross the 180 deg meridian and polygons that enclose a pole.

Longitudes are degrees east, in -180..360; latitudes planetocentric degrees north.

References
----------
Sinnott, R. W. (1984). Virtues of the haversine. Sky and Telescope 68, 159.
Karney, C. F. F. (2013). Algorithms for geodesics. J. Geodesy 87, 43-55.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pyproj import Geod

from explore.planetary.bodies import MOON, Body, body
from explore.planetary.raster import Raster

__all__ = [
    "GeometryError",
    "Profile",
    "distance",
    "initial_bearing",
    "destination",
    "great_circle_points",
    "sample_path",
    "path_length",
    "polygon_area",
    "circle",
    "point_value",
    "elevation_profile",
]

Vertices = Sequence[tuple[float, float]] | np.ndarray


class GeometryError(ValueError):
    """A line or polygon that cannot be measured (too few vertices, zero area, bad coordinates)."""


def _check_lonlat(lon: np.ndarray, lat: np.ndarray) -> None:
    if np.any(~np.isfinite(lon)) or np.any(~np.isfinite(lat)):
        raise GeometryError("coordinates must be finite numbers")
    if np.any(np.abs(lat) > 90.0):
        raise GeometryError(f"latitude {float(np.max(np.abs(lat)))} is outside -90..90")
    if np.any(lon < -180.0) or np.any(lon > 360.0):
        raise GeometryError("longitude must lie in -180..360 degrees east")


def _unit(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon), np.radians(lat)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = v / np.linalg.norm(v, axis=-1, keepdims=True)
    lat = np.degrees(np.arcsin(np.clip(v[..., 2], -1.0, 1.0)))
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    return lon, lat


def distance(lon1, lat1, lon2, lat2, target: Body | str = MOON):  # noqa: ANN001, ANN201 - numpy-like
    """Great-circle distance in metres (haversine), element-wise for arrays.

    Example
    -------
    >>> round(distance(0, 0, 90, 0))        # a quarter of the lunar equator
    2729101
    """
    radius = body(target).radius_m
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlam = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    h = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    d = 2 * radius * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d) if np.ndim(d) == 0 else d


def initial_bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Initial bearing of the great circle from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    y = np.sin(dl) * np.cos(p2)
    x = np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(dl)
    return float(np.degrees(np.arctan2(y, x)) % 360.0)


def destination(lon, lat, bearing, dist_m, target: Body | str = MOON):  # noqa: ANN001, ANN201
    """The point reached from (lon, lat) after ``dist_m`` metres along ``bearing`` (deg from north)."""
    radius = body(target).radius_m
    p1 = np.radians(lat)
    l1 = np.radians(lon)
    b = np.radians(bearing)
    d = np.asarray(dist_m, dtype=float) / radius
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(b))
    l2 = l1 + np.arctan2(np.sin(b) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    lon2 = (np.degrees(l2) + 180.0) % 360.0 - 180.0
    return lon2, np.degrees(p2)


def great_circle_points(lon1: float, lat1: float, lon2: float, lat2: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points (ends included) evenly spaced along the great circle between two points."""
    if n < 2:
        raise GeometryError("a great-circle sampling needs at least 2 points")
    a = _unit(np.array(lon1, dtype=float), np.array(lat1, dtype=float))
    b = _unit(np.array(lon2, dtype=float), np.array(lat2, dtype=float))
    omega = np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))
    t = np.linspace(0.0, 1.0, n)[:, None]
    if omega < 1e-12:
        pts = np.repeat(a[None, :], n, axis=0)
    elif abs(omega - np.pi) < 1e-9:
        raise GeometryError("the two points are antipodal: the great circle between them is not unique")
    else:
        pts = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return _lonlat(pts)


def _vertices(vertices: Vertices, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(vertices, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise GeometryError("vertices must be a sequence of (lon, lat) pairs")
    if len(arr) < minimum:
        raise GeometryError(f"need at least {minimum} vertices, got {len(arr)}")
    _check_lonlat(arr[:, 0], arr[:, 1])
    return arr[:, 0], arr[:, 1]


def path_length(vertices: Vertices, target: Body | str = MOON) -> float:
    """Length in metres of a polyline whose segments are great circles."""
    lon, lat = _vertices(vertices, 2)
    return float(np.sum(distance(lon[:-1], lat[:-1], lon[1:], lat[1:], target)))


def sample_path(
    vertices: Vertices,
    *,
    n: int | None = None,
    spacing_m: float | None = None,
    target: Body | str = MOON,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points along a great-circle polyline: (distance from start in m, lon, lat).

    Give either ``n`` (total points, spread evenly by distance) or ``spacing_m``. Every vertex is
    included so corners are never cut.
    """
    lon, lat = _vertices(vertices, 2)
    seg = np.asarray(distance(lon[:-1], lat[:-1], lon[1:], lat[1:], target), dtype=float).reshape(-1)
    total = float(seg.sum())
    if total <= 0:
        raise GeometryError("the line has zero length")
    if spacing_m is None:
        n = 256 if n is None else int(n)
        if n < 2:
            raise GeometryError("a profile needs at least 2 samples")
        spacing_m = total / (n - 1)
    elif spacing_m <= 0:
        raise GeometryError("spacing must be positive")
    out_d, out_lon, out_lat = [], [], []
    start = 0.0
    for k, length in enumerate(seg):
        count = max(2, int(np.ceil(length / spacing_m)) + 1)
        plon, plat = great_circle_points(lon[k], lat[k], lon[k + 1], lat[k + 1], count)
        d = start + np.linspace(0.0, length, count)
        if k > 0:  # the first point repeats the previous segment's end
            plon, plat, d = plon[1:], plat[1:], d[1:]
        out_d.append(d)
        out_lon.append(plon)
        out_lat.append(plat)
        start += length
    return np.concatenate(out_d), np.concatenate(out_lon), np.concatenate(out_lat)


def polygon_area(vertices: Vertices, target: Body | str = MOON) -> float:
    """Area in square metres of a polygon on the sphere whose edges are great circles.

    The ring may be open or closed, cross the 180 deg meridian, or enclose a pole.

    Raises
    ------
    GeometryError
        Fewer than 3 distinct vertices, or zero area.
    """
    lon, lat = _vertices(vertices, 3)
    if lon[0] == lon[-1] and lat[0] == lat[-1]:
        lon, lat = lon[:-1], lat[:-1]
    if len({(a, b) for a, b in zip(lon, lat, strict=True)}) < 3:
        raise GeometryError("a polygon needs at least 3 distinct vertices")
    radius = body(target).radius_m
    geod = Geod(a=radius, b=radius)
    area, _ = geod.polygon_area_perimeter(lon, lat)
    area = abs(area)
    if area <= 1e-6 * radius:  # numerically nothing (a line, a point)
        raise GeometryError("the polygon has zero area")
    return float(area)


def circle(lon: float, lat: float, radius_m: float, n: int = 64, target: Body | str = MOON) -> np.ndarray:
    """A closed ring of ``n`` (lon, lat) vertices at ``radius_m`` from the centre (e.g. a crater rim)."""
    bearings = np.linspace(0.0, 360.0, n, endpoint=False)
    rl, rp = destination(np.full(n, lon), np.full(n, lat), bearings, np.full(n, radius_m), target)
    ring = np.column_stack([rl, rp])
    return np.vstack([ring, ring[:1]])


def point_value(
    raster: Raster, lon: float, lat: float, method: Literal["nearest", "bilinear"] = "nearest"
) -> float:
    """The raster's value at a point (NaN outside it); ``lon`` in -180..360 degrees east."""
    _check_lonlat(np.array([lon], dtype=float), np.array([lat], dtype=float))
    return float(raster.sample(lon, lat, method=method))


@dataclass
class Profile:
    """An elevation profile: samples along a great-circle path."""

    distance_m: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    value: np.ndarray

    @property
    def length_m(self) -> float:
        return float(self.distance_m[-1])

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "distance_m": self.distance_m.tolist(),
            "lon": self.lon.tolist(),
            "lat": self.lat.tolist(),
            "value": [None if np.isnan(v) else float(v) for v in self.value],  # type: ignore[misc]
        }


def elevation_profile(
    dem: Raster,
    vertices: Vertices,
    *,
    n: int | None = 256,
    spacing_m: float | None = None,
    method: Literal["nearest", "bilinear"] = "bilinear",
    target: Body | str = MOON,
) -> Profile:
    """Sample a DEM along a polyline drawn on the sphere (great-circle segments).

    Example
    -------
    >>> p = elevation_profile(read_raster("LDEM_4.LBL"), [(-10, 0), (10, 0)], n=81)
    >>> p.length_m                                   # 20 deg of the equator: 606.5 km
    """
    d, lon, lat = sample_path(vertices, n=None if spacing_m else n, spacing_m=spacing_m, target=target)
    values = np.asarray(dem.sample(lon, lat, method=method), dtype=float)
    return Profile(d, lon, lat, values)
