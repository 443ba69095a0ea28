"""``explore moon ...``: the command line of L-Explo (mounted by the ``explore`` command).

``explore moon elevation --lon LON --lat LAT`` is a contract: it prints the height in metres above
the 1737.4 km sphere of the LDEM_4 pixel holding the point (DN x 0.5), lon in degrees east
(-180..360). Keep its name, options and output.
"""

from __future__ import annotations

import json
import pathlib
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["cli"]

cli = typer.Typer(
    name="moon",
    help="L-Explo: the Moon across scales (elevation, profiles, distances, areas, tiles, demo data).",
    no_args_is_help=True,
    add_completion=False,
)

_err = Console(stderr=True)


def _data_dir(data_dir: pathlib.Path | None) -> pathlib.Path | None:
    if data_dir is not None:
        return data_dir
    from explore.settings import Settings

    return Settings().data_path


def _fail(message: str) -> None:
    _err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def _check_point(lon: float, lat: float) -> None:
    if not -180.0 <= lon <= 360.0:
        _fail(f"longitude {lon} is outside -180..360 degrees east")
    if not -90.0 <= lat <= 90.0:
        _fail(f"latitude {lat} is outside -90..90 degrees")


@cli.command()
def elevation(
    lon: Annotated[float, typer.Option(help="longitude, degrees east (-180..360)")],
    lat: Annotated[float, typer.Option(help="planetocentric latitude, degrees (-90..90)")],
    data_dir: Annotated[pathlib.Path | None, typer.Option(help="data folder (default: EXPLORE_DATA_DIR)")] = None,
) -> None:
    """Print the elevation in metres above the 1737.4 km sphere from LOLA LDEM_4 (DN x 0.5)."""
    from explore.planetary.geodesy import point_value

    from .layers import MoonDataMissingError, _cached_raster, find_moon_data

    _check_point(lon, lat)
    try:
        data = find_moon_data(_data_dir(data_dir))
    except MoonDataMissingError as exc:
        _fail(str(exc))
        return
    value = point_value(_cached_raster(data.ldem), lon, lat)
    typer.echo(f"{value:.1f}")


@cli.command()
def values(
    lon: Annotated[float, typer.Option(help="longitude, degrees east (-180..360)")],
    lat: Annotated[float, typer.Option(help="latitude, degrees")],
    data_dir: Annotated[pathlib.Path | None, typer.Option(help="data folder")] = None,
) -> None:
    """Print elevation (m), slope (deg) and albedo (DN) at a point as JSON."""
    from .layers import find_moon_data, point_values

    _check_point(lon, lat)
    typer.echo(json.dumps(point_values(lon, lat, find_moon_data(_data_dir(data_dir)))))


def _parse_points(text: str) -> list[tuple[float, float]]:
    try:
        points = [tuple(float(v) for v in pair.split(",")) for pair in text.split(";") if pair.strip()]
    except ValueError:
        _fail(f"points must be 'lon,lat;lon,lat;...', got {text!r}")
    if any(len(p) != 2 for p in points):
        _fail(f"points must be 'lon,lat;lon,lat;...', got {text!r}")
    return points  # type: ignore[return-value]


@cli.command()
def profile(
    points: Annotated[str, typer.Option(help="vertices 'lon,lat;lon,lat;...' (great-circle segments)")],
    samples: Annotated[int, typer.Option(min=2, max=100_000, help="number of samples")] = 101,
    data_dir: Annotated[pathlib.Path | None, typer.Option(help="data folder")] = None,
) -> None:
    """Print an elevation profile (distance_m, lon, lat, elevation_m) as CSV."""
    from explore.planetary.geodesy import GeometryError

    from .layers import elevation_profile, find_moon_data

    try:
        prof = elevation_profile(_parse_points(points), n=samples, data=find_moon_data(_data_dir(data_dir)))
    except GeometryError as exc:
        _fail(str(exc))
        return
    typer.echo("distance_m,lon,lat,elevation_m")
    for d, lo, la, v in zip(prof.distance_m, prof.lon, prof.lat, prof.value, strict=True):
        typer.echo(f"{d:.1f},{lo:.5f},{la:.5f},{v:.1f}")


@cli.command()
def distance(
    points: Annotated[str, typer.Option(help="vertices 'lon,lat;lon,lat;...'")],
) -> None:
    """Print the length in metres of a great-circle polyline on the 1737.4 km sphere."""
    from explore.planetary.geodesy import GeometryError, path_length

    try:
        typer.echo(f"{path_length(_parse_points(points)):.1f}")
    except GeometryError as exc:
        _fail(str(exc))


@cli.command()
def area(
    points: Annotated[str, typer.Option(help="polygon vertices 'lon,lat;lon,lat;...'")],
) -> None:
    """Print the area in square kilometres of a polygon on the sphere (great-circle edges)."""
    from explore.planetary.geodesy import GeometryError, polygon_area

    try:
        typer.echo(f"{polygon_area(_parse_points(points)) / 1e6:.3f}")
    except GeometryError as exc:
        _fail(str(exc))


@cli.command("prepare-demo")
def prepare_demo(
    data_dir: Annotated[pathlib.Path | None, typer.Option(help="data folder")] = None,
) -> None:
    """Copy the real Moon files into <data_dir>/moon and build hillshade and slope."""
    from .layers import MoonDataMissingError, prepare_demo_data

    try:
        data = prepare_demo_data(_data_dir(data_dir))  # type: ignore[arg-type]
    except MoonDataMissingError as exc:
        _fail(str(exc))
        return
    typer.echo(f"Moon data ready in {data.root}")


@cli.command()
def tile(
    layer: Annotated[str, typer.Argument(help="elevation, hillshade, slope, albedo or shadowcam")],
    z: Annotated[int, typer.Argument()],
    x: Annotated[int, typer.Argument()],
    y: Annotated[int, typer.Argument()],
    out: Annotated[pathlib.Path, typer.Option(help="PNG file to write")],
    tms: Annotated[str, typer.Option(help="geographic, equirectangular, webmercator, north_polar, south_polar")] = "geographic",
    data_dir: Annotated[pathlib.Path | None, typer.Option(help="data folder")] = None,
) -> None:
    """Write one 256-pixel map tile as PNG (transparent outside the map)."""
    from explore.planetary.tiles import TileError, TileRenderer

    from .layers import moon_layers

    try:
        png = TileRenderer(moon_layers(_data_dir(data_dir))).tile(layer, tms, z, x, y)
    except TileError as exc:
        _fail(str(exc))
        return
    out.write_bytes(png)
    typer.echo(str(out))
