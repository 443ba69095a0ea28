"""Profiles along one sightline: density, exact cumulative extinction, errors, nothing beyond the cube."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.apps.gtomo import sightline_profile


def test_uniform_profile_is_linear_in_distance(cubes, analytic):
    prof = sightline_profile(cubes["uniform"], 45.0, 10.0, 100.0, step=7.0)
    d = prof.distance.to_value(u.pc)
    assert d[0] == 0 and d[-1] == 100.0  # the last distance is always included
    np.testing.assert_allclose(np.diff(d[:-1]), 7.0)
    np.testing.assert_allclose(prof.density.to_value(u.mag / u.pc), analytic.uniform_rho, rtol=1e-6)
    np.testing.assert_allclose(prof.cumulative.to_value(u.mag), analytic.uniform_rho * d, rtol=1e-6)
    assert prof.inside.all()


def test_slab_profile_towards_the_pole(cubes, analytic):
    """Towards b = 90: density rho up to H, a linear ramp to 0 over one voxel, then 0; cumulative
    rho * z up to H, then rho (H + step/2) beyond the ramp."""
    h, step, rho = analytic.slab_h, analytic.step, analytic.slab_rho
    prof = sightline_profile(cubes["slab"], 0.0, 90.0, 110.0, step=5.0)
    z = prof.distance.to_value(u.pc)
    expected_density = np.clip((h + step - z) / step, 0, 1) * rho
    ramp = (z > h) & (z < h + step)
    expected_cum = np.where(z <= h, rho * z, rho * (h + step / 2))
    expected_cum[ramp] = rho * h + rho * ((z[ramp] - h) - (z[ramp] - h) ** 2 / (2 * step))
    np.testing.assert_allclose(prof.density.to_value(u.mag / u.pc), expected_density, atol=1e-15)
    np.testing.assert_allclose(prof.cumulative.to_value(u.mag), expected_cum, rtol=1e-10, atol=1e-15)


def test_samples_beyond_the_cube_are_nan_and_marked(cubes, analytic):
    # towards l = 180 the uniform cube ends at x = -200 pc
    prof = sightline_profile(cubes["uniform"], 180.0, 0.0, 300.0, step=50.0)
    assert prof.edge.to_value(u.pc) == pytest.approx(200.0)
    assert prof.inside.tolist() == [True] * 5 + [False] * 2
    assert np.isnan(prof.density[5:]).all() and np.isnan(prof.cumulative[5:]).all()
    assert prof.cumulative[4].to_value(u.mag) == pytest.approx(analytic.uniform_rho * 200)
    table = prof.to_table()
    assert table.colnames == ["distance", "density", "cumulative", "inside"]
    assert table.meta["edge_pc"] == pytest.approx(200.0)


def test_profile_errors_from_both_kinds_of_error_cube(cubes, published, analytic):
    shape, sun = (41, 31, 21), (20, 12, 8)
    dens_err = published("explore_cube_density_errors_t.h5", np.full(shape, 3e-4), analytic.step, sun)
    prof = sightline_profile(cubes["uniform"], 90.0, 0.0, 60.0, step=20.0, error_cube=dens_err)
    np.testing.assert_allclose(prof.density_err.to_value(u.mag / u.pc), 3e-4)
    np.testing.assert_allclose(prof.cumulative_err.to_value(u.mag), 3e-4 * np.array([0, 20, 40, 60]), atol=1e-15)
    ext_err = published("explore_cube_extinct_errors_t.h5", np.full(shape, 0.05), analytic.step, sun)
    prof = sightline_profile(cubes["uniform"], 90.0, 0.0, 60.0, step=20.0, error_cube=ext_err)
    assert prof.density_err is None
    np.testing.assert_allclose(prof.cumulative_err.to_value(u.mag), 0.05)


@pytest.mark.parametrize(("b", "dmax", "match"), [(95.0, 100.0, "latitude"), (0.0, 0.0, "positive"), (0.0, -5.0, "positive")])
def test_bad_sightlines_are_refused(cubes, b, dmax, match):
    with pytest.raises(ValueError, match=match):
        sightline_profile(cubes["uniform"], 10.0, b, dmax)
