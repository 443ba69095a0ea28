"""Numba kernels: trilinear samples of a cube and exact integrals of it along rays from the Sun.

Inside one voxel cell the trilinear field is a product of three functions linear in each coordinate;
along a straight ray every coordinate is linear in the path length, so the field is a cubic polynomial
of the path length within each cell. Simpson's rule integrates cubics exactly, so summing it over the
cell segments that a ray crosses (found with the voxel traversal of Amanatides & Woo 1987) gives the
exact line integral of the trilinear field, up to floating-point rounding.

Simpson's rule needs the field at both ends and the middle of a segment. The ends lie on cell faces,
where the field is bilinear in the four corners of the face, and each end value starts the next segment:
a cell costs one trilinear and one bilinear interpolation and four reads of the cube (the corners of the
face the ray enters are kept from the previous cell). That is about half the arithmetic of a two-point
Gauss-Legendre rule, which evaluates two trilinear interpolations per cell.

All positions here are in *grid units* (fractional voxel indices in array order); distances along rays
are in pc, with ``g = direction / step`` converting pc to grid units.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["exit_distance", "integrate_rays", "ray_order", "sample_points", "sightlines"]



@njit(cache=True, inline="always")
def _lerp(a, b, f):
    return a + f * (b - a)


@njit(cache=True, inline="always")
def _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, fx, fy, fz):
    c0 = _lerp(_lerp(c000, c100, fx), _lerp(c010, c110, fx), fy)
    c1 = _lerp(_lerp(c001, c101, fx), _lerp(c011, c111, fx), fy)
    return _lerp(c0, c1, fz)


@njit(cache=True, inline="always")
def _bilinear(c00, c10, c01, c11, fa, fb):
    return _lerp(_lerp(c00, c10, fa), _lerp(c01, c11, fa), fb)


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
def _integrate_ray(flat, nx, ny, nz, sx, sy, sz, gx, gy, gz, length):
    """Simpson's rule on every cell segment of one ray; ``flat`` is the C-ordered cube raveled."""
    sxs = ny * nz  # strides of the raveled cube along x and y (1 along z)
    sys = nz
    i, di, tx, dtx = _axis_start(sx, gx, nx)
    j, dj, ty, dty = _axis_start(sy, gy, ny)
    k, dk, tz, dtz = _axis_start(sz, gz, nz)
    # the start as fractions of the current cell, so that the point at path length r is (ox, oy, oz) + r g
    ox, oy, oz = sx - i, sy - j, sz - k
    base = (i * ny + j) * nz + k
    # the eight corners of the current cell; a step to the next cell keeps the four of the shared face
    c000, c001 = np.float64(flat[base]), np.float64(flat[base + 1])
    c010, c011 = np.float64(flat[base + sys]), np.float64(flat[base + sys + 1])
    c100, c101 = np.float64(flat[base + sxs]), np.float64(flat[base + sxs + 1])
    c110, c111 = np.float64(flat[base + sxs + sys]), np.float64(flat[base + sxs + sys + 1])
    f_start = _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, ox, oy, oz)
    total = 0.0  # six times the integral
    r = 0.0
    while True:
        if tx <= ty and tx <= tz:
            axis, r_next, leaves = 0, tx, i + di < 0 or i + di > nx - 2
        elif ty <= tz:
            axis, r_next, leaves = 1, ty, j + dj < 0 or j + dj > ny - 2
        else:
            axis, r_next, leaves = 2, tz, k + dk < 0 or k + dk > nz - 2
        last = r_next >= length
        end = length if last else r_next
        h = end - r
        mid = r + 0.5 * h
        f_mid = _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, ox + mid * gx, oy + mid * gy, oz + mid * gz)
        fx, fy, fz = ox + end * gx, oy + end * gy, oz + end * gz
        done = last or leaves
        if done:  # the target, or the cube's boundary (reached first only through rounding)
            f_end = _trilinear(c000, c100, c010, c110, c001, c101, c011, c111, fx, fy, fz)
        # else the ray steps into the next cell, and the segment's end value is on the face between the two:
        # bilinear in that face's corners, and the start of the next segment (the field is continuous)
        elif axis == 0:
            i += di
            tx += dtx
            ox -= float(di)
            if di > 0:
                base += sxs
                c000, c001, c010, c011 = c100, c101, c110, c111
                c100, c101 = np.float64(flat[base + sxs]), np.float64(flat[base + sxs + 1])
                c110, c111 = np.float64(flat[base + sxs + sys]), np.float64(flat[base + sxs + sys + 1])
                f_end = _bilinear(c000, c010, c001, c011, fy, fz)
            else:
                base -= sxs
                c100, c101, c110, c111 = c000, c001, c010, c011
                c000, c001 = np.float64(flat[base]), np.float64(flat[base + 1])
                c010, c011 = np.float64(flat[base + sys]), np.float64(flat[base + sys + 1])
                f_end = _bilinear(c100, c110, c101, c111, fy, fz)
        elif axis == 1:
            j += dj
            ty += dty
            oy -= float(dj)
            if dj > 0:
                base += sys
                c000, c001, c100, c101 = c010, c011, c110, c111
                c010, c011 = np.float64(flat[base + sys]), np.float64(flat[base + sys + 1])
                c110, c111 = np.float64(flat[base + sxs + sys]), np.float64(flat[base + sxs + sys + 1])
                f_end = _bilinear(c000, c100, c001, c101, fx, fz)
            else:
                base -= sys
                c010, c011, c110, c111 = c000, c001, c100, c101
                c000, c001 = np.float64(flat[base]), np.float64(flat[base + 1])
                c100, c101 = np.float64(flat[base + sxs]), np.float64(flat[base + sxs + 1])
                f_end = _bilinear(c010, c110, c011, c111, fx, fz)
        else:
            k += dk
            tz += dtz
            oz -= float(dk)
            if dk > 0:
                base += 1
                c000, c010, c100, c110 = c001, c011, c101, c111
                c001, c011 = np.float64(flat[base + 1]), np.float64(flat[base + sys + 1])
                c101, c111 = np.float64(flat[base + sxs + 1]), np.float64(flat[base + sxs + sys + 1])
                f_end = _bilinear(c000, c100, c010, c110, fx, fy)
            else:
                base -= 1
                c001, c011, c101, c111 = c000, c010, c100, c110
                c000, c010 = np.float64(flat[base]), np.float64(flat[base + sys])
                c100, c110 = np.float64(flat[base + sxs]), np.float64(flat[base + sxs + sys])
                f_end = _bilinear(c001, c101, c011, c111, fx, fy)
        total += h * (f_start + 4.0 * f_mid + f_end)
        if done:
            return total / 6.0
        f_start = f_end
        r = end


