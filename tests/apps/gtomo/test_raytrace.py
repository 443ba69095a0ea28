"""The numba kernels: exact line integrals of the trilinear field on any cube, the sightlines' directions
and exit distances, and the Morton order of the rays."""

from __future__ import annotations

import numpy as np
import pytest

from explore.apps.gtomo.cube import galactic_to_xyz
from explore.apps.gtomo.raytrace import exit_distance, integrate_rays, ray_order, sample_points, sightlines


def reference_integral(data, sun, step, u, length):
    """The line integral of the trilinear field, computed independently of the kernel: the ray is cut at
    every cell face it crosses (all three axes' crossings, merged and sorted), and each piece (a cubic)
    is integrated with a 3-point Gauss-Legendre rule (exact to degree 5)."""
    g = np.asarray(u, dtype=float) / step
    cuts = [0.0, length]
    for axis in range(3):
        if g[axis] != 0:
            faces = np.arange(data.shape[axis])
            t = (faces - sun[axis]) / g[axis]
            cuts += list(t[(t > 0) & (t < length)])
    cuts = np.unique(cuts)
    nodes, weights = np.polynomial.legendre.leggauss(3)
    total = 0.0
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        s = 0.5 * (a + b) + 0.5 * (b - a) * nodes
        pos = [sun[axis] + s * g[axis] for axis in range(3)]
        total += 0.5 * (b - a) * np.dot(weights, sample_points(data, *pos))
    return total


def random_rays(rng, n, shape, sun, step):
    """Random directions from the Sun, and lengths up to the cube's boundary (some exactly to it)."""
    v = rng.normal(size=(3, n))
    v /= np.linalg.norm(v, axis=0)
    edge = exit_distance(shape, sun, step, *v)
    length = edge * rng.uniform(0.01, 1.0, n)
    length[::7] = edge[::7]
    return v, length


def test_integrals_on_a_random_cube_match_an_independent_piecewise_quadrature():
    rng = np.random.default_rng(11)
    shape, sun, step = (17, 13, 9), (8, 5, 4), 10.0
    data = rng.random(shape)
    v, length = random_rays(rng, 60, shape, sun, step)
    got = integrate_rays(data, sun, step, *v, length)
    expected = [reference_integral(data, sun, step, v[:, n], length[n]) for n in range(60)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_rays_along_the_axes_and_diagonals_both_ways():
    """Along +-x from the Sun at node 2 of a cube whose values are x^2 on the nodes: the trilinear field
    is the piecewise-linear interpolant of i^2, whose integral over one cell [i, i + 1] is
    (i^2 + (i + 1)^2) / 2."""
    shape, sun, step = (7, 5, 5), (2, 2, 2), 1.0
    i = np.arange(shape[0], dtype=float)
    data = np.broadcast_to((i**2)[:, None, None], shape).copy()
    got = integrate_rays(data, sun, step, np.array([1.0, -1.0]), np.zeros(2), np.zeros(2), np.array([4.0, 2.0]))
    # +x: cells 2-3, 3-4, 4-5, 5-6; -x: cells 2-1, 1-0
    assert got[0] == pytest.approx((4 + 9) / 2 + (9 + 16) / 2 + (16 + 25) / 2 + (25 + 36) / 2, rel=1e-14)
    assert got[1] == pytest.approx((4 + 1) / 2 + (1 + 0) / 2, rel=1e-14)
    # the eight diagonals of a uniform cube all give rho * length, also to the corners of the cube
    uniform = np.full((5, 5, 5), 0.25)
    d = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float).T / np.sqrt(3)
    corner = np.full(8, 2.0 * np.sqrt(3))
    np.testing.assert_allclose(integrate_rays(uniform, (2, 2, 2), 1.0, *d, corner), 0.25 * corner, rtol=1e-13)


def test_float32_and_strided_cubes_give_the_same_integrals():
    rng = np.random.default_rng(5)
    shape, sun, step = (11, 9, 7), (5, 4, 3), 5.0
    data = rng.random(shape)
    v, length = random_rays(rng, 40, shape, sun, step)
    ref = integrate_rays(data, sun, step, *v, length)
    fortran = np.asfortranarray(data)
    np.testing.assert_allclose(integrate_rays(fortran, sun, step, *v, length), ref, rtol=1e-14)
    single = data.astype(np.float32)
    np.testing.assert_allclose(integrate_rays(single, sun, step, *v, length),
                               integrate_rays(single.astype(np.float64), sun, step, *v, length), rtol=1e-14)
    assert integrate_rays(data, sun, step, *v[:, :0], length[:0]).shape == (0,)


def test_sightlines_are_unit_vectors_and_exit_distances():
    shape, sun, step = (41, 31, 21), (20, 12, 8), 10.0
    l_deg = np.array([0.0, 90.0, 180.0, 270.0, 0.0, 0.0, 45.0])
    b_deg = np.array([0.0, 0.0, 0.0, 0.0, 90.0, -90.0, 30.0])
    ux, uy, uz, edge = sightlines(l_deg, b_deg, shape, sun, step)
    # +x to node 40 (200 pc), +y to node 30 (180 pc), -x to node 0 (200 pc), -y (120 pc), +z (120), -z (80)
    np.testing.assert_allclose(edge[:6], [200.0, 180.0, 200.0, 120.0, 120.0, 80.0], rtol=1e-12)
    np.testing.assert_allclose(np.stack([ux, uy, uz]), np.stack(galactic_to_xyz(l_deg, b_deg, 1.0)), atol=1e-15)
    np.testing.assert_allclose(edge, exit_distance(shape, sun, step, ux, uy, uz), rtol=1e-15)
    # l = 45, b = 30: u = (0.6124, 0.6124, 0.5): the z face (120 pc away) is met first, at 240 pc
    assert edge[6] == pytest.approx(240.0)


def morton_key(ux, uy, uz):
    """The Z-order key of a unit vector, one bit at a time: bit b of the 10-bit quantised x, y and z goes
    to bits 3b, 3b + 1 and 3b + 2."""
    q = [int(np.floor((c + 1.0) * 511.5)) & 0x3FF for c in (ux, uy, uz)]
    return sum(((q[axis] >> bit) & 1) << (3 * bit + axis) for bit in range(10) for axis in range(3))


def test_ray_order_is_a_stable_sort_along_the_morton_curve():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(3, 2000))
    v /= np.linalg.norm(v, axis=0)
    v[:, 1000:1010] = v[:, 5:6]  # ties keep the input order
    keys = np.array([morton_key(*v[:, n]) for n in range(v.shape[1])])
    np.testing.assert_array_equal(ray_order(*v), np.argsort(keys, kind="stable"))
    assert morton_key(-1.0, -1.0, -1.0) == 0 and morton_key(1.0, 1.0, 1.0) == 2**30 - 1
    assert ray_order(np.empty(0), np.empty(0), np.empty(0)).size == 0
