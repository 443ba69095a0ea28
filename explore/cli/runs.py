"""``explore apps``, ``explore run`` and ``explore runs``."""

from __future__ import annotations

import json

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from explore.cli.common import UserOption, acting_user, console, err_console, friendly, platform
from explore.platform.errors import BadRequest

apps = typer.Typer(help="The installed apps.", no_args_is_help=True)
runs = typer.Typer(help="Batch runs: list, show, stop.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(apps, name="apps")
    app.add_typer(runs, name="runs")
    app.command("run", context_settings={"allow_extra_args": False})(run)


@apps.command("ls", hidden=True)
@apps.command("list")
@friendly
def list_apps():
    """List the installed apps."""
    p = platform()
    table = Table("id", "title", "body", "version", "batch", "summary")
    for cls in p.catalogue.list():
        table.add_row(cls.id, cls.title, cls.body, cls.version, "yes" if cls.has_run() else "-", cls.summary)
    console.print(table)
    for name, error in p.catalogue.broken.items():
        err_console.print(f"[yellow]not loaded:[/] {name}: {error}")


@apps.command("show")
@friendly
def show_app(app_id: str):
    """An app's description and its batch parameters."""
    info = platform().catalogue.describe(app_id)
    console.print(f"[bold]{info['title']}[/] {info['version']} ({info['licence']}) by {info['creator']}")
    console.print(info["description"] or info["summary"])
    if info["citation"]:
        console.print(f"[dim]cite: {info['citation']}[/]")
    table = Table("parameter", "type", "default", "description", title="batch parameters (key=value)")
    schema = info["params_schema"]
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(str(x.get("type", x.get("const", ""))) for x in prop.get("anyOf", []))
        if "enum" in prop:
            kind = " | ".join(map(str, prop["enum"]))
        required = name in schema.get("required", [])
        table.add_row(name, str(kind), "(required)" if required else json.dumps(prop.get("default")),
                      prop.get("description", ""))
    console.print(table)


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadRequest(f"parameters are key=value, not {pair!r}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


@friendly
def run(app_id: str = typer.Argument(..., metavar="APP"),
        params: list[str] = typer.Argument(None, metavar="KEY=VALUE...", help="batch parameters"),
        detach: bool = typer.Option(False, "--detach", "-d", help="submit and return at once"),
        user: str = UserOption):
    """Run an app in batch; waits and shows progress unless --detach."""
    p = platform()
    me = acting_user(p, user)
    state = p.runs.submit(me, app_id, _parse_params(params or []))
    run_id = state["id"]
    console.print(f"run [bold]{run_id}[/] of {app_id} queued")
    if detach:
        return
    p.start_scheduler(recover=False)
    try:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), TaskProgressColumn(),
                      TimeElapsedColumn(), TextColumn("{task.fields[message]}"), console=console) as bar:
            task = bar.add_task(app_id, total=1.0, message="")
            for state in p.runs.events(me, run_id):
                bar.update(task, completed=state["progress"], message=state["message"][:60])
                for line in state["log"]:
                    if line["level"] in ("warning", "error"):
                        bar.console.print(f"[yellow]{line['level']}:[/] {line['message']}")
    except KeyboardInterrupt:
        p.runs.stop(me, run_id)
        p.runs.wait(me, run_id, timeout=10)
        err_console.print("[yellow]stopped[/]")
        raise typer.Exit(130) from None
    finally:
        p.close()
    _report(state)
    if state["phase"] != "COMPLETED":
        raise typer.Exit(1)


def _report(state: dict) -> None:
    colour = {"COMPLETED": "green", "ERROR": "red", "ABORTED": "yellow"}.get(state["phase"], "white")
    console.print(f"[{colour}]{state['phase']}[/]: {state['message']}")
    if state["output"]:
        console.print(f"output folder: {state['output']}")


@runs.command("ls", hidden=True)
@runs.command("list")
@friendly
def list_runs(user: str = UserOption, app: str = typer.Option(None), limit: int = 30):
    """My runs, newest first."""
    p = platform()
    table = Table("id", "app", "phase", "progress", "created", "output")
    for r in p.runs.list(acting_user(p, user), app=app, limit=limit):
        table.add_row(r["id"][:12], r["app"], r["phase"], f"{r['progress']:.0%}", r["created"][:19], r["output"])
    console.print(table)


def _full_id(p, me, run_id: str) -> str:
    if len(run_id) < 32:
        matches = [r["id"] for r in p.runs.list(me, limit=1000) if r["id"].startswith(run_id)]
        if len(matches) == 1:
            return matches[0]
    return run_id


@runs.command("show")
@friendly
def show(run_id: str, user: str = UserOption, log: bool = typer.Option(True, "--log/--no-log")):
    """A run's state, parameters and log."""
    p = platform()
    me = acting_user(p, user)
    run_id = _full_id(p, me, run_id)
    r = p.runs.get(me, run_id)
    console.print_json(json.dumps({k: v for k, v in r.items()}))
    if log:
        for line in p.runs.log(me, run_id):
            console.print(f"[dim]{line['time'][11:19]}[/] {line['level']}: {line['message']}")


@runs.command("stop")
@friendly
def stop(run_id: str, user: str = UserOption):
    """Stop a run."""
    p = platform()
    me = acting_user(p, user)
    r = p.runs.stop(me, _full_id(p, me, run_id))
    console.print(f"{r['id']}: {r['phase']} {r['message']}")
