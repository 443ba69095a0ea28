"""S-Disco: discover anomalous stars in large spectral surveys (the SDA declaration and batch run)."""

from __future__ import annotations

import json
import time
import traceback
import warnings
from typing import Any, ClassVar, Literal

import numpy as np
from astropy.table import Table

from explore.sdk import App, Field, Params, RunCancelled, RunContext, WorkspacePath

__all__ = ["SDisco", "SDiscoError", "SDiscoParams", "compute_scores"]

ScoreName = Literal["forest", "total", "knn", "spatial"]
#: stars in the demo survey: built, scored and mapped in about a minute on two cores
DEMO_STARS = 20_000
SCORE_COLUMNS = {"forest": "w_forest", "total": "w_total", "knn": "w_knn", "spatial": "w_spatial"}


class SDiscoError(RuntimeError):
    """A batch run that cannot go on, with a message that says why in the user's terms."""


class SDiscoParams(Params):
    """Batch parameters of S-Disco."""

    spectra: str = WorkspacePath(
        "Spectra: a table of spectra (FITS, Parquet or ECSV with an id and a 2D flux column), an APOGEE "
        "apStar / aspcapStar or Gaia RVS FITS file, or a Zarr store",
        kinds=(".fits", ".parquet", ".ecsv", ".zarr"),
    )
    format: Literal["auto", "spectra-table", "apogee-apstar", "apogee-aspcapstar", "gaia-rvs", "spectra-zarr"] = (
        Field("auto", description="Input format; 'auto' identifies it from the file")
    )
    scores: list[ScoreName] = Field(
        default_factory=lambda: ["forest", "total", "knn", "spatial"],
        description="Weirdness scores: forest (Baron & Poznanski 2017), total (mean distance to all), "
        "knn (mean distance to the k nearest in feature space), spatial (to the k nearest in 3D position)",
    )
    k: int = Field(250, ge=1, le=100_000, description="Neighbours for the knn and spatial scores")
    feature_space: Literal["pca", "spectra"] = Field(
        "pca", description="Compare spectra as normalised flux ('spectra') or by their principal components"
    )
    n_components: int = Field(32, ge=1, le=2000, description="PCA components (feature_space = pca)")
    total_method: Literal["auto", "exact", "sample"] = Field(
        "auto", description="Total score: exact all pairs, or a reference-sample estimate; auto = exact "
        "up to 300,000 stars"
    )
    n_reference: int = Field(8192, ge=100, le=1_000_000, description="Reference sample for total_method = sample")
    n_trees: int = Field(200, ge=10, le=5000, description="Trees of the random forest")
    forest_components: int = Field(
        8, ge=1, le=2000, description="The forest sees the leading principal components only (feature_space "
        "= pca): it tells real from shuffled data best on a few strongly structured features"
    )
    embedding: bool = Field(True, description="Compute a 2D UMAP map of the feature space")
    umap_neighbors: int = Field(15, ge=2, le=200, description="UMAP neighbourhood size")
    snr_min: float = Field(
        0.0, ge=0, description="Spectra at or below this signal-to-noise ratio are left out of the scores "
        "and of the summary spectra (their scores are NaN)"
    )
    seed: int = Field(0, description="Random seed: the same seed gives the same forest, sample and map")


def _positions(table: Table) -> np.ndarray | None:
    """3D Galactic positions (kpc): x, y, z columns, or from ra, dec, parallax (mas) via astropy."""
    names = {c.lower(): c for c in table.colnames}
    if all(c in names for c in ("x", "y", "z")):
        return np.column_stack([np.asarray(table[names[c]], float) for c in ("x", "y", "z")])
    if all(c in names for c in ("ra", "dec", "parallax")):
        import astropy.units as u

        from explore.astro.frames import galactic_cartesian

        x, y, z = galactic_cartesian(np.asarray(table[names["ra"]], float) * u.deg,
                                     np.asarray(table[names["dec"]], float) * u.deg,
                                     np.asarray(table[names["parallax"]], float) * u.mas)
        return np.column_stack([x.value, y.value, z.value])
    return None


