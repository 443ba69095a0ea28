"""The ``explore`` command: serve the platform, manage users, files, apps and runs; each app's own
commands are mounted as ``explore <app> ...`` from the catalogue (never imported by name)."""

from __future__ import annotations

import sys
from importlib.util import find_spec

import typer

from explore.cli import admin, files, remote, runs, server
from explore.cli.common import console

app = typer.Typer(
    name="explore",
    help="EXPLORE: find data on the stars of the Milky Way and on the Moon, run Scientific Data Applications, "
    "keep results in your workspace.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
server.register(app)
admin.register(app)
files.register(app)
runs.register(app)
remote.register(app)


def _mount_extensions() -> None:
    mounted = {group.name for group in app.registered_groups}
    if find_spec("explore.cli.browse") is not None and "browse" not in mounted:
        from explore.cli.browse import app as browse

        app.add_typer(browse, name="browse", help="Search the index of planetary products (the space browser).")
    from explore.platform.catalogue import Catalogue
    from explore.settings import Settings

    try:
        extra = Settings().extra_apps
    except Exception:  # noqa: BLE001 - a bad setting must not hide the help
        extra = []
    for cls in Catalogue(extra).list():
        if cls.cli is not None and (cls.cli_name or cls.id) not in mounted:
            app.add_typer(cls.cli, name=cls.cli_name or cls.id, help=f"{cls.title}: {cls.summary}")


def _core_names() -> set[str]:
    names = {group.name for group in app.registered_groups}
    names |= {command.name or command.callback.__name__.replace("_", "-") for command in app.registered_commands}
    return names


def main() -> None:
    # the apps are imported (seconds) only when the command may be one of theirs or help is asked for
    if len(sys.argv) < 2 or sys.argv[1] not in _core_names():
        _mount_extensions()
    try:
        app()
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        sys.exit(130)
