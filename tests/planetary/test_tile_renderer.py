"""Tile matrix sets and tiles: values of a tile equal the source raster's, transparent tiles outside."""

from __future__ import annotations

import io

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
    assert tile_matrix_set("MoonSouthPolarSphere").id == "MoonSouthPolarSphere"
    with pytest.raises(UnknownTileMatrixSetError, match="unknown tile matrix set"):
        tile_matrix_set("EarthWebMercator")


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
    fine = tms.tile(lon, lat, 8)      # 8.6 m pixels: the 60 m image is used
    coarse = tms.tile(lon, lat, 1)    # 1.1 km pixels: it is not
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
    assert tj["tile_matrix_set"] == "MoonSouthPolarSphere"