@njit(cache=True, parallel=True)
def _integrate_batch(flat, nx, ny, nz, sx, sy, sz, inv_step, ux, uy, uz, length, out):
    for n in prange(length.size):
        out[n] = _integrate_ray(flat, nx, ny, nz, sx, sy, sz, ux[n] * inv_step, uy[n] * inv_step, uz[n] * inv_step,
                                length[n])


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


@njit(cache=True, inline="always")
def _spread_bits(v):
    """The low 10 bits of ``v`` with two zero bits after each (one axis of a 3D Morton code)."""
    v &= 0x3FF
    v = (v | (v << 16)) & 0x030000FF
    v = (v | (v << 8)) & 0x0300F00F
    v = (v | (v << 4)) & 0x030C30C3
    return (v | (v << 2)) & 0x09249249


@njit(cache=True, parallel=True)
def _morton_keys(ux, uy, uz, keys):
    for n in prange(ux.size):
        qx = int(np.floor((ux[n] + 1.0) * 511.5))
        qy = int(np.floor((uy[n] + 1.0) * 511.5))
        qz = int(np.floor((uz[n] + 1.0) * 511.5))
        keys[n] = _spread_bits(qx) | (_spread_bits(qy) << 1) | (_spread_bits(qz) << 2)


@njit(cache=True)
def _radix_argsort(keys):
    """A stable argsort of 30-bit keys in linear time: three counting-sort passes of 10 bits."""
    n = keys.size
    order, spare = np.arange(n), np.empty(n, dtype=np.int64)
    sorted_keys, spare_keys = keys.copy(), np.empty(n, dtype=np.int64)
    for shift in (0, 10, 20):
        counts = np.zeros(1025, dtype=np.int64)
        for m in range(n):
            counts[((sorted_keys[m] >> shift) & 0x3FF) + 1] += 1
        for d in range(1024):
            counts[d + 1] += counts[d]
        for m in range(n):
            d = (sorted_keys[m] >> shift) & 0x3FF
            spare[counts[d]] = order[m]
            spare_keys[counts[d]] = sorted_keys[m]
            counts[d] += 1
        order, spare = spare, order
        sorted_keys, spare_keys = spare_keys, sorted_keys
    return order


