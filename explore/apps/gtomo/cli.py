"""``explore gtomo ...``: the command-line interface of G-Tomo (mounted by the ``explore`` command).

The names of ``extinction`` and ``profile`` and their options are a contract; keep them.
"""

from __future__ import annotations

import json
import pathlib
import sys
from collections.abc import Callable
from typing import Annotated, Any

import astropy.units as u
import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from .batch import extinction_table, flag_counts
from .cube import CubeFormatError, DustCube
from .fetch import FetchError
from .targets import NameResolutionError, TargetTableError, read_targets, write_table

__all__ = ["cli"]

cli = typer.Typer(
    name="gtomo",
    help="G-Tomo: extinction from the 3D dust cubes of Lallement et al. (2022) / Vergely et al. (2022).",
    no_args_is_help=True,
    add_completion=False,
)

_err = Console(stderr=True, soft_wrap=True)

_EXPECTED = (CubeFormatError, TargetTableError, NameResolutionError, FetchError, FileNotFoundError,
             ValueError, u.UnitsError)


def _guarded(fn: Callable[[], Any]) -> Any:
    """Run a command body; a problem with the user's input becomes one clear line and exit code 2."""
    try:
        return fn()
    except _EXPECTED as exc:
        _err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc


def _progress_bar(description: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,}"),
        TimeRemainingColumn(), console=_err, transient=False, disable=not sys.stderr.isatty(),
    )


@cli.command()
def extinction(
    cube: Annotated[pathlib.Path, typer.Option(help="density cube (HDF5, published layout)")],
    targets: Annotated[pathlib.Path, typer.Option(help="CSV / FITS / Parquet table with l, b (or ra, dec) in deg and distance in pc")],
    out: Annotated[pathlib.Path, typer.Option(help="output table; format from the suffix (.csv, .fits, .parquet, .ecsv)")],
    error_cube: Annotated[pathlib.Path | None, typer.Option(help="error cube: adds a0_err")] = None,
    error_kind: Annotated[str, typer.Option(help="auto, extinction_error or density_error")] = "auto",
    beyond: Annotated[str, typer.Option(help="a0 of targets beyond the cube: nan, or edge (integral to the boundary, a lower limit)")] = "nan",
    band: Annotated[list[str] | None, typer.Option(help="also convert A0 to this band or E(B-V) (repeatable)")] = None,
    law: Annotated[str, typer.Option(help="extinction law (dust_extinction): G23, F19, F99, O94, CCM89")] = "G23",
    rv: Annotated[float, typer.Option(help="R(V) of the law")] = 3.1,
) -> None:
    """Integrated extinction A0 (mag) to every target of a table: adds a0, a0_err and flag columns."""

    def body() -> None:
        if error_kind not in ("auto", "extinction_error", "density_error"):
            raise ValueError(f"--error-kind must be auto, extinction_error or density_error; got {error_kind!r}")
        if beyond not in ("nan", "edge"):
            raise ValueError(f"--beyond must be nan or edge; got {beyond!r}")
        table = read_targets(targets)
        dens = DustCube.open(cube)
        errc = DustCube.open(error_cube) if error_cube is not None else None
        with _progress_bar("extinction") as bar:
            task = bar.add_task("extinction", total=len(table))

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            result = extinction_table(
                dens, table, error_cube=errc, error_kind=error_kind, beyond=beyond,  # type: ignore[arg-type]
                law=law, rv=rv, bands=band or (), progress=report,
            )
        write_table(result, out)
        counts = flag_counts(np.asarray(result["flag"]))
        flagged = {k: v for k, v in counts.items() if k != "clean" and v}
        _err.print(f"wrote {len(result):,} targets to {out} ({counts['clean']:,} clean"
                   + (", flagged: " + ", ".join(f"{k} {v:,}" for k, v in flagged.items()) if flagged else "") + ")")

    _guarded(body)


@cli.command()
def profile(
    cube: Annotated[pathlib.Path, typer.Option(help="density cube (HDF5, published layout)")],
    l: Annotated[float, typer.Option("--l", help="Galactic longitude (deg)")],  # noqa: E741 (l is the Galactic longitude)
    b: Annotated[float, typer.Option("--b", help="Galactic latitude (deg)")],
    max_distance: Annotated[float, typer.Option(help="last distance (pc)")],
    out: Annotated[pathlib.Path, typer.Option(help="output table (.csv, .fits, .parquet, .ecsv) or .png plot")],
    step: Annotated[float | None, typer.Option(help="sample spacing (pc); default half a voxel")] = None,
    error_cube: Annotated[pathlib.Path | None, typer.Option(help="error cube")] = None,
    error_kind: Annotated[str, typer.Option(help="auto, extinction_error or density_error")] = "auto",
) -> None:
    """Extinction profile along one sightline: density, cumulative A0 and errors versus distance."""
    from .sightline import sightline_profile

    def body() -> None:
        prof = sightline_profile(cube, l, b, max_distance, step=step, error_cube=error_cube,
                                 error_kind=error_kind)  # type: ignore[arg-type]
        if out.suffix.lower() == ".png":
            from .plots import plot_profile

            plot_profile(prof, out)
        else:
            write_table(prof.to_table(), out)
        last = prof.cumulative[prof.inside][-1] if prof.inside.any() else np.nan * u.mag
        note = "" if prof.inside.all() else f"; the sightline leaves the cube at {prof.edge:.0f} (beyond: NaN)"
        _err.print(f"wrote {len(prof.distance)} samples to {out}; A0 = {last:.3f} at "
                   f"{prof.distance[prof.inside][-1] if prof.inside.any() else 0 * u.pc:.0f}{note}")

    _guarded(body)


