"""Numba kernels: trilinear samples of a cube and exact integrals of it along rays from the Sun.

Inside one voxel cell the trilinear field is a product of three functions linear in each coordinate;
along a straight ray every coordinate is linear in the path length, so the field is a cubic polynomial
of the path length within each cell. A two-point Gauss-Legendre rule integrates cubics exactly, so
summing it over the cell segments that a ray crosses (found with the voxel traversal of Amanatides &
Woo 1987) gives the exact line integral of the trilinear field, up to floating-point rounding.

All positions here are in *grid units* (fractional voxel indices in array order); distances along rays
are in pc, with ``g = direction / step`` converting pc to grid units.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["exit_distance", "integrate_rays", "sample_points"]

_INV_SQRT3 = 0.5773502691896257


@njit(cache=True, inline="always")
def _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, fx, fy, fz):
    ex = 1.0 - fx
    c00 = c000 * ex + c100 * fx
    c10 = c010 * ex + c110 * fx
    c01 = c001 * ex + c101 * fx
    c11 = c011 * ex + c111 * fx
    ey = 1.0 - fy
    c0 = c00 * ey + c10 * fy
    c1 = c01 * ey + c11 * fy
    return c0 * (1.0 - fz) + c1 * fz


@njit(cache=True, inline="always")
def _axis_start(s, g, n):
    """First cell, step direction, path length to the first cell face, path length per cell."""
    if g > 0.0:
        i = int(np.floor(s))
        if i > n - 2:
            i = n - 2
        if i < 0:
            i = 0
        return i, 1, (i + 1.0 - s) / g, 1.0 / g
    if g < 0.0:
        i = int(np.ceil(s)) - 1
        if i > n - 2:
            i = n - 2
        if i < 0:
            i = 0
        return i, -1, (i - s) / g, -1.0 / g
    i = int(np.floor(s))
    if i > n - 2:
        i = n - 2
    if i < 0:
        i = 0
    return i, 0, np.inf, np.inf


@njit(cache=True, fastmath={"contract", "arcp", "nsz"})
def _integrate_ray(data, sx, sy, sz, gx, gy, gz, length):
    nx, ny, nz = data.shape
    i, di, tx, dtx = _axis_start(sx, gx, nx)
    j, dj, ty, dty = _axis_start(sy, gy, ny)
    k, dk, tz, dtz = _axis_start(sz, gz, nz)
    # the eight corners of the current cell; a step to the next cell keeps the four of the shared face
    c000 = data[i, j, k]
    c001 = data[i, j, k + 1]
    c010 = data[i, j + 1, k]
    c011 = data[i, j + 1, k + 1]
    c100 = data[i + 1, j, k]
    c101 = data[i + 1, j, k + 1]
    c110 = data[i + 1, j + 1, k]
    c111 = data[i + 1, j + 1, k + 1]
    total = 0.0
    r = 0.0
    while True:
        r_next = min(tx, ty, tz)
        end = r_next if r_next < length else length
        if end > r:
            half = 0.5 * (end - r)
            mid = r + half
            off = half * _INV_SQRT3
            fx = sx + mid * gx - i
            fy = sy + mid * gy - j
            fz = sz + mid * gz - k
            ox = off * gx
            oy = off * gy
            oz = off * gz
            va = _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, fx - ox, fy - oy, fz - oz)
            vb = _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, fx + ox, fy + oy, fz + oz)
            total += half * (va + vb)
        if r_next >= length:
            break
        r = r_next
        if tx <= ty and tx <= tz:
            i += di
            tx += dtx
            if i < 0 or i > nx - 2:
                break
            if di > 0:
                c000, c001, c010, c011 = c100, c101, c110, c111
                c100 = data[i + 1, j, k]
                c101 = data[i + 1, j, k + 1]
                c110 = data[i + 1, j + 1, k]
                c111 = data[i + 1, j + 1, k + 1]
            else:
                c100, c101, c110, c111 = c000, c001, c010, c011
                c000 = data[i, j, k]
                c001 = data[i, j, k + 1]
                c010 = data[i, j + 1, k]
                c011 = data[i, j + 1, k + 1]
        elif ty <= tz:
            j += dj
            ty += dty
            if j < 0 or j > ny - 2:
                break
            if dj > 0:
                c000, c001, c100, c101 = c010, c011, c110, c111
                c010 = data[i, j + 1, k]
                c011 = data[i, j + 1, k + 1]
                c110 = data[i + 1, j + 1, k]
                c111 = data[i + 1, j + 1, k + 1]
            else:
                c010, c011, c110, c111 = c000, c001, c100, c101
                c000 = data[i, j, k]
                c001 = data[i, j, k + 1]
                c100 = data[i + 1, j, k]
                c101 = data[i + 1, j, k + 1]
        else:
            k += dk
            tz += dtz
            if k < 0 or k > nz - 2:
                break
            if dk > 0:
                c000, c010, c100, c110 = c001, c011, c101, c111
                c001 = data[i, j, k + 1]
                c011 = data[i, j + 1, k + 1]
                c101 = data[i + 1, j, k + 1]
                c111 = data[i + 1, j + 1, k + 1]
            else:
                c001, c011, c101, c111 = c000, c010, c100, c110
                c000 = data[i, j, k]
                c010 = data[i, j + 1, k]
                c100 = data[i + 1, j, k]
                c110 = data[i + 1, j + 1, k]
    return total


@njit(cache=True, parallel=True)
def _integrate_batch(data, sx, sy, sz, inv_step, ux, uy, uz, length, out):
    for n in prange(length.size):
        out[n] = _integrate_ray(data, sx, sy, sz, ux[n] * inv_step, uy[n] * inv_step, uz[n] * inv_step, length[n])


@njit(cache=True, parallel=True)
def _sample_batch(data, px, py, pz, out):
    nx, ny, nz = data.shape
    tol = 1e-9
    for n in prange(px.size):
        x = px[n]
        y = py[n]
        z = pz[n]
        if not (x >= -tol and x <= nx - 1 + tol and y >= -tol and y <= ny - 1 + tol and z >= -tol and z <= nz - 1 + tol):
            out[n] = np.nan
            continue
        i = min(max(int(np.floor(x)), 0), nx - 2)
        j = min(max(int(np.floor(y)), 0), ny - 2)
        k = min(max(int(np.floor(z)), 0), nz - 2)
        out[n] = _trilinear(
            data[i, j, k], data[i + 1, j, k], data[i, j + 1, k], data[i + 1, j + 1, k],
            data[i, j, k + 1], data[i + 1, j, k + 1], data[i, j + 1, k + 1], data[i + 1, j + 1, k + 1],
            x - i, y - j, z - k,
        )


def exit_distance(
    shape: tuple[int, int, int], sun_index: tuple[int, int, int], step_pc: float,
    ux: np.ndarray, uy: np.ndarray, uz: np.ndarray,
) -> np.ndarray:
    """Path length (pc) from the Sun to the cube's boundary along unit directions ``(ux, uy, uz)``."""
    result = np.full(np.shape(ux), np.inf)
    for n, s, comp in zip(shape, sun_index, (ux, uy, uz), strict=True):
        comp = np.asarray(comp, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            upper = (n - 1 - s) * step_pc / comp
            lower = -s * step_pc / comp
        along = np.where(comp > 0, upper, np.where(comp < 0, lower, np.inf))
        result = np.minimum(result, along)
    return result


def integrate_rays(
    data: np.ndarray, sun_index: tuple[int, int, int], step_pc: float,
    ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, length: np.ndarray,
) -> np.ndarray:
    """Exact integral of the trilinear field from the Sun along unit directions over ``length`` pc.

    The caller guarantees ``length`` does not exceed :func:`exit_distance` (the result is the integral
    to the boundary otherwise) and is finite and non-negative.
    """
    n = np.size(length)
    out = np.empty(n, dtype=np.float64)
    if n == 0:
        return out
    sx, sy, sz = (float(s) for s in sun_index)
    _integrate_batch(
        data, sx, sy, sz, 1.0 / step_pc,
        np.ascontiguousarray(ux, dtype=np.float64), np.ascontiguousarray(uy, dtype=np.float64),
        np.ascontiguousarray(uz, dtype=np.float64), np.ascontiguousarray(length, dtype=np.float64), out,
    )
    return out


def sample_points(data: np.ndarray, gx: np.ndarray, gy: np.ndarray, gz: np.ndarray) -> np.ndarray:
    """Trilinear samples at fractional voxel indices; NaN outside the cube (never extrapolated)."""
    gx, gy, gz = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (gx, gy, gz)))
    shape = gx.shape
    out = np.empty(gx.size, dtype=np.float64)
    if gx.size:
        _sample_batch(data, np.ascontiguousarray(gx).ravel(), np.ascontiguousarray(gy).ravel(),
                      np.ascontiguousarray(gz).ravel(), out)
    return out.reshape(shape)