def compute_scores(spectra: Any, params: SDiscoParams, *, progress: Any = None, log: Any = None) -> dict[str, Any]:
    """Features, weirdness scores and embedding for a set of spectra (the science of a batch run).

    Returns a dict with ``table`` (one row per star: id, the input star columns, snr, ``valid``, the
    scores ``w_*``, ``w_total_err``, ``umap_x``/``umap_y``), ``features`` and ``valid``.
    """
    from explore.apps.sdisco.embedding import SpectralEmbedding
    from explore.apps.sdisco.features import SpectralFeatures
    from explore.apps.sdisco.weirdness import (
        SpatialWeirdness,
        TotalWeirdness,
        WeirdnessForest,
        distance_scores,
    )

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    def note(message: str, level: str = "info") -> None:
        if log is not None:
            log(message, level)

    def stage(lo: float, hi: float, message: str) -> Any:
        return lambda f: report(lo + (hi - lo) * f, message)

    n = len(spectra)
    if not spectra.normalised:
        note("input is not continuum-normalised: fitting a continuum to each spectrum")
        report(0.05, "normalising spectra")
        spectra = spectra.normalise()
    snr = spectra.snr()
    report(0.08, "building features")
    features = SpectralFeatures(space=params.feature_space, n_components=params.n_components,
                                random_state=params.seed)
    features.fit(spectra)
    X = features.transform(spectra, progress=stage(0.08, 0.15, "building features"))
    valid = features.valid_.copy()
    n_poor = int((~valid).sum())
    if n_poor:
        note(f"{n_poor} spectra have fewer than half their pixels good: they get no score", "warning")
    if params.snr_min > 0:
        low = ~(snr > params.snr_min) & valid
        if low.any():
            note(f"{int(low.sum())} spectra at or below SNR {params.snr_min} are left out of the scores")
        valid &= snr > params.snr_min
    idx = np.flatnonzero(valid)
    if idx.size < 3:
        raise SDiscoError(
            f"only {idx.size} of {n} spectra are usable (enough good pixels and SNR above {params.snr_min}): "
            "nothing to compare"
        )
    Xv = np.ascontiguousarray(X[idx])
    table = Table({"id": spectra.ids})
    for name in spectra.table.colnames:
        col = spectra.table[name]
        if name != "id" and col.ndim == 1:
            table[name] = col
    table["snr_used"] = snr
    table["valid"] = valid
    scores = set(params.scores)
    k = params.k
    if k > idx.size - 1:
        note(f"k = {k} but only {idx.size - 1} other usable stars: using k = {idx.size - 1}", "warning")
        k = idx.size - 1

    def put(column: str, values: np.ndarray) -> None:
        full = np.full(n, np.nan)
        full[idx] = values
        table[column] = full

    t0 = time.perf_counter()
    method = params.total_method
    if method == "auto":
        method = "exact" if idx.size <= 300_000 else "sample"
    exact_total = "total" in scores and method == "exact"
    if "knn" in scores or exact_total:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out = distance_scores(Xv, k=k if "knn" in scores else None, total=exact_total,
                                  progress=stage(0.15, 0.55, "distances between all spectra"))
        if "knn" in out:
            put("w_knn", out["knn"])
        if "total" in out:
            put("w_total", out["total"])
            put("w_total_err", np.zeros(idx.size))
    if "total" in scores and not exact_total:
        est = TotalWeirdness(method="sample", n_reference=params.n_reference, random_state=params.seed)
        est.fit(Xv, progress=stage(0.15, 0.55, "distances to the reference sample"))
        put("w_total", est.scores_)
        put("w_total_err", est.scores_error_)
    note(f"distance scores in {time.perf_counter() - t0:.1f} s")
    if "spatial" in scores:
        pos = _positions(spectra.table)
        if pos is None:
            note("no x/y/z or ra/dec/parallax columns: the spatial score is skipped", "warning")
        else:
            has = np.isfinite(pos[idx]).all(axis=1)
            if has.sum() < 2:
                note("fewer than 2 stars have a 3D position: the spatial score is skipped", "warning")
            else:
                if (~has).any():
                    note(f"{int((~has).sum())} stars without a 3D position (parallax missing or <= 0) get no "
                         "spatial score")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    sw = SpatialWeirdness(k=k).fit(Xv, pos[idx], progress=stage(0.55, 0.65, "spatial neighbours"))
                put("w_spatial", sw.scores_)
                for c, name in enumerate(("x", "y", "z")):
                    if name not in table.colnames:
                        table[name] = pos[:, c]
    report(0.65, "random forest")
    if "forest" in scores:
        t0 = time.perf_counter()
        forest = WeirdnessForest(n_trees=params.n_trees, random_state=params.seed)
        Xf = Xv[:, : params.forest_components] if params.feature_space == "pca" else Xv
        forest.fit(np.ascontiguousarray(Xf), progress=stage(0.65, 0.85, "random forest"))
        put("w_forest", forest.scores_)
        note(f"random-forest score in {time.perf_counter() - t0:.1f} s")
    if params.embedding:
        report(0.85, "UMAP map")
        emb = SpectralEmbedding(n_neighbors=params.umap_neighbors, random_state=params.seed,
                                fit_sample=50_000).fit_transform(Xv)
        put("umap_x", emb[:, 0])
        put("umap_y", emb[:, 1])
    report(0.95, "scores done")
    return {"table": table, "features": X, "valid": valid, "spectra": spectra}


