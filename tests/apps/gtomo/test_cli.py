"""``explore gtomo ...`` through typer's CliRunner on GTomo.cli: the contract commands and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from explore.apps.gtomo import integrate_extinction
from explore.apps.gtomo.app import GTomo

runner = CliRunner()


def invoke(*args):
    return runner.invoke(GTomo.cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def targets_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "targets.csv"
    path.write_text("id,ra,dec,distance\n1,10.68,41.27,80\n2,83.82,-5.39,120\n3,10.0,95.0,50\n4,200.0,10.0,-3\n")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".fits", ".parquet"])
def test_extinction_writes_the_input_columns_plus_a0_and_flag(cubes, targets_csv, tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    result = invoke("extinction", "--cube", cubes["uniform"], "--targets", targets_csv, "--out", out)
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert table.colnames == ["id", "ra", "dec", "distance", "a0", "flag"]
    np.testing.assert_allclose(table["a0"][:2], [0.08, 0.12], rtol=1e-6)  # uniform 1e-3 mag/pc
    assert list(table["flag"]) == [0, 0, 4, 2]
    assert np.isnan(np.ma.filled(np.ma.asarray(table["a0"][2:], dtype=float), np.nan)).all()  # FITS reads NaN as masked


def test_extinction_with_error_cube_and_bands(cubes, targets_csv, published, tmp_path):
    err = published("explore_cube_extinct_errors_cli.h5", np.full((41, 31, 21), 0.03), 10.0, (20, 12, 8))
    out = tmp_path / "out.csv"
    result = invoke("extinction", "--cube", cubes["uniform"], "--targets", targets_csv, "--out", out,
                    "--error-cube", err, "--band", "E(B-V)", "--band", "Ks")
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    assert {"a0_err", "ebv", "a_ks"} <= set(table.colnames)
    assert table["a0_err"][0] == pytest.approx(0.03)
    assert table["ebv"][0] == pytest.approx(0.08 / 3.109, rel=2e-3)


def test_extinction_matches_the_python_api_on_the_demo(tmp_path):
    assert invoke("demo", tmp_path / "demo").exit_code == 0
    out = tmp_path / "demo_out.parquet"
    assert invoke("extinction", "--cube", tmp_path / "demo" / "demo_cube_density.h5", "--targets",
                  tmp_path / "demo" / "demo_targets.csv", "--out", out).exit_code == 0
    table = Table.read(out)
    api = integrate_extinction(tmp_path / "demo" / "demo_cube_density.h5", table["l"], table["b"], table["distance"])
    np.testing.assert_array_equal(np.asarray(table["a0"]), api.a0.value)


def test_profile_writes_a_table_and_a_plot(cubes, tmp_path):
    out = tmp_path / "profile.csv"
    result = invoke("profile", "--cube", cubes["uniform"], "--l", 180, "--b", 0, "--max-distance", 300, "--out", out)
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    inside = np.asarray(table["inside"]).astype(str) == "True"
    assert np.asarray(table["distance"])[inside].max() == pytest.approx(200.0)
    np.testing.assert_allclose(table["cumulative"][inside], 1e-3 * np.asarray(table["distance"])[inside], rtol=1e-6)
    png = tmp_path / "profile.png"
    assert invoke("profile", "--cube", cubes["uniform"], "--l", 10, "--b", 5, "--max-distance", 100, "--out", png).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--targets", "{bad_table}"], "lacks a 'distance' column"),
        (["--cube", "{not_cube}"], "not an HDF5 file"),
        (["--cube", "{missing}"], "does not exist"),
    ],
)
def test_extinction_errors_are_one_clear_line(cubes, targets_csv, tmp_path, args, message):
    bad_table = tmp_path / "bad.csv"
    bad_table.write_text("l,b\n1,2\n")
    not_cube = tmp_path / "not.h5"
    not_cube.write_text("hello")
    values = {"bad_table": bad_table, "not_cube": not_cube, "missing": tmp_path / "missing.h5"}
    opts = {"--cube": str(cubes["uniform"]), "--targets": str(targets_csv), "--out": str(tmp_path / "o.csv")}
    opts[args[0]] = args[1].format(**values)
    result = invoke("extinction", *[x for kv in opts.items() for x in kv])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "o.csv").exists()


def test_profile_rejects_a_bad_distance(cubes, tmp_path):
    result = invoke("profile", "--cube", cubes["uniform"], "--l", 0, "--b", 0, "--max-distance", 0, "--out", tmp_path / "p.csv")
    assert result.exit_code == 2 and "positive" in result.output


def test_skymap_clouds_and_info(cubes, tmp_path):
    assert invoke("skymap", "--cube", cubes["slab"], "--distance", 100, "--nside", 4, "--out", tmp_path / "s.fits").exit_code == 0
    assert (tmp_path / "s.fits").exists()
    result = invoke("clouds", "--cube", cubes["gauss"], "--threshold", 0.005, "--out", tmp_path / "c.ecsv")
    assert result.exit_code == 0, result.output
    clouds = Table.read(tmp_path / "c.ecsv")
    assert len(clouds) == 1 and clouds["x"][0] == pytest.approx(200, abs=1)
    info = invoke("info", cubes["voxel"])
    assert info.exit_code == 0 and '"sun_index_xyz": [\n    4,\n    5,\n    3\n  ]' in info.output
