"""``/tiles/moon/...``: PNG tiles, transparent outside, 404 JSON for unknown names, never a 500."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from explore.planetary.tiles import empty_tile


class _Catalogue:
    def __init__(self):
        from explore.apps.lexplo.app import LExplo

        self.apps = {"lexplo": LExplo}


class _Platform:
    def __init__(self, data_dir):
        from explore.settings import Settings

        self.settings = Settings(data_dir=data_dir)
        self.catalogue = _Catalogue()


@pytest.fixture(scope="module")
def client(tmp_path_factory, test_data):
    from explore.apps.lexplo.layers import prepare_demo_data
    from explore.web import tiles
    from explore.web.deps import get_platform

    data_dir = tmp_path_factory.mktemp("var")
    prepare_demo_data(data_dir, source=test_data / "lunar")
    app = FastAPI()
    app.include_router(tiles.router)
    stub = _Platform(data_dir)
    app.dependency_overrides[get_platform] = lambda: stub
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _png(response) -> np.ndarray:
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)))


@pytest.mark.parametrize("layer", ["elevation", "hillshade", "slope"])
@pytest.mark.parametrize("tms,z,x,y", [("geographic", 0, 0, 0), ("equirectangular", 1, 1, 0), ("south_polar", 0, 0, 0),
                                       ("north_polar", 1, 1, 1), ("webmercator", 1, 0, 1)])
def test_tiles_of_each_layer(client, layer, tms, z, x, y):
    img = _png(client.get(f"/tiles/moon/{layer}/{tms}/{z}/{x}/{y}.png"))
    assert img.shape == (256, 256, 4)
    assert (img[..., 3] == 255).mean() > 0.5  # the global DEM covers these tiles


@pytest.mark.parametrize("layer", ["elevation", "hillshade", "slope"])
@pytest.mark.parametrize("tms", ["south_polar", "north_polar"])
def test_the_polar_maps_show_the_base_layers_down_to_45_degrees(client, layer, tms):
    # zoom 0 is the whole polar map, 2048 km centred on the pole: LDEM_4 covers all of it
    assert (_png(client.get(f"/tiles/moon/{layer}/{tms}/0/0/0.png"))[..., 3] == 255).all()
    for x, y in [(3, 3), (3, 4), (4, 3), (4, 4)]:  # the four zoom-3 tiles meeting at the pole
        assert (_png(client.get(f"/tiles/moon/{layer}/{tms}/3/{x}/{y}.png"))[..., 3] == 255).all()


def test_elevation_tile_colours_follow_the_heights(client):
    # the South Pole-Aitken basin (low) against the far-side highlands (high): different colours
    low = _png(client.get("/tiles/moon/elevation/geographic/3/12/5.png"))
    high = _png(client.get("/tiles/moon/elevation/geographic/3/11/3.png"))
    assert not np.array_equal(low[..., :3].mean(axis=(0, 1)), high[..., :3].mean(axis=(0, 1)))


@pytest.mark.parametrize("path", ["/tiles/moon/elevation/geographic/0/2/0.png", "/tiles/moon/elevation/geographic/0/0/1.png",
                                  "/tiles/moon/elevation/geographic/30/0/0.png", "/tiles/moon/elevation/south_polar/-1/0/0.png",
                                  "/tiles/moon/elevation/south_polar/16/0/0.png", "/tiles/moon/elevation/north_polar/1/2/0.png",
                                  "/tiles/moon/shadowcam/geographic/4/3/3.png"])
def test_outside_the_matrix_or_coverage_is_transparent(client, path):
    response = client.get(path)
    assert response.content == empty_tile()
    assert (_png(response)[..., 3] == 0).all()


@pytest.mark.parametrize("path,word", [("/tiles/moon/rainbow/geographic/0/0/0.png", "unknown layer"),
                                       ("/tiles/moon/elevation/WorldCRS84Quad/0/0/0.png", "unknown tile matrix set"),
                                       ("/tiles/moon/rainbow/geographic/tilejson.json", "unknown layer"),
                                       ("/tiles/moon/tms/Mars", "unknown tile matrix set"),
                                       ("/tiles/moon/vector/volcanoes.geojson", "unknown vector layer")])
def test_unknown_names_are_404_json(client, path, word):
    response = client.get(path)
    assert response.status_code == 404 and response.json()["error"] == "NotFound"
    assert word in response.json()["message"]


def test_bad_coordinates_are_422_not_500(client):
    assert client.get("/tiles/moon/elevation/geographic/a/0/0.png").status_code == 422


def test_descriptions(client):
    layers = client.get("/tiles/moon/layers").json()
    names = [layer["name"] for layer in layers["layers"]]
    assert {"elevation", "hillshade", "slope", "craters", "psrs"} <= set(names)
    tj = client.get("/tiles/moon/slope/south_polar/tilejson.json").json()
    assert tj["tiles"][0].endswith("/tiles/moon/slope/south_polar/{z}/{x}/{y}.png")
    assert tj["tile_matrix_set"] == "MoonSouthPolarStereographic" and tj["center"] == [0.0, -90.0, 1]
    tms = client.get("/tiles/moon/tms/south_polar").json()
    assert tms["id"] == "MoonSouthPolarStereographic" and len(tms["tileMatrices"]) == 16
    assert tms["crs"] == "http://www.opengis.net/def/crs/IAU/2015/30135"
    zoom0 = tms["tileMatrices"][0]
    assert (zoom0["cellSize"], zoom0["pointOfOrigin"], zoom0["matrixWidth"]) == (8000.0, [-1_024_000.0, 1_024_000.0], 1)
    craters = client.get("/tiles/moon/vector/craters.geojson", params={"bbox": "-10,-10,10,10"}).json()
    assert craters["type"] == "FeatureCollection" and 0 < len(craters["features"]) < 786
