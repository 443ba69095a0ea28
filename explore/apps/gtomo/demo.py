"""A deterministic demo cube in exactly the published layout, and a demo target list.

No published cube can be fetched offline, so the demo data set is synthetic but physically sensible: a
thin exponential dust disc (A0 density 5e-4 mag/pc in the plane, i.e. ~0.5 mag/kpc, scale height
120 pc) with a cavity around the Sun standing for the Local Bubble (radius ~120 pc), plus Gaussian clouds
at the positions of well-known nearby molecular clouds (distances rounded from the literature). It is
for demonstrating and testing the app, not for science.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
from astropy.table import Table

from .cube import galactic_to_xyz, write_cube

__all__ = ["DEMO_CLOUDS", "GRIDS", "demo_density", "make_demo_cube", "make_demo_errors", "make_demo_targets"]

#: demo grids: shape (x, y, z), step (pc); "25pc" and "50pc" are the published grids of those maps
GRIDS: dict[str, dict[str, Any]] = {
    "25pc-small": {"shape": (121, 121, 41), "step": 10.0},
    "25pc": {"shape": (601, 601, 81), "step": 10.0},
    "50pc": {"shape": (501, 501, 41), "step": 20.0},
}

#: (name, l deg, b deg, distance pc, sigma pc, peak A0 density mag/pc)
DEMO_CLOUDS: list[tuple[str, float, float, float, float, float]] = [
    ("Taurus", 173.0, -15.0, 140.0, 15.0, 0.030),
    ("Ophiuchus", 353.0, 17.0, 130.0, 10.0, 0.050),
    ("Lupus", 340.0, 15.0, 155.0, 12.0, 0.020),
    ("Chamaeleon", 300.0, -16.0, 190.0, 12.0, 0.030),
    ("Perseus", 159.0, -20.0, 290.0, 20.0, 0.030),
    ("Cepheus", 110.0, 15.0, 350.0, 25.0, 0.020),
    ("Orion A", 210.0, -19.0, 400.0, 25.0, 0.040),
    ("Aquila Rift", 28.0, 4.0, 250.0, 30.0, 0.015),
]

DISC_DENSITY = 5e-4  # mag/pc in the plane, away from the Local Bubble
DISC_SCALE_HEIGHT = 120.0  # pc
BUBBLE_RADIUS = 120.0  # pc


def _sun_index(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple((n - 1) // 2 for n in shape)  # type: ignore[return-value]


def demo_density(grid: str = "25pc-small", dtype: Any = np.float32) -> tuple[np.ndarray, float, tuple[int, int, int]]:
    """The demo density array (axes x, y, z), its step (pc) and the Sun's index (x, y, z)."""
    if grid not in GRIDS:
        raise ValueError(f"unknown demo grid {grid!r}; choose one of {', '.join(GRIDS)}")
    shape = GRIDS[grid]["shape"]
    step = float(GRIDS[grid]["step"])
    sun = _sun_index(shape)
    x = ((np.arange(shape[0]) - sun[0]) * step).astype(np.float32)
    y = ((np.arange(shape[1]) - sun[1]) * step).astype(np.float32)
    z = ((np.arange(shape[2]) - sun[2]) * step).astype(np.float32)
    rho = np.empty(shape, dtype=dtype)
    vertical = (DISC_DENSITY * np.exp(-np.abs(z) / DISC_SCALE_HEIGHT)).astype(np.float32)
    r2_xy = x[:, None] ** 2 + y[None, :] ** 2
    for k in range(shape[2]):  # plane by plane keeps the memory at one plane of temporaries
        r2 = r2_xy + z[k] ** 2
        cavity = r2**3 / (r2**3 + np.float32(BUBBLE_RADIUS) ** 6)
        rho[:, :, k] = vertical[k] * cavity
    for _name, lon, lat, dist, sigma, peak in DEMO_CLOUDS:
        cx, cy, cz = (float(c) for c in galactic_to_xyz(lon, lat, dist))
        lo = [int(max(np.floor((c - 4 * sigma) / step + s), 0)) for c, s in zip((cx, cy, cz), sun, strict=True)]
        hi = [int(min(np.ceil((c + 4 * sigma) / step + s), n - 1)) for c, s, n in zip((cx, cy, cz), sun, shape, strict=True)]
        if any(h < lo_ for lo_, h in zip(lo, hi, strict=True)):
            continue
        bx = x[lo[0] : hi[0] + 1, None, None] - cx
        by = y[None, lo[1] : hi[1] + 1, None] - cy
        bz = z[None, None, lo[2] : hi[2] + 1] - cz
        blob = peak * np.exp(-(bx**2 + by**2 + bz**2) / (2 * sigma**2))
        rho[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] += blob.astype(dtype)
    return rho, step, sun


