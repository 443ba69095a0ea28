"""DEM derivatives on the sphere: slope, aspect and hillshade.

The gradient uses Horn's (1981) 3 x 3 finite differences with the true ground spacing of each
pixel: on a geographic (lon/lat) grid a pixel is ``R * dphi`` tall but only ``R * cos(phi) * dlambda``
wide, so the east-west spacing shrinks towards the poles; on a projected grid the nominal spacing
is divided by the projection's point scale factor (pyproj ``get_factors``), which matters for polar
stereographic maps away from the pole. Hillshade follows the usual Lambertian formula (Burrough &
McDonnell 1998, as in GDAL's ``gdaldem hillshade``) with the Sun's azimuth measured clockwise from
grid north.

References
----------
Horn, B. K. P. (1981). Hill shading and the reflectance map. Proc. IEEE 69, 14-47.
Burrough, P. A. & McDonnell, R. A. (1998). Principles of Geographical Information Systems. OUP.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from explore.planetary.bodies import MOON, Body, body
from explore.planetary.raster import Raster

__all__ = ["ground_spacing", "gradient", "slope", "aspect", "hillshade"]


def ground_spacing(dem: Raster, target: Body | str = MOON) -> tuple[np.ndarray, np.ndarray]:
    """True east-west and north-south pixel spacing in metres, broadcastable to ``dem.shape``.

    Returns
    -------
    dx, dy
        For a geographic raster ``dx`` has shape (rows, 1) and ``dy`` is a scalar array; for a
        projected raster both have the raster's shape.
    """
    t = dem.transform
    h, w = dem.shape
    if dem.is_geographic:
        radius = body(target).radius_m
        lat = np.deg2rad(t.f + (np.arange(h) + 0.5) * t.e)
        dx = radius * np.cos(lat) * np.deg2rad(abs(t.a))
        # a pixel centred exactly on a pole would have zero width; keep it finite
        dx = np.maximum(dx, 1e-6 * radius * np.deg2rad(abs(t.a)))[:, None]
        dy = np.array(radius * np.deg2rad(abs(t.e)))
        return dx, dy
    from pyproj import Proj, Transformer

    cols = (np.arange(w) + 0.5)[None, :]
    rows = (np.arange(h) + 0.5)[:, None]
    x = t.c + cols * t.a + rows * t.b
    y = t.f + cols * t.d + rows * t.e
    geo = Transformer.from_crs(dem.crs, dem.crs.geodetic_crs, always_xy=True)
    lon, lat = geo.transform(*np.broadcast_arrays(x, y))
    factors = Proj(dem.crs).get_factors(lon, lat)
    kx = np.asarray(factors.parallel_scale, dtype=float).reshape(h, w)
    ky = np.asarray(factors.meridional_scale, dtype=float).reshape(h, w)
    return abs(t.a) / kx, abs(t.e) / ky


def _padded(z: np.ndarray, wrap_columns: bool) -> np.ndarray:
    zp = np.pad(z, 1, mode="edge")
    if wrap_columns:
        zp[:, 0] = np.pad(z[:, -1], 1, mode="edge")
        zp[:, -1] = np.pad(z[:, 0], 1, mode="edge")
    return zp


def gradient(dem: Raster, target: Body | str = MOON) -> tuple[np.ndarray, np.ndarray]:
    """dz/d(east) and dz/d(north) (metres per metre) by Horn's method.

    "North" is up the grid: true north on a lon/lat grid, grid north on a projected one.
    """
    z = dem.data.astype("float64")
    left, _, right, _ = dem.bounds
    wrap = dem.is_geographic and abs((right - left) - 360.0) < 1e-6
    zp = _padded(z, wrap)
    a, b, c = zp[:-2, :-2], zp[:-2, 1:-1], zp[:-2, 2:]
    d, f = zp[1:-1, :-2], zp[1:-1, 2:]
    g, h, i = zp[2:, :-2], zp[2:, 1:-1], zp[2:, 2:]
    dx, dy = ground_spacing(dem, target)
    dz_dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    # rows run southwards when the transform's e < 0, so the row below is to the south
    sign = -1.0 if dem.transform.e < 0 else 1.0
    dz_dy = sign * ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy)
    return dz_dx, dz_dy


def slope(dem: Raster, target: Body | str = MOON) -> Raster:
    """Slope in degrees (0 = flat) of a DEM in metres.

    Example
    -------
    >>> s = slope(read_raster("LDEM_4.LBL"))
    >>> float(np.nanmedian(s.data))   # degrees
    """
    gx, gy = gradient(dem, target)
    value = np.degrees(np.arctan(np.hypot(gx, gy)))
    return replace(dem, data=value.astype("float32"), unit="deg", name=f"{dem.name}_slope")


def aspect(dem: Raster, target: Body | str = MOON) -> Raster:
    """Downslope direction in degrees clockwise from (grid) north; NaN where flat."""
    gx, gy = gradient(dem, target)
    value = np.degrees(np.arctan2(-gx, -gy)) % 360.0
    value = np.where((gx == 0) & (gy == 0), np.nan, value)
    return replace(dem, data=value.astype("float32"), unit="deg", name=f"{dem.name}_aspect")


def hillshade(
    dem: Raster,
    azimuth: float = 315.0,
    altitude: float = 45.0,
    z_factor: float = 1.0,
    target: Body | str = MOON,
) -> Raster:
    """Lambertian hillshade in 0..1 for a Sun at ``azimuth`` (deg from north) and ``altitude`` (deg).

    A flat surface gets ``sin(altitude)``; a plane facing the Sun with slope ``90 - altitude``
    gets 1. ``z_factor`` exaggerates relief (useful on the smooth global 7.6 km grid).
    """
    if not 0.0 <= altitude <= 90.0:
        raise ValueError(f"Sun altitude {altitude} deg is outside 0..90")
    gx, gy = gradient(dem, target)
    gx, gy = gx * z_factor, gy * z_factor
    slope_r = np.arctan(np.hypot(gx, gy))
    aspect_r = np.arctan2(-gx, -gy)
    zenith = np.radians(90.0 - altitude)
    az = np.radians(azimuth)
    shade = np.cos(zenith) * np.cos(slope_r) + np.sin(zenith) * np.sin(slope_r) * np.cos(az - aspect_r)
    shade = np.clip(shade, 0.0, 1.0)
    return replace(dem, data=shade.astype("float32"), unit="", name=f"{dem.name}_hillshade")
