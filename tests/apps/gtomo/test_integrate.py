"""Integrated extinction is exact for the trilinear density field, flags what it cannot compute, and
loses nothing else."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from scipy.special import erf

from explore.apps.gtomo import DustCube, Flag, extinction_to, flag_names, integrate_extinction
from explore.apps.gtomo.cube import galactic_to_xyz
from explore.apps.gtomo.raytrace import sample_points

UNIFORM_RHO = 1e-3  # the constants of the cubes of conftest.py (checked by test_constants_match_the_cubes)
SLAB_RHO = 2e-3
SLAB_H = 50.0
STEP = 10.0


def test_constants_match_the_cubes(analytic):
    assert (analytic.uniform_rho, analytic.slab_rho, analytic.slab_h, analytic.step) == (UNIFORM_RHO, SLAB_RHO, SLAB_H, STEP)


def test_uniform_density_gives_rho_times_distance(cubes):
    l_deg = np.array([0.0, 45.0, 123.4, 270.0, 300.0])
    b_deg = np.array([0.0, 10.0, -20.0, 30.0, -5.0])
    d = np.array([100.0, 57.3, 80.0, 1.0, 110.0])
    res = integrate_extinction(cubes["uniform"], l_deg, b_deg, d)
    np.testing.assert_allclose(res.a0.to_value(u.mag), UNIFORM_RHO * d, rtol=1e-6)
    assert res.a0.unit == u.mag
    assert not res.flag.any()
    assert res.a0_err is None


def test_cubic_trilinear_field_is_integrated_exactly(cubes):
    """rho = c0 + c1 x y z is trilinear, so the grid holds it exactly; along a ray x y z = ux uy uz s^3
    and the integral is c0 d + c1 ux uy uz d^4 / 4."""
    rng = np.random.default_rng(1)
    l_deg = rng.uniform(0, 360, 50)
    b_deg = rng.uniform(-40, 40, 50)
    d = rng.uniform(5, 70, 50)
    ux, uy, uz = galactic_to_xyz(l_deg, b_deg, 1.0)
    expected = 1e-3 * d + 1e-9 * ux * uy * uz * d**4 / 4
    res = integrate_extinction(cubes["cubic"], l_deg, b_deg, d)
    assert not res.flag.any()
    np.testing.assert_allclose(res.a0.to_value(u.mag), expected, rtol=1e-10, atol=1e-15)


def test_slab_gives_the_column_over_sin_b(cubes):
    """Nodes at |z| <= H hold rho, so the trilinear slab ramps to 0 over one voxel: the vertical column
    from the Sun (inside the slab) to beyond it is rho (H + step / 2); a sightline at latitude b crosses it
    over a path 1/sin|b| longer."""
    b_deg = np.array([90.0, 60.0, 45.0, -35.0, -70.0])
    l_deg = np.array([0.0, 30.0, 200.0, 100.0, 290.0])
    d = (SLAB_H + 2 * STEP) / np.sin(np.radians(np.abs(b_deg)))
    res = integrate_extinction(cubes["slab"], l_deg, b_deg, d)
    expected = SLAB_RHO * (SLAB_H + STEP / 2) / np.sin(np.radians(np.abs(b_deg)))
    np.testing.assert_allclose(res.a0.to_value(u.mag), expected, rtol=1e-10)


def test_gaussian_cloud_matches_the_error_function(cubes):
    """A Gaussian cloud (peak P, width s, centre c): along a unit direction u to distance D the
    integral is P exp(-(|c|^2 - (u.c)^2) / 2s^2) s sqrt(pi/2) [erf((D - u.c)/(s sqrt2)) + erf(u.c/(s sqrt2))].
    The trilinear interpolant between nodes h apart departs from a smooth f by t(1 - t) h^2 f'' / 2 across
    each axis perpendicular to the ray; at the cloud's core (f''/f = -1/s^2) that bounds the relative
    error by 2 x h^2 / (8 s^2) = 0.7 per cent for h = 5 pc, s = 30 pc."""
    c = np.array([200.0, 100.0, 0.0])
    peak, s = 0.02, 30.0
    l_c = np.degrees(np.arctan2(c[1], c[0]))
    l_deg = np.array([l_c, l_c, l_c + 5, l_c - 8, l_c])
    b_deg = np.array([0.0, 0.0, 2.0, -3.0, 4.0])
    d = np.array([400.0, 223.6, 300.0, 350.0, 260.0])
    u_vec = np.stack(galactic_to_xyz(l_deg, b_deg, 1.0), axis=1)
    uc = u_vec @ c
    expected = (peak * np.exp(-(c @ c - uc**2) / (2 * s**2)) * s * np.sqrt(np.pi / 2)
                * (erf((d - uc) / (s * np.sqrt(2))) + erf(uc / (s * np.sqrt(2)))))
    res = integrate_extinction(cubes["gauss"], l_deg, b_deg, d)
    assert expected[0] == pytest.approx(peak * s * np.sqrt(2 * np.pi), rel=1e-6)
    np.testing.assert_allclose(res.a0.to_value(u.mag), expected, rtol=2 * 5.0**2 / (8 * s**2))


def test_exact_integral_agrees_with_a_fine_midpoint_sum_on_a_random_cube(published):
    rng = np.random.default_rng(3)
    data = rng.random((13, 15, 11))
    cube = DustCube.open(published("random.h5", data, 10.0, (6, 7, 5)))
    l_deg = rng.uniform(0, 360, 20)
    b_deg = rng.uniform(-20, 20, 20)
    d = rng.uniform(10, 45, 20)
    res = integrate_extinction(cube, l_deg, b_deg, d)
    for i in range(20):
        n = 20_000
        s = (np.arange(n) + 0.5) / n * d[i]
        pos = cube.to_index(*galactic_to_xyz(l_deg[i], b_deg[i], s))
        midpoint = sample_points(cube.values(), *pos).sum() * d[i] / n
        # the midpoint rule's error is O(h^2 f''), tiny at 20000 steps, but kinks at cell faces add O(h)
        assert res.a0[i].to_value(u.mag) == pytest.approx(midpoint, rel=2e-4)


def test_result_does_not_depend_on_chunking_or_input_order(cubes):
    rng = np.random.default_rng(7)
    l_deg, b_deg, d = rng.uniform(0, 360, 300), rng.uniform(-30, 30, 300), rng.uniform(1, 100, 300)
    whole = integrate_extinction(cubes["cubic"], l_deg, b_deg, d).a0
    chunked = integrate_extinction(cubes["cubic"], l_deg, b_deg, d, chunk_size=17).a0
    perm = rng.permutation(300)
    shuffled = integrate_extinction(cubes["cubic"], l_deg[perm], b_deg[perm], d[perm]).a0
    np.testing.assert_array_equal(whole, chunked)
    np.testing.assert_allclose(shuffled, whole[perm], rtol=1e-14)


def test_progress_is_reported_per_chunk(cubes):
    calls = []
    integrate_extinction(cubes["uniform"], np.zeros(10), np.zeros(10), np.full(10, 50.0), chunk_size=4,
                         progress=lambda done, total: calls.append((done, total)))
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_bad_rows_are_flagged_and_the_others_computed(cubes):
    l_deg = np.array([10.0, 10.0, 10.0, np.nan, 400.0, 10.0, 10.0])
    b_deg = np.array([0.0, 95.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    d = np.array([50.0, 50.0, -5.0, 50.0, 50.0, 0.0, 50.0])
    res = integrate_extinction(cubes["uniform"], l_deg, b_deg, d)
    assert res.flag.tolist() == [0, 4, 2, 4, 4, 2, 0]
    a0 = res.a0.to_value(u.mag)
    assert a0[0] == pytest.approx(UNIFORM_RHO * 50) and a0[6] == pytest.approx(UNIFORM_RHO * 50)
    assert np.isnan(a0[1:6]).all()
    assert flag_names(6) == ["BAD_DISTANCE", "BAD_COORDINATES"]


def test_target_beyond_the_cube_is_flagged_never_extrapolated(cubes):
    # uniform cube: x from -200 to +200 pc; towards l = 0 the edge is at 200 pc
    res = integrate_extinction(cubes["uniform"], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [150.0, 200.0, 260.0])
    assert res.flag.tolist() == [0, 0, Flag.OUTSIDE_CUBE]
    assert np.isnan(res.a0[2])
    edge = integrate_extinction(cubes["uniform"], [0.0], [0.0], [260.0], beyond="edge")
    assert edge.flag.tolist() == [Flag.OUTSIDE_CUBE]
    assert edge.a0[0].to_value(u.mag) == pytest.approx(UNIFORM_RHO * 200)  # a lower limit: to the edge only


def test_nan_in_the_cube_is_flagged_no_data(published):
    data = np.full((11, 11, 11), 1e-3)
    data[7, 5, 5] = np.nan  # 20 pc towards l = 0 from the Sun at (5, 5, 5)
    cube = DustCube.open(published("nan.h5", data, 10.0, (5, 5, 5)))
    res = integrate_extinction(cube, [0.0, 180.0], [0.0, 0.0], [40.0, 40.0])
    assert res.flag.tolist() == [Flag.NO_DATA, 0]
    assert np.isnan(res.a0[0]) and res.a0[1].to_value(u.mag) == pytest.approx(0.04)


def test_extinction_error_cube_is_read_at_the_target(published, cubes):
    shape, sun = (41, 31, 21), (20, 12, 8)
    x = (np.arange(shape[0]) - sun[0]) * STEP
    err = np.broadcast_to((0.01 + 1e-4 * x)[:, None, None], shape).copy()  # linear in x: exact trilinear
    path = published("explore_cube_extinct_errors_test.h5", err, STEP, sun)
    res = integrate_extinction(cubes["uniform"], [0.0, 180.0], [0.0, 0.0], [100.0, 50.0], error_cube=path)
    np.testing.assert_allclose(res.a0_err.to_value(u.mag), [0.01 + 1e-4 * 100, 0.01 - 1e-4 * 50])
    assert not res.flag.any()


def test_density_error_cube_is_integrated_along_the_sightline(published, cubes):
    err = np.full((41, 31, 21), 2e-4)
    path = published("explore_cube_density_errors_test.h5", err, STEP, (20, 12, 8))
    res = integrate_extinction(cubes["uniform"], [30.0], [10.0], [70.0], error_cube=path)
    assert res.a0_err[0].to_value(u.mag) == pytest.approx(2e-4 * 70)


def test_error_cube_smaller_than_the_density_cube_flags_no_error(published, cubes):
    path = published("small_err.h5", np.full((5, 5, 5), 0.1), STEP, (2, 2, 2))  # covers +-20 pc
    res = integrate_extinction(cubes["uniform"], [0.0, 0.0], [0.0, 0.0], [15.0, 100.0], error_cube=path,
                               error_kind="extinction_error")
    assert res.flag.tolist() == [0, Flag.NO_ERROR]
    assert res.a0_err[0].to_value(u.mag) == pytest.approx(0.1)
    assert np.isfinite(res.a0[1])


def test_error_cube_of_unknown_kind_needs_error_kind(published, cubes):
    path = published("mystery.h5", np.ones((3, 3, 3)), STEP, (1, 1, 1))
    with pytest.raises(ValueError, match="error_kind"):
        integrate_extinction(cubes["uniform"], [0.0], [0.0], [10.0], error_cube=path)


def test_extinction_to_takes_quantities_and_returns_a_scalar_quantity(cubes):
    a0 = extinction_to(cubes["uniform"], 20 * u.deg, 5 * u.deg, 0.08 * u.kpc)
    assert a0.isscalar and a0.unit == u.mag
    assert a0.to_value(u.mag) == pytest.approx(UNIFORM_RHO * 80)
    many = extinction_to(cubes["uniform"], [20.0, 40.0], [5.0, 5.0], [10.0, 20.0])
    np.testing.assert_allclose(many.to_value(u.mag), [0.01, 0.02])
    ebv = extinction_to(cubes["uniform"], 20.0, 5.0, 80.0, band="E(B-V)")
    assert ebv.to_value(u.mag) == pytest.approx(0.08 / 3.109, rel=2e-3)  # G23, R(V) = 3.1


def test_distance_in_wrong_units_is_refused(cubes):
    with pytest.raises(u.UnitConversionError, match="distance"):
        extinction_to(cubes["uniform"], 20.0, 5.0, 80 * u.mag)