def ray_order(ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:
    """An order of rays along a Z-order (Morton) curve of their unit vectors (10 bits per axis).

    Consecutive rays then run through the same voxels and find them in the CPU cache: on a cube of the
    published 25 pc map's size, random sightlines take 5x less time in this order than in a random one.
    """
    keys = np.empty(np.size(ux), dtype=np.int64)
    if keys.size:
        _morton_keys(*(np.ascontiguousarray(c, dtype=np.float64).ravel() for c in (ux, uy, uz)), keys)
    return _radix_argsort(keys)


@njit(cache=True, inline="always")
def _axis_exit(n, s, step, comp):
    if comp > 0.0:
        return (n - 1 - s) * step / comp
    if comp < 0.0:
        return -s * step / comp
    return np.inf


@njit(cache=True, parallel=True)
def _sightlines(l_deg, b_deg, nx, ny, nz, sx, sy, sz, step, ux, uy, uz, r_exit):
    for n in prange(l_deg.size):
        l_rad = np.radians(l_deg[n])
        b_rad = np.radians(b_deg[n])
        cos_b = np.cos(b_rad)
        x, y, z = cos_b * np.cos(l_rad), cos_b * np.sin(l_rad), np.sin(b_rad)
        ux[n], uy[n], uz[n] = x, y, z
        r_exit[n] = min(_axis_exit(nx, sx, step, x), _axis_exit(ny, sy, step, y), _axis_exit(nz, sz, step, z))


def sightlines(
    l_deg: np.ndarray, b_deg: np.ndarray, shape: tuple[int, int, int], sun_index: tuple[int, int, int],
    step_pc: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors of Galactic directions and their path lengths (pc) to the cube's boundary.

    The same numbers as :func:`explore.apps.gtomo.cube.galactic_to_xyz` at unit distance and
    :func:`exit_distance`, in one pass on all cores (a million targets in about 20 ms).
    """
    l_deg = np.ascontiguousarray(l_deg, dtype=np.float64).ravel()
    b_deg = np.ascontiguousarray(b_deg, dtype=np.float64).ravel()
    ux, uy, uz, r_exit = (np.empty(l_deg.size) for _ in range(4))
    if l_deg.size:
        _sightlines(l_deg, b_deg, *shape, *(float(s) for s in sun_index), float(step_pc), ux, uy, uz, r_exit)
    return ux, uy, uz, r_exit


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
    data = np.ascontiguousarray(data)  # a view of a C-ordered cube or memory map, a copy of any other
    nx, ny, nz = data.shape
    sx, sy, sz = (float(s) for s in sun_index)
    _integrate_batch(
        data.reshape(-1), nx, ny, nz, sx, sy, sz, 1.0 / step_pc,
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
