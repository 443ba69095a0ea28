"""Galactic Cartesian positions from ra, dec and parallax."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest

from explore.astro.frames import galactic_cartesian, parallax_distance


def test_galactic_centre_direction_is_plus_x():
    # Sgr A* direction, parallax 1 mas = 1 kpc
    x, y, z = galactic_cartesian(np.array([266.41683]) * u.deg, np.array([-29.00781]) * u.deg,
                                 np.array([1.0]) * u.mas)
    assert x[0].to_value(u.kpc) == pytest.approx(1.0, abs=2e-3)
    assert abs(y[0].to_value(u.kpc)) < 2e-3 and abs(z[0].to_value(u.kpc)) < 2e-3


def test_north_galactic_pole_is_plus_z():
    x, y, z = galactic_cartesian([192.85948] * u.deg, [27.12825] * u.deg, [2.0] * u.mas)
    assert z[0].to_value(u.kpc) == pytest.approx(0.5, abs=1e-4)


def test_non_positive_or_missing_parallax_gives_nan():
    x, y, z = galactic_cartesian([10.0, 20.0, 30.0] * u.deg, [0.0, 0.0, 0.0] * u.deg, [-0.5, np.nan, 4.0] * u.mas)
    assert np.isnan(x[:2]).all() and np.isfinite(x[2])
    assert parallax_distance([4.0] * u.mas)[0] == 250 * u.pc


def test_galactocentric_sun_is_at_minus_8_kpc():
    x, _, _ = galactic_cartesian([0.0] * u.deg, [90.0] * u.deg, [1e6] * u.mas, frame="galactocentric")
    assert x[0].to_value(u.kpc) == pytest.approx(-8.122, abs=0.01)