_ATTRS = {"creation_date": "2024-01-01", "cube_version": "demo", "values_unit": "A0(550nm)/parsec"}


def make_demo_cube(path: str | pathlib.Path, grid: str = "25pc-small") -> pathlib.Path:
    """Write the demo density cube in the published layout (a few seconds for ``"25pc"``).

    Parameters
    ----------
    path : path-like
        Output ``.h5`` file.
    grid : {"25pc-small", "25pc", "50pc"}
        ``"25pc-small"`` is 121 x 121 x 41 voxels of 10 pc (about 2 MB, under a second); ``"25pc"`` and
        ``"50pc"`` have the shapes of the published 25 pc and 50 pc maps.
    """
    rho, step, sun = demo_density(grid)
    attrs = dict(_ATTRS, resolution_values=np.array([step * 2.5] * 3))
    return write_cube(path, rho, step, sun, attrs=attrs)


def make_demo_errors(
    path: str | pathlib.Path, grid: str = "25pc-small", *, kind: str = "density_error"
) -> pathlib.Path:
    """Write a demo error cube: ``"density_error"`` (30 per cent of the density plus 2e-5 mag/pc) or
    ``"extinction_error"`` (error of A0 integrated from the Sun: 10 per cent of it plus 0.01 mag)."""
    rho, step, sun = demo_density(grid)
    if kind == "density_error":
        err = 0.3 * rho + np.float32(2e-5)
    elif kind == "extinction_error":
        from .raytrace import integrate_rays

        idx = np.indices(rho.shape).reshape(3, -1).T
        xyz = (idx - np.asarray(sun)) * step
        dist = np.sqrt((xyz**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            unit = np.where(dist[:, None] > 0, xyz / np.where(dist > 0, dist, 1)[:, None], 0.0)
        a0 = integrate_rays(rho, sun, step, unit[:, 0], unit[:, 1], unit[:, 2], dist).reshape(rho.shape)
        err = (0.1 * a0 + 0.01).astype(np.float32)
    else:
        raise ValueError(f"kind must be 'density_error' or 'extinction_error'; got {kind!r}")
    return write_cube(path, err, step, sun, attrs=dict(_ATTRS, cube_version=f"demo {kind}"))


def make_demo_targets(path: str | pathlib.Path, n: int = 1000, *, grid: str = "25pc-small", seed: int = 5) -> pathlib.Path:
    """Write a demo target table (CSV / FITS / Parquet by suffix): ``n`` random stars inside the demo
    cube, one star behind each demo cloud, and two rows that G-Tomo must flag (a negative distance and
    a latitude of 95 deg)."""
    from .targets import write_table

    shape, step = GRIDS[grid]["shape"], GRIDS[grid]["step"]
    sun = _sun_index(shape)
    rng = np.random.default_rng(seed)
    half = np.array([min(s, n_ - 1 - s) * step for s, n_ in zip(sun, shape, strict=True)])
    pts = rng.uniform(-half, half, size=(n, 3))
    d = np.sqrt((pts**2).sum(axis=1))
    lon = np.degrees(np.arctan2(pts[:, 1], pts[:, 0])) % 360
    lat = np.degrees(np.arcsin(pts[:, 2] / d))
    names = [f"star{i:05d}" for i in range(n)]
    for name, cl, cb, cd, sigma, _ in DEMO_CLOUDS:
        names.append(f"behind {name}")
        lon = np.append(lon, cl)
        lat = np.append(lat, cb)
        d = np.append(d, cd + 3 * sigma)
    names += ["bad distance", "bad latitude"]
    lon = np.append(lon, [120.0, 30.0])
    lat = np.append(lat, [5.0, 95.0])
    d = np.append(d, [-10.0, 200.0])
    table = Table({"name": names, "l": np.round(lon, 5), "b": np.round(lat, 5), "distance": np.round(d, 3)})
    return write_table(table, path)
