"""``explore browse ...``: the space browser on the command line.

* ``search``: the same filters as ``GET /api/v1/products`` (a rich table, or ``--json``).
* ``harvest-ode``: fill the index from PDS ODE REST.
* ``scan-labels``: fill the index from a folder of PDS3 / PDS4 / ISIS labels.
* ``demo``: the deterministic demo index (realistic products, plus the real labels if present).

Every command takes ``--database-url`` (default: the installation's database) and brings the
schema up to date first.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from explore.platform.db import Database

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Search the index of planetary products (the space browser).")
_out = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

DatabaseOption = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL (default: the settings' database)")]


def _database(url: str | None) -> Database:
    if url is None:
        from explore.settings import Settings

        url = Settings().db_url
    db = Database(url)
    db.migrate()
    return db


def _fail(message: str, code: int = 2) -> None:
    _err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _time(text: str | None, name: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--{name} {text!r} is not an ISO time like 2010-01-31 or 2010-01-31T12:00:00")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@app.command()
def search(
    body: Annotated[str | None, typer.Option(help="moon or mars")] = None,
    mission: Annotated[str | None, typer.Option(help="LRO, Clementine, Chandrayaan-1, Kaguya ...")] = None,
    instrument: Annotated[str | None, typer.Option(help="LROC NAC, LWIR, M3 ... ('LROC' matches NAC and WAC)")] = None,
    product_type: Annotated[str | None, typer.Option(help="EDRNAC, CALIBRATED_IMAGE ...")] = None,
    min_emission: Annotated[float | None, typer.Option()] = None,
    max_emission: Annotated[float | None, typer.Option()] = None,
    min_incidence: Annotated[float | None, typer.Option()] = None,
    max_incidence: Annotated[float | None, typer.Option()] = None,
    min_phase: Annotated[float | None, typer.Option()] = None,
    max_phase: Annotated[float | None, typer.Option()] = None,
    start: Annotated[str | None, typer.Option(help="observed from (UTC, ISO)")] = None,
    stop: Annotated[str | None, typer.Option(help="observed until (UTC, ISO)")] = None,
    bbox: Annotated[str | None, typer.Option(help="W,S,E,N degrees; W > E crosses 180 deg")] = None,
    polygon: Annotated[str | None, typer.Option(help="WKT polygon (lon/lat, or metres with --polygon-crs)")] = None,
    polygon_crs: Annotated[str, typer.Option(help="lonlat, south_polar or north_polar")] = "lonlat",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    sort: Annotated[str, typer.Option(help="start_time, incidence ...; prefix - for descending")] = "start_time",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (total + items) instead of a table")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Search the product index."""
    from explore.platform.products import ProductQuery, SearchError, search_products
    from explore.web.api.products import parse_bbox

    try:
        query = ProductQuery(
            body=body, mission=mission, instrument=instrument, product_type=product_type,
            min_emission=min_emission, max_emission=max_emission, min_incidence=min_incidence,
            max_incidence=max_incidence, min_phase=min_phase, max_phase=max_phase,
            start=_time(start, "start"), stop=_time(stop, "stop"), bbox=parse_bbox(bbox) if bbox else None,
            polygon=polygon, polygon_crs=polygon_crs, limit=limit, offset=offset, sort=sort,
        )
        db = _database(database_url)
        with db.session() as session:
            result = search_products(session, query, columns=False)  # one search: not worth the in-memory index
            if as_json:
                typer.echo(json.dumps(result.to_dict()))
                return
            count = f"{result.total:,}" + ("" if result.total_exact else "+")  # "10,000+": counted up to 10,000
            table = Table(title=f"{count} products (showing {offset + 1 if result.items else 0}-{offset + len(result.items)})")
            for column in ("id", "mission", "instrument", "type", "product", "start (UTC)", "inc", "emi", "pha", "centre"):
                table.add_column(column)
            for p in result.items:
                table.add_row(
                    str(p.id), p.mission, p.instrument, p.product_type, p.product_id,
                    p.start_time.strftime("%Y-%m-%d %H:%M:%S") if p.start_time else "",
                    *(f"{v:.1f}" if v is not None else "" for v in (p.incidence, p.emission, p.phase)),
                    "" if p.centre_lon is None else f"{p.centre_lon:.2f}, {p.centre_lat:.2f}",
                )
            _out.print(table)
    except SearchError as exc:
        _fail(str(exc))


