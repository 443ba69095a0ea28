"""``explore sphot ...``: the command-line interface of S-Phot (mounted by the ``explore`` command).

``explore sphot fit --input PHOT --out OUT [--grid ck04|blackbody] [--extinction none|fit|gtomo]`` is a
contract: keep its names.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import astropy.units as u
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from explore.astro.filters import UnknownFilterError, available_filters, get_filter

__all__ = ["cli"]

cli = typer.Typer(
    name="sphot",
    help="S-Phot: fit stellar SEDs (Teff, radius, luminosity, extinction) and find infrared / ultraviolet excess.",
    no_args_is_help=True,
    add_completion=False,
)

_err = Console(stderr=True)


class Grid(StrEnum):
    ck04 = "ck04"
    blackbody = "blackbody"


class Extinction(StrEnum):
    none = "none"
    fit = "fit"
    gtomo = "gtomo"


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body; a problem with the user's input becomes one clear line and exit code 2."""
    from explore.apps.sphot.models import GridCoverageError
    from explore.apps.sphot.tables import InputTableError

    try:
        return fn()
    except (InputTableError, GridCoverageError, UnknownFilterError, FileNotFoundError, ValueError, u.UnitsError) as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc


@cli.command()
def fit(
    input: Annotated[pathlib.Path, typer.Option("--input", help="CSV / FITS / Parquet: id, ra, dec, parallax, parallax_error (mas), <SVO filter id>, <SVO filter id>_err")],
    out: Annotated[pathlib.Path, typer.Option(help="results table; format from the suffix (.csv, .fits, .parquet, .ecsv)")],
    grid: Annotated[Grid, typer.Option(help="model grid")] = Grid.ck04,
    extinction: Annotated[Extinction, typer.Option(help="none: A_V = 0; fit: A_V free; gtomo: from a G-Tomo cube or an av/ebv column")] = Extinction.none,
    gtomo_cube: Annotated[pathlib.Path | None, typer.Option(help="G-Tomo dust cube (HDF5) for --extinction gtomo")] = None,
    rv: Annotated[float, typer.Option(help="R(V) of the extinction law (G23)")] = 3.1,
    feh: Annotated[float, typer.Option(help="[M/H] of the models")] = 0.0,
    mass: Annotated[float, typer.Option(help="mass (M_sun) assumed for logg = f(radius)")] = 1.0,
    error_floor: Annotated[float, typer.Option(help="added in quadrature to every magnitude error (mag)")] = 0.02,
    clip_sigma: Annotated[float, typer.Option(help="reject a band deviating by more than this")] = 4.0,
    excess_sigma: Annotated[float, typer.Option(help="threshold of the excess flags")] = 5.0,
    plots: Annotated[pathlib.Path | None, typer.Option(help="folder for SED and HR figures")] = None,
) -> None:
    """Fit every star of PHOT and write per-star Teff, radius, luminosity, E(B-V), per-band model and excess."""
    from explore.apps.sphot.batch import fit_table, write_outputs
    from explore.apps.sphot.tables import read_table, write_table

    def body() -> None:
        table = read_table(input)
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeRemainingColumn(), console=_err, disable=not sys.stderr.isatty(),
        ) as bar:
            task = bar.add_task("fitting", total=1.0)
            result = fit_table(
                table, grid=grid.value, extinction=extinction.value, gtomo_cube=gtomo_cube, rv=rv, feh=feh,
                mass=mass, error_floor=error_floor, clip_sigma=clip_sigma, excess_sigma=excess_sigma,
                progress=lambda fraction, message: bar.update(task, completed=fraction, description=message),
            )
        for message in result.meta.get("column_messages", []):
            _err.print(f"[yellow]warning:[/yellow] {message}")
        out.parent.mkdir(parents=True, exist_ok=True)
        write_table(result, out)
        if plots is not None:
            write_outputs(result, table, plots, formats=())
        fitted = np.isfinite(np.asarray(result["teff"], float))
        _err.print(
            f"{int(fitted.sum())} of {len(result)} stars fitted in {len(result.meta['filters'])} bands; "
            f"{int(np.sum(result['ir_excess']))} with infrared and {int(np.sum(result['uv_excess']))} with ultraviolet excess "
            f"-> {out}"
        )

    _guarded(body)


@cli.command()
def demo(
    out: Annotated[pathlib.Path, typer.Option(help="folder for sphot_demo.csv and sphot_demo_truth.csv")],
    n: Annotated[int, typer.Option(help="number of stars")] = 3000,
    seed: Annotated[int, typer.Option(help="random seed")] = 42,
) -> None:
    """Write the deterministic demo sample (model photometry with injected IR and UV excess)."""
    from explore.apps.sphot.demo import write_demo

    path = _guarded(lambda: write_demo(out, n=n, seed=seed))
    _err.print(f"demo sample of {n} stars -> {path}")


@cli.command()
def filters(
    match: Annotated[str, typer.Argument(help="show only ids containing this text")] = "",
) -> None:
    """List the shipped SVO filters: id, pivot wavelength, weighting, magnitude system, zero point."""
    for fid in available_filters():
        if match.lower() not in fid.lower():
            continue
        f = get_filter(fid)
        typer.echo(
            f"{fid:32s} {f.wavelength_pivot.to_value(u.um):9.4f} um  {f.weighting:6s}  {f.mag_system:4s}  "
            f"ZP(Vega) {f.zero_point_vega.to_value(u.Jy):9.3f} Jy"
        )
