"""Slope and hillshade against DEMs with a known answer."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine

from explore.planetary.bodies import MOON, crs
from explore.planetary.derivatives import aspect, ground_spacing, hillshade, slope
from explore.planetary.raster import Raster


def plane(slope_deg: float, dip_towards: str = "east", n: int = 64, pixel: float = 20.0) -> Raster:
    x = np.arange(n) * pixel
    z = -np.tan(np.radians(slope_deg)) * x
    data = np.tile(z, (n, 1)) if dip_towards == "east" else np.tile(z[::-1, None], (1, n))
    # a small patch at the south pole, where polar stereographic is true to scale
    return Raster(data.astype("float32"), Affine(pixel, 0, -n * pixel / 2, 0, -pixel, n * pixel / 2), crs("south_polar"))


@pytest.mark.parametrize("angle", [0.0, 5.0, 10.0, 30.0, 60.0])
def test_plane_slope_is_its_angle(angle):
    s = slope(plane(angle)).data[1:-1, 1:-1]
    assert np.allclose(s, angle, atol=1e-3)


def test_plane_aspect_is_its_dip_direction():
    assert np.allclose(aspect(plane(10.0, "east")).data[1:-1, 1:-1], 90.0, atol=1e-3)
    # values increasing down the grid: the plane dips towards grid north
    north = plane(10.0, "south")
    assert np.allclose(aspect(north).data[1:-1, 1:-1], 0.0, atol=1e-3) or np.allclose(aspect(north).data[1:-1, 1:-1], 360.0, atol=1e-3)


def test_hillshade_known_values():
    flat = plane(0.0)
    assert np.allclose(hillshade(flat, altitude=30.0).data, np.sin(np.radians(30.0)), atol=1e-6)
    # a slope facing the Sun, as steep as the Sun's zenith distance, is lit head-on
    facing = plane(40.0, "east")
    assert np.allclose(hillshade(facing, azimuth=90.0, altitude=50.0).data[1:-1, 1:-1], 1.0, atol=1e-5)
    # the same slope turned away from the Sun: cos(zenith + slope)
    assert np.allclose(hillshade(facing, azimuth=270.0, altitude=50.0).data[1:-1, 1:-1],
                       np.cos(np.radians(40 + 40)), atol=1e-5)


def test_geographic_spacing_shrinks_with_latitude():
    r = Raster(np.zeros((720, 4), "float32"), Affine(0.25, 0, 0, 0, -0.25, 90), crs("geographic"))
    dx, dy = ground_spacing(r)
    step = np.radians(0.25) * MOON.radius_m
    assert float(dy) == pytest.approx(step)
    lat = 90 - (np.arange(720) + 0.5) * 0.25
    assert np.allclose(dx[:, 0], step * np.cos(np.radians(lat)))


def test_slope_on_the_sphere_of_an_east_west_ramp():
    """z = k * R * lambda: the east-west gradient is k / cos(lat), so the slope grows poleward."""
    k = 0.05
    lon = np.arange(40) * 0.25 + 0.125
    z = k * MOON.radius_m * np.radians(lon)
    r = Raster(np.tile(z, (720, 1)).astype("float64"), Affine(0.25, 0, 0, 0, -0.25, 90), crs("geographic"))
    lat = 90 - (np.arange(720) + 0.5) * 0.25
    expected = np.degrees(np.arctan(k / np.cos(np.radians(lat))))
    got = slope(r).data[:, 20]
    assert np.allclose(got[5:-5], expected[5:-5], rtol=1e-4)
    assert got[360] == pytest.approx(2.8624, abs=1e-3)     # equator: atan(0.05)
    assert got[120] == pytest.approx(5.6893, abs=1e-3)     # 60 deg: atan(0.1)


def test_slope_of_a_north_south_ramp_is_the_same_everywhere():
    k = np.tan(np.radians(7.0))
    lat = 90 - (np.arange(720) + 0.5) * 0.25
    z = k * MOON.radius_m * np.radians(lat)
    r = Raster(np.tile(z[:, None], (1, 8)), Affine(0.25, 0, 0, 0, -0.25, 90), crs("geographic"))
    assert np.allclose(slope(r).data[1:-1, 1:-1], 7.0, atol=1e-4)