@app.command("scan-labels")
def scan_labels(
    folder: Annotated[pathlib.Path, typer.Argument(help="folder of .lbl / .xml / .cub / .img labels")],
    recursive: Annotated[bool, typer.Option(help="descend into sub-folders")] = True,
    database_url: DatabaseOption = None,
) -> None:
    """Index every PDS3, PDS4 and ISIS label in a folder (files that are not labels are listed)."""
    from explore.platform.products import index_labels

    if not folder.is_dir():
        _fail(f"{folder} is not a folder")
    db = _database(database_url)
    with db.session() as session:
        report = index_labels(session, folder, recursive=recursive)
    _out.print(f"{report.added} added, {report.updated} updated, {len(report.skipped)} skipped")
    for path, reason in report.skipped:
        _err.print(f"[yellow]skipped[/yellow] {path}: {reason}")


@app.command("harvest-ode")
def harvest_ode(
    body: Annotated[str, typer.Option(help="moon or mars")] = "moon",
    ihid: Annotated[str | None, typer.Option(help="instrument host id, e.g. LRO")] = None,
    iid: Annotated[str | None, typer.Option(help="instrument id, e.g. LROC")] = None,
    pt: Annotated[str | None, typer.Option(help="product type, e.g. EDRNAC")] = None,
    min_incidence: Annotated[float | None, typer.Option()] = None,
    max_incidence: Annotated[float | None, typer.Option()] = None,
    min_emission: Annotated[float | None, typer.Option()] = None,
    max_emission: Annotated[float | None, typer.Option()] = None,
    min_phase: Annotated[float | None, typer.Option()] = None,
    max_phase: Annotated[float | None, typer.Option()] = None,
    bbox: Annotated[str | None, typer.Option(help="W,S,E,N degrees")] = None,
    start: Annotated[str | None, typer.Option()] = None,
    stop: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="at most this many products per set")] = None,
    list_sets: Annotated[bool, typer.Option("--list-sets", help="only list the valid ihid/iid/pt sets")] = False,
    ode_url: Annotated[str, typer.Option(help="ODE REST endpoint")] = "https://oderest.rsl.wustl.edu/live2",
    page_size: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    database_url: DatabaseOption = None,
) -> None:
    """Harvest products from PDS ODE REST into the index (needs ihid, iid and pt, or --list-sets)."""
    from explore.planetary.ode import OdeClient, OdeError
    from explore.platform.products import SearchError
    from explore.platform.products import harvest_ode as harvest
    from explore.web.api.products import parse_bbox

    try:
        with OdeClient(ode_url, page_size=page_size) as client:
            if list_sets:
                table = Table(title=f"ODE instrument sets for {body}")
                for column in ("ihid", "iid", "pt", "products", "name"):
                    table.add_column(column)
                for s in client.instrument_sets(body):
                    table.add_row(s.ihid, s.iid, s.pt, str(s.n_products), s.product_type or s.instrument)
                _out.print(table)
                return
            if not (ihid and iid and pt):
                _fail("give --ihid, --iid and --pt (ODE ignores every filter without them); see --list-sets")
            filters = {k: v for k, v in {
                "min_incidence": min_incidence, "max_incidence": max_incidence, "min_emission": min_emission,
                "max_emission": max_emission, "min_phase": min_phase, "max_phase": max_phase}.items() if v is not None}
            if bbox:
                filters["bbox"] = parse_bbox(bbox)
            if start:
                filters["start"] = _time(start, "start")
            if stop:
                filters["stop"] = _time(stop, "stop")
            db = _database(database_url)
            with db.session() as session:
                report = harvest(session, client, body, [(ihid, iid, pt)], limit=limit,
                                 progress=lambda n, total, label: _err.print(f"{label}: {n} products"), **filters)
            _out.print(f"{report.added} added, {report.updated} updated")
    except (OdeError, SearchError) as exc:
        _fail(str(exc), 1)


@app.command()
def demo(
    n: Annotated[int, typer.Option(min=0, max=2_000_000, help="synthetic products")] = 5000,
    database_url: DatabaseOption = None,
) -> None:
    """Build the demo index: n realistic synthetic products plus the real labels beside the project."""
    from explore.platform.products import make_demo_index

    db = _database(database_url)
    with db.session() as session:
        counts = make_demo_index(session, n=n)
    _out.print(", ".join(f"{v} {k}" for k, v in counts.items()))
