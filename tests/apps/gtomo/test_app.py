"""The batch run through the SDA contract: outputs, summary, progress, STOP, parameter validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from pydantic import ValidationError

from explore.apps.gtomo import extinction_to
from explore.apps.gtomo.app import GTomo, GTomoParams
from explore.sdk import LocalRunContext, RunCancelled, run_locally


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gtomo_demo")
    GTomo().demo(folder)
    return folder


def test_metadata_and_contract():
    meta = GTomo.metadata()
    assert meta["id"] == "gtomo" and meta["body"] == "milkyway"
    assert meta["has_run"] and "Vergely" in meta["citation"] and "Lallement" in meta["citation"]
    schema = GTomoParams.model_json_schema()
    assert schema["properties"]["cube"]["format"] == "workspace-path"
    assert GTomo.cli is not None


def test_demo_folder_holds_the_demo_data(demo_folder):
    names = sorted(p.name for p in demo_folder.iterdir())
    assert names == ["demo_cube_density.h5", "demo_cube_density_errors.h5", "demo_cube_extinct_errors.h5",
                     "demo_targets.csv"]


def test_batch_run_writes_every_output(demo_folder, tmp_path):
    ctx = run_locally(
        GTomo,
        {"cube": "demo_cube_density.h5", "targets": "demo_targets.csv",
         "error_cube": "demo_cube_extinct_errors.h5", "sky_map_distance": 300.0, "nside": 8,
         "cloud_threshold": 0.005},
        tmp_path / "out", base=demo_folder,
    )
    out = tmp_path / "out"
    names = {p.name for p in out.iterdir()}
    assert {"targets_extinction.parquet", "targets_extinction.fits", "targets_extinction.csv",
            "a0_vs_distance.png", "sky_map.fits", "sky_map.png", "clouds.ecsv", "summary.json"} <= names
    table = Table.read(out / "targets_extinction.parquet")
    inputs = Table.read(demo_folder / "demo_targets.csv")
    assert len(table) == len(inputs)  # no row lost
    assert {"name", "l", "b", "distance", "a0", "a0_err", "ebv", "a_v", "a_g", "flag"} <= set(table.colnames)
    i = list(table["name"]).index("behind Taurus")
    assert table["a0"][i] == pytest.approx(
        extinction_to(demo_folder / "demo_cube_density.h5", table["l"][i], table["b"][i], table["distance"][i]).value)
    assert table["a0"][i] > 1.0
    flags = dict(zip(table["name"], table["flag"], strict=True))
    assert flags["bad distance"] == 2 and flags["bad latitude"] == 4
    assert np.isfinite(table["a0_err"][i])
    fits = Table.read(out / "targets_extinction.fits")
    np.testing.assert_allclose(fits["a0"], table["a0"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["targets"]["n"] == len(inputs)
    assert summary["targets"]["flags"]["BAD_DISTANCE"] == 1
    assert summary["clouds"]["n"] >= 5
    steps = [f for f, _ in ctx.progress_steps]
    assert steps == sorted(steps) and steps[-1] == 1.0 and len(steps) >= 5


def test_stop_during_the_extinction_stage_stops_the_run(demo_folder, tmp_path):
    class StopAfter(LocalRunContext):
        def progress(self, fraction, message=""):
            if message.startswith("extinction"):
                self.cancel()
            super().progress(fraction, message)

    params = GTomoParams(cube="demo_cube_density.h5", targets="demo_targets.csv")
    ctx = StopAfter(tmp_path / "stopped", base=demo_folder)
    with pytest.raises(RunCancelled):
        GTomo().run(params, ctx)
    assert not (tmp_path / "stopped" / "summary.json").exists()


def test_parameters_are_validated():
    with pytest.raises(ValidationError, match="unknown band"):
        GTomoParams(cube="c.h5", targets="t.csv", bands=["W9"])
    with pytest.raises(ValidationError, match="power of 2"):
        GTomoParams(cube="c.h5", sky_map_distance=100.0, nside=12)
    with pytest.raises(ValidationError):
        GTomoParams(cube="c.h5", law="XYZ")
    with pytest.raises(ValidationError):
        GTomoParams(cube="c.h5", sky_map_distance=-5.0)


def test_run_with_nothing_to_do_says_so(demo_folder, tmp_path):
    with pytest.raises(ValueError, match="nothing to do"):
        run_locally(GTomo, {"cube": "demo_cube_density.h5"}, tmp_path / "o", base=demo_folder)


def test_missing_input_is_named(demo_folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        run_locally(GTomo, {"cube": "demo_cube_density.h5", "targets": "nope.csv"}, tmp_path / "o", base=demo_folder)