def _write(table: Table, stem: Any) -> None:
    """Write a table as Parquet and FITS side by side."""
    table.write(f"{stem}.parquet", format="parquet", overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table.write(f"{stem}.fits", overwrite=True)


def _summaries(result: dict[str, Any], params: SDiscoParams) -> tuple[Table, Table]:
    from explore.apps.sdisco.selection import selection_spectrum

    table, spectra = result["table"], result["spectra"]
    valid = np.asarray(table["valid"])
    rows = []
    spec = Table({"wavelength": spectra.wavelength})
    all_stats = selection_spectrum(spectra, valid, snr_min=params.snr_min, snr=np.asarray(table["snr_used"]))
    for stat in ("mean", "median", "p16", "p84"):
        spec[f"all_{stat}"] = getattr(all_stats, stat)
    for score, column in SCORE_COLUMNS.items():
        if column not in table.colnames:
            continue
        values = np.asarray(table[column], float)
        ok = np.isfinite(values)
        if not ok.any():
            continue
        p99 = float(np.percentile(values[ok], 99))
        top = np.flatnonzero(ok & (values >= p99))
        order = top[np.argsort(-values[top])]
        rows.append({"score": score, "column": column, "n_scored": int(ok.sum()),
                     "median": float(np.median(values[ok])), "p98": float(np.percentile(values[ok], 98)),
                     "p99": p99, "top_ids": ",".join(np.asarray(table["id"])[order[:20]].astype(str))})
        stats = selection_spectrum(spectra, top, snr_min=params.snr_min, snr=np.asarray(table["snr_used"]))
        spec[f"top1pc_{score}_mean"] = stats.mean
        spec[f"top1pc_{score}_median"] = stats.median
    summary = Table(rows=[tuple(r.values()) for r in rows], names=tuple(rows[0].keys())) if rows else Table()
    return summary, spec


def _write_outputs(result: dict[str, Any], params: SDiscoParams, folder: Any, started: float) -> None:
    """The files of a run: scores, embedding, summary and summary spectra (Parquet and FITS), summary.json."""
    table, spectra = result["table"], result["spectra"]
    _write(table, folder / "scores")
    if "umap_x" in table.colnames:
        _write(table["id", "umap_x", "umap_y"], folder / "embedding")
    summary, spec = _summaries(result, params)
    if len(summary):
        _write(summary, folder / "summary")
    _write(spec, folder / "summary_spectra")
    info = {
        "n_stars": len(spectra), "n_scored": int(np.sum(table["valid"])), "n_pixels": spectra.n_pixels,
        "scores": list(params.scores), "feature_space": params.feature_space,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (folder / "summary.json").write_text(json.dumps(info, indent=2))


class SDisco(App):
    """S-Disco: weirdness scores, a UMAP map and selection spectra for large spectral surveys."""

    id: ClassVar[str] = "sdisco"
    title: ClassVar[str] = "S-Disco: spectral discovery"
    summary: ClassVar[str] = "Find the anomalous stars in large spectral surveys (APOGEE, Gaia RVS) with weirdness scores"
    description: ClassVar[str] = (
        "Computes four weirdness scores for every spectrum of a survey or of your own data: the "
        "unsupervised random-forest dissimilarity of Baron & Poznanski (2017), the mean distance to all "
        "other spectra, to the k nearest spectra and to the k nearest stars in 3D Galactic position; a "
        "UMAP map of the spectra; and the mean / median spectrum of any selection. Outputs are Parquet "
        "and FITS tables."
    )
    creator: ClassVar[str] = "EXPLORE contributors"
    licence: ClassVar[str] = "Apache-2.0"
    version: ClassVar[str] = "0.1.0"
    citation: ClassVar[str] = (
        "Baron & Poznanski 2017, MNRAS 465, 4530; McInnes et al. 2018, arXiv:1802.03426; "
        "EXPLORE (Horizon 2020 grant 101004214)"
    )
    body: ClassVar[Any] = "milkyway"
    has_output: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = SDiscoParams
    cli: ClassVar[Any] = None  # set below, once cli.py can import this module

    def view(self, session: Any) -> Any:
        """The interactive view (:class:`.view.SDiscoView`): linked UMAP, Galactic and HR plots of every
        star, the selection's spectra, table and correlation ranking. Imported here so that the
        catalogue's import stays light."""
        from explore.apps.sdisco.view import SDiscoView

        return SDiscoView(session)

    def demo(self, folder: Any) -> None:
        """Write the demo survey into ``folder``: ``survey.zarr`` (20,000 APOGEE-like spectra with their
        star table, injected anomalies labelled) and the outputs of a batch run on it (``scores`` and
        ``embedding`` as Parquet and FITS, ``summary_spectra``, ``summary.json``, ``params.json``)."""
        import pathlib

        from explore.apps.sdisco.demo import make_demo_survey

        started = time.perf_counter()
        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        survey = make_demo_survey(DEMO_STARS, seed=0)
        survey.write(folder / "survey.zarr")
        params = SDiscoParams(spectra=f"demo/{self.id}/survey.zarr", k=50, n_trees=100)
        (folder / "params.json").write_text(json.dumps(
            {"app": self.id, "version": self.version, "params": params.model_dump()}, indent=2))
        _write_outputs(compute_scores(survey, params), params, folder, started)

    def run(self, params: SDiscoParams, ctx: RunContext) -> None:  # type: ignore[override]
        """Read the spectra, compute the scores and the map, and write them into ``ctx.output``."""
        from explore.astro.spectra import Spectra, SpectraError

        started = time.perf_counter()
        try:
            ctx.progress(0.0, "reading spectra")
            path = ctx.input_path(params.spectra)
            spectra = Spectra.read(path, format=None if params.format == "auto" else params.format)
            ctx.log(f"read {len(spectra)} spectra of {spectra.n_pixels} pixels from {params.spectra}")
            result = compute_scores(spectra, params, progress=ctx.progress, log=ctx.log)
            ctx.progress(0.95, "writing outputs")
            _write_outputs(result, params, ctx.output, started)
            ctx.progress(1.0, "done")
        except RunCancelled:
            raise
        except (SpectraError, SDiscoError, FileNotFoundError, ValueError, MemoryError) as exc:
            message = f"S-Disco cannot run: {exc}"
            ctx.log(message, "error")
            raise SDiscoError(message) from exc
        except Exception as exc:
            ctx.log(traceback.format_exc(), "debug")
            message = f"S-Disco failed unexpectedly ({type(exc).__name__}: {exc}); the log holds the details"
            ctx.log(message, "error")
            raise SDiscoError(message) from exc


def _attach_cli() -> None:
    from explore.apps.sdisco.cli import app as cli_app

    SDisco.cli = cli_app


_attach_cli()
