"""Bodies and raster I/O: the Moon's CRSs, LDEM_4 read from its label, GeoTIFFs with and without a CRS."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from explore.planetary.bodies import MOON, UnknownBodyError, body, crs
from explore.planetary.raster import LabelFormatError, MissingCRSError, Raster, read_raster


def test_moon_crs_codes_and_sphere():
    assert MOON.radius_m == 1_737_400.0
    assert crs("geographic").is_geographic
    for projection, code in (("geographic", 30100), ("equirectangular", 30110), ("north_polar", 30130), ("south_polar", 30135)):
        c = crs(projection)
        assert c.ellipsoid.semi_major_metre == pytest.approx(1_737_400.0)
        assert c.ellipsoid.semi_minor_metre == pytest.approx(1_737_400.0)
        assert MOON.iau_code(projection) == f"IAU_2015:{code}"
    south = crs("south_polar").to_dict()
    assert south["proj"] == "stere" and south["lat_0"] == -90


def test_proj_string_fallback_matches_the_iau_definition():
    from pyproj import CRS, Transformer

    for projection in ("equirectangular", "south_polar"):
        a = Transformer.from_crs(crs("geographic"), crs(projection), always_xy=True)
        b = Transformer.from_crs(CRS.from_proj4(MOON.proj_string("geographic")), CRS.from_proj4(MOON.proj_string(projection)), always_xy=True)
        assert np.allclose(a.transform(45.0, -85.0), b.transform(45.0, -85.0), atol=1e-6)


def test_unknown_body_is_named():
    assert body("MOON") is MOON
    with pytest.raises(UnknownBodyError, match="unknown body 'europa'"):
        body("europa")


@pytest.fixture(scope="module")
def ldem(test_data):
    return read_raster(test_data / "lunar" / "lola_ldem4" / "LDEM_4.LBL")


def _raw(test_data):
    return np.fromfile(test_data / "lunar" / "lola_ldem4" / "LDEM_4.IMG", dtype="<i2").reshape(720, 1440)


def test_ldem4_geometry_from_its_label(ldem, test_data):
    assert ldem.shape == (720, 1440)
    assert ldem.bounds == pytest.approx((0.0, -90.0, 360.0, 90.0))
    assert ldem.transform.a == pytest.approx(0.25)
    assert ldem.unit == "m"
    raw = _raw(test_data)
    assert np.array_equal(ldem.data, raw * 0.5)
    # the label's MAXIMUM DN (21008) times 0.5: the highest point, 10.5 km above the sphere
    assert np.nanmax(ldem.data) == 10504.0


@pytest.mark.parametrize("lon,lat", [(0.1, 89.9), (-3.2, 26.1), (356.8, 26.1), (180.0, 0.0), (359.99, -89.99), (-180.0, 45.3)])
def test_ldem4_sample_is_the_pixel_holding_the_point(ldem, test_data, lon, lat):
    raw = _raw(test_data)
    col = int(np.floor((lon % 360.0) * 4)) % 1440
    row = min(int(np.floor((90.0 - lat) * 4)), 719)
    assert ldem.sample(lon, lat) == raw[row, col] * 0.5


def test_wrapped_ldem4_gives_the_same_values(ldem):
    wrapped = ldem.wrap_longitudes()
    assert wrapped.bounds == pytest.approx((-180.0, -90.0, 180.0, 90.0))
    lon = np.array([-179.9, -90.0, -0.1, 0.1, 90.0, 179.9])
    lat = np.array([10.0, -20.0, 33.0, -45.0, 70.0, -80.0])
    assert np.array_equal(wrapped.sample(lon, lat), ldem.sample(lon, lat))


def test_bilinear_sampling_interpolates_between_pixel_centres(ldem):
    # the pixel centres of LDEM_4 are at (j + 0.5) / 4 deg: half way between two is their mean
    a = ldem.sample(10.125, 0.125)
    b = ldem.sample(10.375, 0.125)
    assert ldem.sample(10.25, 0.125, method="bilinear") == pytest.approx((a + b) / 2.0)


def test_geotiff_round_trip(tmp_path, ldem):
    out = ldem.wrap_longitudes().to_geotiff(tmp_path / "ldem.tif")
    back = read_raster(out)
    assert back.crs.ellipsoid.semi_major_metre == pytest.approx(1_737_400.0)
    assert back.sample(-3.2, 26.1) == ldem.sample(-3.2, 26.1)
    with rasterio.open(out) as ds:
        assert ds.overviews(1)  # a cloud-optimised GeoTIFF has internal overviews


def test_geotiff_without_crs_is_refused(tmp_path):
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=Affine(1, 0, 0, 0, -1, 4)) as dst:
        dst.write(np.zeros((4, 4), "float32"), 1)
    with pytest.raises(MissingCRSError, match="no coordinate reference system"):
        read_raster(path)


def test_not_a_raster_and_unprojected_label(tmp_path, test_data):
    junk = tmp_path / "junk.tif"
    junk.write_text("not a tiff")
    with pytest.raises(ValueError, match="not a raster GDAL can read"):
        read_raster(junk)
    # an LROC EDR label describes an image without a map projection: no CRS to give it
    with pytest.raises(LabelFormatError):
        read_raster(test_data / "lunar" / "ale_labels" / "M103595705LE_pds3.lbl")


def test_shadowcam_cog_reads_in_polar_stereographic(test_data):
    r = read_raster(test_data / "lunar" / "south_pole" / "SDC60_COG" / "M013292658S.60m.COG.tif")
    assert not r.is_geographic
    assert r.transform.a == 60.0
    # the image centre is 5-20 km from the pole: latitude about -89.5
    (left, bottom, right, top) = r.bounds
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(r.crs, r.crs.geodetic_crs, always_xy=True).transform((left + right) / 2, (bottom + top) / 2)
    assert -89.8 < lat < -89.3
    assert np.nanmax(r.data) < 1.0  # reflectance, not DN


def test_raster_dataclass_bounds():
    r = Raster(np.zeros((2, 3), "float32"), Affine(2, 0, 10, 0, -2, 20), crs("equirectangular"))
    assert r.bounds == (10, 16, 16, 20)
