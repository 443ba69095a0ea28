"""Distances, areas, profiles on the 1737.4 km sphere."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explore.planetary.geodesy import (
    GeometryError,
    circle,
    destination,
    distance,
    elevation_profile,
    great_circle_points,
    path_length,
    polygon_area,
    sample_path,
)
from explore.planetary.raster import read_raster

R = 1_737_400.0


def test_distance_known_answers():
    assert distance(0, 0, 90, 0) == pytest.approx(math.pi * R / 2)
    assert distance(0, -90, 123, 90) == pytest.approx(math.pi * R)
    assert distance(170, 0, -170, 0) == pytest.approx(math.radians(20) * R)  # across 180 deg
    assert distance(10, 20, 370 - 360, 20) == 0.0


def test_destination_and_back():
    lon, lat = destination(30.0, -40.0, 75.0, 123_456.0)
    assert distance(30.0, -40.0, float(lon), float(lat)) == pytest.approx(123_456.0, rel=1e-9)


def test_great_circle_midpoint_of_a_meridian_crossing_the_pole():
    lon, lat = great_circle_points(0.0, 80.0, 180.0, 80.0, 3)
    assert lat[1] == pytest.approx(90.0)
    with pytest.raises(GeometryError, match="antipodal"):
        great_circle_points(0, 0, 180, 0, 5)


def test_octant_and_cap_areas():
    assert polygon_area([(0, 0), (90, 0), (0, 90)]) == pytest.approx(math.pi * R**2 / 2, rel=1e-9)
    # a dense ring along 80 S approaches the spherical cap 2 pi R^2 (1 - sin 80)
    ring = [(lon, -80.0) for lon in np.arange(0.0, 360.0, 0.25)]
    cap = 2 * math.pi * R**2 * (1 - math.sin(math.radians(80)))
    assert polygon_area(ring) == pytest.approx(cap, rel=1e-4)


def test_area_across_180_equals_the_same_box_at_0():
    a = polygon_area([(170, -10), (-170, -10), (-170, 10), (170, 10)])
    b = polygon_area([(-10, -10), (10, -10), (10, 10), (-10, 10)])
    assert a == pytest.approx(b, rel=1e-12)
    assert a == pytest.approx(3.695838e11, rel=1e-6)


def test_zero_area_and_too_few_points():
    with pytest.raises(GeometryError, match="zero area"):
        polygon_area([(0, 0), (0, 1), (0, 2)])
    with pytest.raises(GeometryError, match="at least 3"):
        polygon_area([(0, 0), (1, 1)])
    with pytest.raises(GeometryError, match="latitude"):
        path_length([(0, 0), (0, 95)])


def test_path_sampling_includes_corners_and_crosses_180():
    d, lon, lat = sample_path([(170, 0), (-170, 0), (-170, 10)], spacing_m=50_000)
    assert d[0] == 0.0
    assert d[-1] == pytest.approx(path_length([(170, 0), (-170, 0), (-170, 10)]))
    assert np.all(np.abs(lon) <= 180.0)
    assert lon.max() > 179.0 and lon[lon < 0].min() < -179.0  # crossed at 180, not back through 0
    assert not np.any((lon > -170.0) & (lon < 170.0))
    assert np.all(np.diff(d) > 0)
    assert (-170.0, 0.0) in {(round(a, 9), round(b, 9)) for a, b in zip(lon, lat, strict=True)}


def test_circle_has_its_radius():
    ring = circle(20.0, -85.0, 10_000.0, n=16)
    assert np.allclose(distance(20.0, -85.0, ring[:, 0], ring[:, 1]), 10_000.0)


def test_profile_along_the_equator(test_data):
    dem = read_raster(test_data / "lunar" / "lola_ldem4" / "LDEM_4.LBL")
    prof = elevation_profile(dem, [(-10.0, 0.0), (10.0, 0.0)], n=81)
    assert prof.length_m == pytest.approx(math.radians(20) * R)
    # on the equator the samples fall on LDEM pixel edges in latitude: bilinear = mean of the two rows
    j = int(np.floor((10.0 % 360) * 4))
    expected = dem.sample(np.array([10.125, 10.125]), np.array([0.125, -0.125]))
    interp = dem.sample(10.125, 0.0, method="bilinear")
    assert interp == pytest.approx(expected.mean())
    assert np.isfinite(prof.value).all()
    assert j == 40
