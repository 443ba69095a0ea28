"""S-Phot's platform declaration, batch run and CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from pydantic import ValidationError
from typer.testing import CliRunner

from explore.apps.sphot.app import SPhot, SPhotParams
from explore.apps.sphot.demo import write_demo
from explore.sdk import LocalRunContext, RunCancelled, run_locally


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sphot_demo")
    write_demo(folder, n=200, seed=3)
    return folder


def test_metadata_and_params():
    meta = SPhot.metadata()
    assert meta["id"] == "sphot" and meta["body"] == "milkyway" and meta["has_run"]
    schema = SPhotParams.model_json_schema()
    assert schema["properties"]["input"]["format"] == "workspace-path"
    assert set(schema["properties"]["grid"]["enum"]) == {"ck04", "blackbody"}
    with pytest.raises(ValidationError):
        SPhotParams.model_validate({"input": "a.csv", "grid": "kurucz"})
    with pytest.raises(ValidationError):
        SPhotParams.model_validate({"input": "a.csv", "rv": 12})


def test_batch_run_writes_tables_figures_and_summary(demo_dir, tmp_path):
    ctx = run_locally(SPhot, {"input": "sphot_demo.csv", "extinction": "fit", "n_plots": 2}, tmp_path / "out", base=demo_dir)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"sphot_results.parquet", "sphot_results.fits", "sphot_results.csv", "summary.json", "hr_diagram.png"} <= names
    assert len([n for n in names if n.startswith("sed_")]) == 2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["stars"] == 200 and summary["fitted"] >= 199
    fits = Table.read(tmp_path / "out" / "sphot_results.fits")
    parquet = Table.read(tmp_path / "out" / "sphot_results.parquet")
    assert np.allclose(np.asarray(fits["teff"]), np.asarray(parquet["teff"]), equal_nan=True)
    fractions = [f for f, _ in ctx.progress_steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 5


def test_stop_ends_the_run(demo_dir, tmp_path):
    ctx = LocalRunContext(tmp_path / "out", base=demo_dir)
    calls = []
    original = ctx.progress

    def progress(fraction, message=""):
        calls.append(fraction)
        if len(calls) == 3:
            ctx.cancel()
        original(fraction, message)

    ctx.progress = progress
    with pytest.raises(RunCancelled):
        SPhot().run(SPhotParams(input="sphot_demo.csv"), ctx)
    assert not (tmp_path / "out" / "sphot_results.parquet").exists()


def test_cli_fit_writes_the_contract_columns(demo_dir, tmp_path):
    out = tmp_path / "fit.parquet"
    result = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(demo_dir / "sphot_demo.csv"), "--out", str(out),
                                            "--grid", "ck04", "--extinction", "fit"])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    for name in ("teff", "teff_err", "radius", "luminosity", "ebv", "chi2_red", "n_bands", "ir_excess", "uv_excess",
                 "GAIA/GAIA3.G_model", "GAIA/GAIA3.G_excess_sigma", "WISE/WISE.W4_model", "WISE/WISE.W4_excess_sigma"):  # fmt: skip
        assert name in table.colnames
    assert "stars fitted" in result.output


def test_cli_reports_bad_input(tmp_path):
    bad = tmp_path / "bad.csv"
    Table({"id": ["a"], "ra": [1.0], "dec": [1.0], "Vmag": [10.0]}).write(bad)
    result = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(bad), "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "no usable band" in result.output
    missing = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv")])
    assert missing.exit_code == 2 and "not found" in missing.output
    wrong = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(bad), "--out", str(tmp_path / "o.csv"), "--grid", "kurucz"])
    assert wrong.exit_code != 0


def test_cli_gtomo_extinction_from_a_column(demo_dir, tmp_path):
    table = Table.read(demo_dir / "sphot_demo.csv")[:20]
    truth = Table.read(demo_dir / "sphot_demo_truth.csv")[:20]
    table["av"] = truth["av"]
    path = tmp_path / "with_av.csv"
    table.write(path)
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(path), "--out", str(out), "--extinction", "gtomo"])
    assert result.exit_code == 0, result.output
    assert np.allclose(Table.read(out)["ebv"], truth["av"] / 3.1)
    no_av = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(demo_dir / "sphot_demo.csv"), "--out", str(out), "--extinction", "gtomo"])
    assert no_av.exit_code == 2 and "G-Tomo cube" in no_av.output


def test_cli_demo_and_filters(tmp_path):
    result = CliRunner().invoke(SPhot.cli, ["demo", "--out", str(tmp_path), "--n", "50"])
    assert result.exit_code == 0 and (tmp_path / "sphot_demo.csv").is_file()
    listing = CliRunner().invoke(SPhot.cli, ["filters", "WISE"])
    assert listing.exit_code == 0 and "WISE/WISE.W4" in listing.output and "GAIA" not in listing.output


def test_extinction_from_a_gtomo_cube(demo_dir, tmp_path):
    gtomo = pytest.importorskip("explore.apps.gtomo")
    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from explore.apps.gtomo.demo import make_demo_cube

    cube = make_demo_cube(tmp_path / "cube.h5")
    table = Table.read(demo_dir / "sphot_demo.csv")[:30]
    out = tmp_path / "o.parquet"
    result = CliRunner().invoke(SPhot.cli, ["fit", "--input", str(demo_dir / "sphot_demo.csv"), "--out", str(out),
                                            "--extinction", "gtomo", "--gtomo-cube", str(cube)])  # fmt: skip
    assert result.exit_code == 0, result.output
    fitted = Table.read(out)[:30]
    gal = SkyCoord(ra=table["ra"] * u.deg, dec=table["dec"] * u.deg).galactic
    a0 = gtomo.extinction_to(cube, gal.l.deg, gal.b.deg, 1000.0 / np.asarray(table["parallax"])).to_value(u.mag)
    inside = np.isfinite(a0) & (np.asarray(table["parallax"]) > 0)
    assert inside.sum() > 5
    assert np.asarray(fitted["av"])[inside] == pytest.approx(a0[inside], rel=1e-6)
    beyond = ~np.isfinite(a0) & (np.asarray(table["parallax"]) > 0)
    assert all("no extinction value" in m for m in np.asarray(fitted["message"])[beyond])


def test_demo_data_set_for_the_platform(tmp_path, monkeypatch):
    import explore.apps.sphot.demo as demo_module

    original = demo_module.write_demo
    monkeypatch.setattr(demo_module, "write_demo", lambda folder: original(folder, n=300))  # 3000 on the platform
    assert SPhot.has_demo()
    SPhot().demo(tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"sphot_demo.csv", "sphot_demo_truth.csv", "sphot_demo_results.parquet"}
    results = Table.read(tmp_path / "sphot_demo_results.parquet")
    assert len(results) == 300 and np.isfinite(np.asarray(results["teff"], float)).mean() > 0.99
