"""Command line of S-Disco, mounted by the ``explore`` command as ``explore sdisco ...``.

Examples
--------
::

    explore sdisco demo --out demo.parquet --n 20000
    explore sdisco scores --input demo.parquet --out run1 --k 250 --feature-space pca
    explore sdisco formats
"""

from __future__ import annotations

import pathlib

import typer

app = typer.Typer(name="sdisco", help="S-Disco: weirdness scores for large spectral surveys.", no_args_is_help=True)


@app.command()
def scores(
    input: pathlib.Path = typer.Option(..., "--input", "-i", help="Spectra file (table, apStar/aspcapStar, RVS, Zarr)"),  # noqa: A002
    out: pathlib.Path = typer.Option(..., "--out", "-o", help="Output folder"),
    score: list[str] = typer.Option(["forest", "total", "knn", "spatial"], "--score", "-s",
                                    help="Score to compute (repeat): forest, total, knn, spatial"),
    k: int = typer.Option(250, help="Neighbours for the knn and spatial scores"),
    feature_space: str = typer.Option("pca", help="pca or spectra"),
    n_components: int = typer.Option(32, help="PCA components"),
    total_method: str = typer.Option("auto", help="auto, exact or sample"),
    n_trees: int = typer.Option(200, help="Trees of the random forest"),
    forest_components: int = typer.Option(8, help="Leading PCA components the forest sees"),
    embedding: bool = typer.Option(True, "--embedding/--no-embedding", help="Compute the UMAP map"),
    snr_min: float = typer.Option(0.0, help="Leave out spectra at or below this SNR"),
    input_format: str = typer.Option("auto", "--format", help="Input format (auto identifies it)"),
    seed: int = typer.Option(0, help="Random seed"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines"),
) -> None:
    """Compute weirdness scores (and a UMAP map) for a file of spectra; write Parquet and FITS tables."""
    from pydantic import ValidationError

    from explore.apps.sdisco.app import SDisco, SDiscoError
    from explore.sdk import run_locally

    try:
        params = SDisco.Params.model_validate({
            "spectra": str(input.resolve()), "format": input_format, "scores": score, "k": k,
            "feature_space": feature_space, "n_components": n_components, "total_method": total_method,
            "n_trees": n_trees, "forest_components": forest_components, "embedding": embedding, "snr_min": snr_min, "seed": seed,
        })
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.secho(f"error: {problems}", fg="red", err=True)
        raise typer.Exit(2) from exc
    try:
        ctx = run_locally(SDisco, params, out, base="/", echo=not quiet)
    except SDiscoError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {', '.join(sorted(p.name for p in ctx.output.iterdir()))} to {ctx.output}")


@app.command()
def demo(
    out: pathlib.Path = typer.Option(..., "--out", "-o", help="Output file (.parquet, .fits, .ecsv) or .zarr store"),
    n: int = typer.Option(100_000, "--n", help="Number of stars"),
    seed: int = typer.Option(0, help="Random seed"),
    bin_factor: int = typer.Option(4, help="APOGEE pixels averaged per output pixel"),
) -> None:
    """Write the demo survey: real APOGEE spectra plus emulated ones with injected anomalies."""
    from explore.apps.sdisco.demo import make_demo_survey

    try:
        spectra = make_demo_survey(n, seed=seed, bin_factor=bin_factor)
    except (FileNotFoundError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    spectra.write(out)
    n_anom = int(sum(spectra.table["is_anomaly"]))
    typer.echo(f"wrote {len(spectra)} spectra of {spectra.n_pixels} pixels ({n_anom} injected anomalies) to {out}")


@app.command()
def formats() -> None:
    """List the spectra formats S-Disco reads."""
    from explore.astro import readers

    for line in (readers.__doc__ or "").splitlines():
        if line.startswith("``"):
            typer.echo(line.strip("`"))
