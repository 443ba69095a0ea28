"""``explore files``: the workspace from the command line."""

from __future__ import annotations

import datetime as dt
import pathlib
from types import SimpleNamespace

import typer
from rich.table import Table

from explore.cli.common import (
    ServerOption,
    UserOption,
    acting_user,
    console,
    friendly,
    human_size,
    platform,
    remote,
    transfer_bar,
)
from explore.platform.errors import BadRequest

files = typer.Typer(help="List, upload, download, delete and share workspace files.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(files, name="files")


@files.command("ls")
@friendly
def ls(path: str = typer.Argument("", help="a workspace path such as alice/results (default: your home)"),
       user: str = UserOption, server: str = ServerOption):
    """List a folder."""
    if server:
        with remote(server) as client:
            path = path or client.me()["name"]
            entries = [SimpleNamespace(**e) for e in client.ls(path)]
    else:
        p = platform()
        me = acting_user(p, user)
        path = path or me.name
        entries = p.workspace.listdir(me, path)
    table = Table("name", "size", "modified", title=path)
    for e in sorted(entries, key=lambda e: (not e.is_dir, e.name.lower())):
        table.add_row(e.name + ("/" if e.is_dir else ""), "" if e.is_dir else human_size(e.size),
                      dt.datetime.fromtimestamp(e.modified).strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@files.command("put")
@friendly
def put(local: pathlib.Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
        path: str = typer.Argument(None, help="destination (default: your home / the file's name)"),
        user: str = UserOption, server: str = ServerOption):
    """Upload a local file (streamed, atomic)."""
    if server:
        with remote(server) as client, transfer_bar() as bar:
            dest = path or f"{client.me()['name']}/"
            task = bar.add_task(f"uploading {local.name}", total=local.stat().st_size)
            entry = client.upload(local, dest, progress=lambda done, total: bar.update(task, completed=done))
        console.print(f"uploaded {entry['path']} ({human_size(entry['size'])}) to {server}")
        return
    p = platform()
    me = acting_user(p, user)
    dest = path or f"{me.name}/{local.name}"
    if dest.endswith("/"):
        dest += local.name
    size = local.stat().st_size
    with transfer_bar() as bar:
        task = bar.add_task(f"uploading {local.name}", total=size)
        with p.workspace.writer(me, dest, expected_size=size) as w, local.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                w.write(chunk)
                bar.advance(task, len(chunk))
    console.print(f"uploaded {dest} ({human_size(size)})")


@files.command("get")
@friendly
def get(path: str, local: pathlib.Path = typer.Argument(None, help="local destination (default: the file's name)"),
        user: str = UserOption, server: str = ServerOption):
    """Download a workspace file."""
    if server:
        with remote(server) as client:
            info = client.stat(path)
            if "entries" in info:
                raise BadRequest(f"{path} is a folder")
            with transfer_bar() as bar:
                task = bar.add_task(f"downloading {info['name']}", total=info["size"])
                target = client.download(path, local, progress=lambda done, total: bar.update(task, completed=done))
        console.print(f"saved {target} ({human_size(info['size'])}) from {server}")
        return
    p = platform()
    me = acting_user(p, user)
    info = p.workspace.stat(me, path)
    if info.is_dir:
        raise BadRequest(f"{path} is a folder")
    target = local or pathlib.Path(info.name)
    if target.is_dir():
        target = target / info.name
    tmp = target.with_name(target.name + ".part")
    with transfer_bar() as bar, tmp.open("wb") as fh:
        task = bar.add_task(f"downloading {info.name}", total=info.size)
        for chunk in p.workspace.iter_bytes(me, path):
            fh.write(chunk)
            bar.advance(task, len(chunk))
    tmp.replace(target)
    console.print(f"saved {target} ({human_size(info.size)})")


@files.command("mkdir")
@friendly
def mkdir(path: str, user: str = UserOption):
    """Create a folder."""
    p = platform()
    p.workspace.mkdir(acting_user(p, user), path)
    console.print(f"created {path}/")


@files.command("mv")
@friendly
def mv(path: str, to: str, user: str = UserOption):
    """Rename or move a file or folder."""
    p = platform()
    p.workspace.move(acting_user(p, user), path, to)
    console.print(f"moved {path} -> {to}")


@files.command("rm")
@friendly
def rm(path: str, user: str = UserOption, yes: bool = typer.Option(False, "--yes", "-y", help="do not ask")):
    """Delete a file or folder (and everything inside)."""
    p = platform()
    me = acting_user(p, user)
    info = p.workspace.stat(me, path)
    if info.is_dir and not yes:
        typer.confirm(f"delete the folder {path} and everything inside?", abort=True)
    p.workspace.delete(me, path)
    console.print(f"deleted {path}")


@files.command("share")
@friendly
def share(path: str,
          with_user: list[str] = typer.Option(None, "--with", help="NAME[:read|write], repeatable"),
          group: list[str] = typer.Option(None, "--group", help="GROUP[:read|write], repeatable"),
          public: bool = typer.Option(False, "--public/--not-public", help="anyone may read it"),
          private: bool = typer.Option(False, "--private", help="remove every grant on this path"),
          user: str = UserOption):
    """Set who may read or write a file or folder (replaces the grants on that path)."""
    p = platform()
    me = acting_user(p, user)

    def parse(items: list[str] | None) -> dict[str, str]:
        out = {}
        for item in items or []:
            name, _, access = item.partition(":")
            out[name] = access or "read"
        return out

    users, groups = ({}, {}) if private else (parse(with_user), parse(group))
    result = p.workspace.set_permissions(me, path, public=public and not private, users=users, groups=groups)
    who = [f"{n} ({a})" for n, a in result["users"].items()] + [f"group {n} ({a})" for n, a in result["groups"].items()]
    if result["public"]:
        who.append("everyone (read)")
    console.print(f"{path}: " + (", ".join(who) if who else "private"))
