"""The S-Disco batch run, its errors, STOP, the CLI and the seeded embedding."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from explore.apps.sdisco.app import SDisco, SDiscoError
from explore.apps.sdisco.demo import make_demo_survey
from explore.apps.sdisco.embedding import SpectralEmbedding
from explore.sdk import LocalRunContext, RunCancelled, run_locally

FAST = {"n_trees": 30, "embedding": False}


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, shared_data):
    path = tmp_path_factory.mktemp("sdisco") / "demo.parquet"
    make_demo_survey(400, seed=2, data_dir=shared_data).write(path)
    return path


def test_metadata_and_entry_point():
    from importlib.metadata import entry_points

    meta = SDisco.metadata()
    assert meta["id"] == "sdisco" and meta["body"] == "milkyway" and meta["has_run"]
    assert any(ep.name == "sdisco" and ep.load() is SDisco for ep in entry_points(group="explore.apps"))
    schema = SDisco.Params.model_json_schema()
    assert schema["properties"]["spectra"]["format"] == "workspace-path"


def test_batch_run_writes_scores_summary_as_parquet_and_fits(demo_file, tmp_path):
    ctx = run_locally(SDisco, {"spectra": demo_file.name, **FAST}, tmp_path / "out", base=demo_file.parent)
    names = {p.name for p in ctx.output.iterdir()}
    assert {"scores.parquet", "scores.fits", "summary.parquet", "summary.fits", "summary_spectra.parquet",
            "summary_spectra.fits", "summary.json"} <= names
    scores = Table.read(ctx.output / "scores.parquet")
    assert len(scores) == 400
    for col in ("w_forest", "w_total", "w_knn", "w_spatial"):
        assert col in scores.colnames
    real = scores["source"] != "binspec"
    # real stars carry no parallax: no spatial score, but every other score
    assert np.isnan(scores["w_spatial"][real]).all() and np.isfinite(scores["w_total"][real]).all()
    # the run reported progress all the way through
    assert ctx.progress_steps[-1] == (1.0, "done")
    assert len(ctx.progress_steps) > 10
    fits_scores = Table.read(ctx.output / "scores.fits")
    np.testing.assert_allclose(np.asarray(fits_scores["w_knn"]), np.asarray(scores["w_knn"]))
    info = json.loads((ctx.output / "summary.json").read_text())
    assert info["n_stars"] == 400


def test_k_larger_than_the_survey_is_logged_and_clipped(demo_file, tmp_path):
    ctx = run_locally(SDisco, {"spectra": demo_file.name, "k": 5000, "scores": ["knn"], **FAST},
                      tmp_path / "out", base=demo_file.parent)
    assert any("k = 5000 but only 399 other usable stars" in m for _, m in ctx.lines)
    knn = Table.read(ctx.output / "scores.parquet")["w_knn"]
    assert np.isfinite(knn).all()


def test_stop_ends_the_run_at_a_progress_step(demo_file, tmp_path):
    class StopAfter(LocalRunContext):
        def progress(self, fraction, message=""):
            if len(self.progress_steps) == 4:
                self.cancel()
            super().progress(fraction, message)

    ctx = StopAfter(tmp_path / "out", base=demo_file.parent)
    params = SDisco.Params.model_validate({"spectra": demo_file.name, **FAST})
    with pytest.raises(RunCancelled):
        SDisco().run(params, ctx)
    assert not (ctx.output / "scores.parquet").exists()


def test_table_without_id_gives_a_clear_error(tmp_path):
    Table({"flux": np.ones((5, 10)), "teff": np.arange(5.0)}, meta={"wl_start": 1.0, "wl_step": 1.0}).write(
        tmp_path / "noid.parquet")
    ctx = LocalRunContext(tmp_path / "out", base=tmp_path)
    params = SDisco.Params.model_validate({"spectra": "noid.parquet"})
    with pytest.raises(SDiscoError, match="S-Disco cannot run: noid.parquet has no id column"):
        SDisco().run(params, ctx)
    assert ctx.lines[-1][0] == "error" and "no id column" in ctx.lines[-1][1]


def test_all_masked_and_nan_spectra_get_no_score(tmp_path, shared_data):
    s = make_demo_survey(200, seed=3, include_real=False, data_dir=shared_data)
    s.mask[5] = True
    s.flux[9] = np.nan
    s.write(tmp_path / "bad.parquet")
    ctx = run_locally(SDisco, {"spectra": "bad.parquet", "k": 20, **FAST}, tmp_path / "out", base=tmp_path)
    scores = Table.read(ctx.output / "scores.parquet")
    assert not scores["valid"][5] and not scores["valid"][9]
    assert np.isnan(scores["w_total"][[5, 9]]).all() and np.isfinite(scores["w_total"][:5]).all()
    assert any("2 spectra have fewer than half their pixels good" in m for _, m in ctx.lines)


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(SDiscoError, match="input 'nothere.fits' not found"):
        run_locally(SDisco, {"spectra": "nothere.fits"}, tmp_path / "out", base=tmp_path)


def test_cli_scores_and_demo(tmp_path, demo_file):
    runner = CliRunner()
    result = runner.invoke(SDisco.cli, ["scores", "--input", str(demo_file), "--out", str(tmp_path / "cli"),
                                        "--score", "knn", "--score", "total", "--k", "30", "--no-embedding", "-q"])
    assert result.exit_code == 0, result.output
    assert "scores.parquet" in result.output
    t = Table.read(tmp_path / "cli" / "scores.parquet")
    assert "w_knn" in t.colnames and "w_forest" not in t.colnames
    bad = runner.invoke(SDisco.cli, ["scores", "--input", str(demo_file), "--out", str(tmp_path / "x"), "--k", "0"])
    assert bad.exit_code == 2 and "k: Input should be greater than or equal to 1" in bad.output


@pytest.mark.slow
def test_umap_is_reproducible_with_a_seed():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (100, 5)), rng.normal(6, 1, (100, 5))])
    a = SpectralEmbedding(n_neighbors=10, random_state=3).fit_transform(X)
    b = SpectralEmbedding(n_neighbors=10, random_state=3).fit_transform(X)
    assert a.shape == (200, 2) and np.array_equal(a, b)
    # the two clusters stay apart in the map
    gap = np.linalg.norm(a[:100].mean(0) - a[100:].mean(0))
    assert gap > 3 * max(a[:100].std(0).max(), a[100:].std(0).max())
