"""L-Explo: the CLI contract, the layers, measurements and the batch export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from explore.apps.lexplo.app import LExplo, LExploParams
from explore.apps.lexplo.layers import (
    MoonDataMissingError,
    add_user_raster,
    craters_geojson,
    find_moon_data,
    moon_layers,
    point_values,
    prepare_demo_data,
)
from explore.planetary.raster import MissingCRSError
from explore.sdk import run_locally

runner = CliRunner()


def ldem_value(test_data, lon: float, lat: float) -> float:
    """Independently: the LDEM_4 pixel holding the point, DN x 0.5."""
    raw = np.fromfile(test_data / "lunar" / "lola_ldem4" / "LDEM_4.IMG", dtype="<i2").reshape(720, 1440)
    col = int(np.floor((lon % 360.0) * 4.0)) % 1440
    row = min(int(np.floor((90.0 - lat) * 4.0)), 719)
    return raw[row, col] * 0.5


@pytest.mark.parametrize("lon,lat", [(-3.2, 26.1), (356.8, 26.1), (0.0, 0.0), (180.0, -45.0), (-180.0, 89.99),
                                     (359.999, -89.999), (23.47, 0.67), (-43.4, -11.4)])
def test_contract_explore_moon_elevation(moon_dir, test_data, lon, lat):
    result = runner.invoke(LExplo.cli, ["elevation", "--lon", str(lon), "--lat", str(lat), "--data-dir", str(moon_dir)])
    assert result.exit_code == 0, result.output
    assert float(result.output.strip()) == ldem_value(test_data, lon, lat)


def test_contract_defaults_to_the_settings_data_dir(moon_dir, test_data, monkeypatch):
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(moon_dir))
    result = runner.invoke(LExplo.cli, ["elevation", "--lon", "-3.2", "--lat", "26.1"])
    assert result.exit_code == 0 and float(result.output) == ldem_value(test_data, -3.2, 26.1) == -1736.5


@pytest.mark.parametrize("args,message", [(["--lon", "361", "--lat", "0"], "outside -180..360"),
                                          (["--lon", "-181", "--lat", "0"], "outside -180..360"),
                                          (["--lon", "0", "--lat", "91"], "outside -90..90")])
def test_elevation_rejects_bad_points(moon_dir, args, message):
    result = runner.invoke(LExplo.cli, ["elevation", *args, "--data-dir", str(moon_dir)])
    assert result.exit_code == 2 and message in result.output


def test_measurement_commands(moon_dir):
    assert float(runner.invoke(LExplo.cli, ["distance", "--points", "0,0;90,0"]).output) == pytest.approx(2729101.5)
    assert float(runner.invoke(LExplo.cli, ["area", "--points", "0,0;90,0;0,90"]).output) == pytest.approx(4741541.012, rel=1e-9)
    bad = runner.invoke(LExplo.cli, ["area", "--points", "0,0;0,1;0,2"])
    assert bad.exit_code == 2 and "zero area" in bad.output
    prof = runner.invoke(LExplo.cli, ["profile", "--points", "-10,0;10,0", "--samples", "5", "--data-dir", str(moon_dir)])
    lines = prof.output.strip().splitlines()
    assert lines[0] == "distance_m,lon,lat,elevation_m" and len(lines) == 6
    assert float(lines[-1].split(",")[0]) == pytest.approx(606467.0, abs=0.1)


def test_data_location_and_layers(moon_dir, tmp_path):
    data = find_moon_data(moon_dir)
    assert data.root == (moon_dir / "moon").resolve()
    assert all(data.derived_path(k).exists() for k in ("elevation", "hillshade", "slope"))
    layers = moon_layers(data)
    assert {"elevation", "hillshade", "slope", "shadowcam"} <= set(layers)
    with pytest.raises(MoonDataMissingError, match="nothing to copy|no Moon data"):
        prepare_demo_data(tmp_path, source=tmp_path / "nowhere")


def test_point_values(moon_dir, test_data):
    v = point_values(-3.2, 26.1, find_moon_data(moon_dir))
    assert v["elevation"] == ldem_value(test_data, -3.2, 26.1)
    assert 0.0 <= v["slope"] < 10.0


def test_craters_overlay(moon_dir):
    fc = craters_geojson(find_moon_data(moon_dir))
    assert len(fc["features"]) == 786
    big = craters_geojson(find_moon_data(moon_dir), min_diameter_km=800, as_circles=True)
    assert len(big["features"]) == 4 and big["features"][0]["geometry"]["type"] == "Polygon"
    across = craters_geojson(find_moon_data(moon_dir), bbox=(170, -90, -170, 90))
    assert all(abs(f["geometry"]["coordinates"][0]) >= 170 for f in across["features"])


def test_user_raster_refines_and_must_have_a_crs(moon_dir, tmp_path):
    data = find_moon_data(moon_dir)
    layers = moon_layers(data)
    src = data.derived_path("elevation")
    with rasterio.open(src) as ds:
        window = ds.read(1, window=((300, 340), (700, 740)))
        transform = ds.window_transform(((300, 340), (700, 740)))
        profile = dict(driver="GTiff", width=40, height=40, count=1, dtype="float32", transform=transform)
        with rasterio.open(tmp_path / "mine.tif", "w", crs=ds.crs, **profile) as dst:
            dst.write(window, 1)
        with rasterio.open(tmp_path / "nocrs.tif", "w", **profile) as dst:
            dst.write(window, 1)
    more = add_user_raster(layers, tmp_path / "mine.tif", derived_dir=tmp_path)
    assert len(more["elevation"].sources) == 2 and len(layers["elevation"].sources) == 1
    assert (tmp_path / "mine_slope.tif").exists()
    with pytest.raises(MissingCRSError):
        add_user_raster(layers, tmp_path / "nocrs.tif", derived_dir=tmp_path)


def test_batch_export(moon_dir, test_data, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORE_DATA_DIR", str(moon_dir))
    ctx = run_locally(LExplo, {"layer": "elevation", "west": -10, "south": -5, "east": 10, "north": 5, "max_size": 256}, tmp_path / "out")
    assert sorted(p.name for p in ctx.output.iterdir()) == ["elevation.tif", "profile.csv", "summary.json"]
    with rasterio.open(ctx.output / "elevation.tif") as ds:
        assert ds.crs is not None
        b = ds.bounds
        assert (b.left, b.bottom, b.right, b.top) == pytest.approx((-10, -5, 10, 5), abs=0.3)
        values = ds.read(1)
        assert np.nanmin(values) >= -9000 and np.nanmax(values) <= 10600
    summary = json.loads((ctx.output / "summary.json").read_text())
    assert summary["profile_length_m"] == pytest.approx(674_000, rel=0.01)
    assert ctx.progress_steps[-1] == (1.0, "done")
    with pytest.raises(ValueError, match="west"):
        LExploParams(west=10, east=-10)


def test_app_metadata():
    meta = LExplo.metadata()
    assert (meta["id"], meta["body"], LExplo.cli_name) == ("lexplo", "moon", "moon")
    assert meta["has_run"] is True
