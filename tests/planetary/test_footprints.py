"""Footprints and regions across the 180 deg meridian and around the poles."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import Point

from explore.planetary.footprints import (
    FootprintError,
    RegionError,
    footprint_from_bbox,
    footprint_from_corners,
    footprint_from_wkt,
    lon_extent,
    polar_to_lonlat,
    region_from_bbox,
    region_from_wkt,
    split_antimeridian,
)


def test_plain_footprint_in_0_360_becomes_minus180_180():
    fp = footprint_from_corners([357.67, 356.87, 356.86, 357.66], [-13.96, -13.96, -13.34, -13.34])
    assert fp.lon_min == pytest.approx(-3.14) and fp.lon_max == pytest.approx(-2.33)
    assert fp.polar is None and not fp.crosses_antimeridian


def test_footprint_crossing_180_is_split_and_has_an_unwrapped_box():
    fp = footprint_from_corners([175, -175, -175, 175], [0, 0, 5, 5])
    assert fp.lonlat.geom_type == "MultiPolygon"
    assert {round(p.bounds[0]) for p in fp.lonlat.geoms} == {-180, 175}
    assert (fp.lon_min, fp.lon_max) == (175.0, 185.0)
    assert fp.crosses_antimeridian
    assert fp.lonlat.area == pytest.approx(50.0)


def test_footprint_crossing_the_pole_contains_it():
    fp = footprint_from_corners([0, 90, 180, 270], [-88, -88, -88, -88])
    assert fp.encloses_pole
    assert (fp.lon_min, fp.lon_max, fp.lat_min) == (-180.0, 180.0, -90.0)
    assert fp.lonlat.contains(Point(123.0, -89.5))
    assert fp.pole == "S" and fp.polar.contains(Point(0, 0))
    # edges are straight in lon/lat, here along the 88 S parallel: a circle of r = 2R tan(1 deg) on the polar map
    import math

    r = 2 * 1_737_400 * math.tan(math.radians(1.0))
    assert fp.polar.area == pytest.approx(math.pi * r * r, rel=1e-3)


def test_real_ode_footprint_across_the_prime_meridian():
    fp = footprint_from_wkt("POLYGON ((0.044 -0.237, 0.025 -0.239, -0.03 0.212, -0.011 0.214, 0.044 -0.237))")
    assert fp.lon_min == pytest.approx(-0.03) and fp.lon_max == pytest.approx(0.044)


def test_wkt_already_split_at_180_gets_one_box():
    fp = footprint_from_wkt("MULTIPOLYGON (((170 0, 180 0, 180 5, 170 5, 170 0)), ((-180 0, -175 0, -175 5, -180 5, -180 0)))")
    assert (fp.lon_min, fp.lon_max) == (170.0, 185.0)


def test_lon_extent_picks_the_short_way_round():
    geom = shapely.MultiPolygon([shapely.box(-180, 0, -170, 1), shapely.box(100, 0, 180, 1)])
    assert lon_extent(geom) == (100.0, 190.0)
    assert lon_extent(shapely.box(-10, 0, 10, 1)) == (-10.0, 10.0)


def test_bbox_footprints():
    cap = footprint_from_bbox(-180, -90, 180, -80)
    assert cap.encloses_pole and cap.polar.contains(Point(0, 0))
    band = footprint_from_bbox(0, -85, 360, -80)
    assert len(band.polar.interiors) == 1
    glob = footprint_from_bbox(0, -90, 360, 90)
    assert glob.polar is None and glob.centre_lat == 0.0


def test_bad_footprints():
    with pytest.raises(FootprintError, match="zero area"):
        footprint_from_corners([0, 1, 2], [0, 1, 2])
    with pytest.raises(FootprintError, match="at least 3"):
        footprint_from_corners([0, 1], [0, 1])
    with pytest.raises(FootprintError, match="outside -90..90"):
        footprint_from_corners([0, 1, 1], [0, 95, 0])
    with pytest.raises(FootprintError, match="POINT"):
        footprint_from_wkt("POINT (1 2)")


def test_box_region_across_180():
    r = region_from_bbox(170, -10, -170, 10)
    assert (r.lon_min, r.lon_max) == (170.0, 190.0)
    assert r.geometry.area == pytest.approx(400.0)
    assert (-190.0, -170.0) in r.lon_windows()


def test_region_around_the_south_pole_in_lonlat_and_polar():
    ring = region_from_wkt("POLYGON ((0 -80, 90 -80, 180 -80, 270 -80, 0 -80))")
    assert (ring.lat_min, ring.lat_max, ring.lon_min, ring.lon_max) == (-90.0, -80.0, -180.0, 180.0)
    assert ring.geometry.contains(Point(-135.0, -85.0))
    square = region_from_wkt("POLYGON ((-50000 -50000, 50000 -50000, 50000 50000, -50000 50000, -50000 -50000))",
                             crs="south_polar")
    assert square.lat_min == -90.0 and square.lon_max - square.lon_min == 360.0
    # the corner of a 100 km square centred on the pole is 70.7 km away: latitude 87.668 S
    assert square.lat_max == pytest.approx(-87.6684, abs=1e-3)


def test_polar_polygon_off_the_pole_stays_small():
    g = polar_to_lonlat(shapely.box(10000, 10000, 50000, 50000), "S")
    assert g.bounds[0] == pytest.approx(11.31, abs=0.01) and g.bounds[2] == pytest.approx(78.69, abs=0.01)


@pytest.mark.parametrize("bbox", [(10, 0, 10, 5), (0, 5, 10, 5), (0, 6, 10, 5), (0, -95, 10, 5)])
def test_regions_with_zero_area_or_bad_bounds(bbox):
    with pytest.raises(RegionError):
        region_from_bbox(*bbox)


@pytest.mark.parametrize("wkt", ["POLYGON ((0 0, 1 1, 2 2, 0 0))", "LINESTRING (0 0, 1 1)", "nonsense"])
def test_bad_region_polygons(wkt):
    with pytest.raises(RegionError):
        region_from_wkt(wkt)


def test_split_antimeridian_of_a_wide_box():
    parts = split_antimeridian(shapely.box(90, 0, 300, 10))
    assert parts.area == pytest.approx(2100.0)
    assert parts.bounds == (-180.0, 0.0, 180.0, 10.0)