@cli.command()
def skymap(
    cube: Annotated[pathlib.Path, typer.Option(help="density cube")],
    distance: Annotated[float, typer.Option(help="integrate A0 from the Sun to this distance (pc)")],
    out: Annotated[pathlib.Path, typer.Option(help="HEALPix FITS file (.fits) or Mollweide image (.png)")],
    nside: Annotated[int, typer.Option(help="HEALPix nside (power of 2)")] = 64,
    beyond: Annotated[str, typer.Option(help="nan or edge")] = "nan",
) -> None:
    """Sky map of A0 integrated to a distance (HEALPix, Galactic; or its Mollweide image)."""
    from .slices import sky_map

    def body() -> None:
        smap = sky_map(cube, distance, nside=nside, beyond=beyond)  # type: ignore[arg-type]
        if out.suffix.lower() == ".png":
            from .plots import plot_sky_map

            plot_sky_map(smap, out)
        else:
            smap.write(out)
        _err.print(f"wrote {out} (nside {nside}, {int((smap.flag != 0).sum()):,} pixels beyond the cube)")

    _guarded(body)


@cli.command()
def clouds(
    cube: Annotated[pathlib.Path, typer.Option(help="density cube")],
    threshold: Annotated[float, typer.Option(help="density threshold (mag/pc)")],
    out: Annotated[pathlib.Path, typer.Option(help="clouds table (.csv, .ecsv, .fits, .parquet)")],
    min_size: Annotated[int, typer.Option(help="smallest cloud (voxels)")] = 10,
) -> None:
    """Dust clouds: HDBSCAN clusters of the voxels above a density threshold."""
    from .clouds import find_clouds

    def body() -> None:
        table = find_clouds(cube, threshold, min_cluster_size=min_size)
        write_table(table, out)
        _err.print(f"found {len(table)} clouds above {threshold:g} mag/pc; wrote {out}")

    _guarded(body)


@cli.command()
def info(cube: Annotated[pathlib.Path, typer.Argument(help="cube file")]) -> None:
    """Describe a cube: grid, extent, Sun's voxel, value range."""

    def body() -> None:
        c = DustCube.open(cube)
        ext = c.extent.to_value(u.pc)
        data = c.values()
        summary = {
            "file": str(cube), "kind": c.kind, "unit": str(c.unit), "shape_xyz": list(c.shape),
            "step_pc": c.step_pc, "sun_index_xyz": list(c.sun_index),
            "extent_pc": {"x": ext[0].tolist(), "y": ext[1].tolist(), "z": ext[2].tolist()},
            "min": float(np.nanmin(data)), "max": float(np.nanmax(data)), "memory_mapped": isinstance(data, np.memmap),
        }
        typer.echo(json.dumps(summary, indent=2))

    _guarded(body)


@cli.command()
def demo(
    folder: Annotated[pathlib.Path, typer.Argument(help="where to write the demo files")],
    grid: Annotated[str, typer.Option(help="25pc-small, 25pc or 50pc")] = "25pc-small",
) -> None:
    """Write the demo data set: a density cube, its error cubes, and a target table."""
    from .demo import make_demo_cube, make_demo_errors, make_demo_targets

    def body() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [
            make_demo_cube(folder / "demo_cube_density.h5", grid),
            make_demo_errors(folder / "demo_cube_density_errors.h5", grid, kind="density_error"),
            make_demo_errors(folder / "demo_cube_extinct_errors.h5", grid, kind="extinction_error")
            if grid == "25pc-small" else None,
            make_demo_targets(folder / "demo_targets.csv", grid=grid),
        ]
        for p in paths:
            if p is not None:
                typer.echo(str(p))

    _guarded(body)


@cli.command()
def fetch(
    url: Annotated[str, typer.Argument(help="URL of a published cube")],
    dest: Annotated[pathlib.Path, typer.Argument(help="local file to write")],
    sha256: Annotated[str | None, typer.Option(help="expected SHA-256 of the file")] = None,
) -> None:
    """Download a cube (resumes an interrupted download; checks the SHA-256 when given)."""
    from .fetch import fetch as do_fetch

    def body() -> None:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                      TransferSpeedColumn(), TimeRemainingColumn(), console=_err,
                      disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task(dest.name, total=None)

            def report(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            path = do_fetch(url, dest, sha256=sha256, progress=report)
        typer.echo(str(path))

    _guarded(body)
