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


class _Installation:
    """The CLI's end on the installation itself, with the method names of :class:`explore.client.Client`
    that file and folder transfers use, so that both ends move files the same way."""

    def __init__(self, user: str | None) -> None:
        self.p = platform()
        self.user = acting_user(self.p, user)

    def __enter__(self) -> _Installation:
        return self

    def __exit__(self, *exc) -> None:
        self.p.close()

    def me(self) -> dict:
        return {"name": self.user.name, "role": self.user.role}

    def stat(self, path: str) -> dict:
        return self.p.workspace.stat(self.user, path).__dict__

    def ls(self, path: str) -> list[dict]:
        return [e.__dict__ for e in self.p.workspace.listdir(self.user, path)]

    def mkdir(self, path: str) -> None:
        self.p.workspace.mkdir(self.user, path)

    def fetch(self, path: str, target: pathlib.Path, *, progress=None) -> pathlib.Path:
        part = target.with_name(target.name + ".part")
        done = 0
        try:
            with part.open("wb") as fh:
                for chunk in self.p.workspace.iter_bytes(self.user, path):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, None)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(target)
        return target

    def upload(self, src: pathlib.Path, path: str, *, progress=None) -> dict:
        size, done = src.stat().st_size, 0
        with self.p.workspace.writer(self.user, path, expected_size=size) as w, src.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                w.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, size)
        return self.p.workspace.stat(self.user, path).__dict__


def _end(server: str | None, user: str | None):
    """Where the command acts: a server through its API (``--server``), or this installation."""
    return remote(server) if server else _Installation(user)


@files.command("put")
@friendly
def put(local: pathlib.Path = typer.Argument(..., exists=True, readable=True),
        path: str = typer.Argument(None, help="destination (default: your home / the file's name)"),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="upload a folder with everything inside"),
        user: str = UserOption, server: str = ServerOption):
    """Upload a local file (streamed, atomic), or a folder with --recursive."""
    where = f" to {server}" if server else ""
    with _end(server, user) as end, transfer_bar() as bar:
        dest = path or f"{end.me()['name']}/"
        if dest.endswith("/"):
            dest += local.name
        if local.is_dir():
            if not recursive:
                raise BadRequest(f"{local} is a folder: add --recursive (-r) to upload it with everything inside")
            task = bar.add_task(f"uploading {local.name}/", total=None)
            from explore.client import upload_tree

            entries = upload_tree(end, local, dest, progress=lambda done, total: bar.update(task, completed=done,
                                                                                           total=total))
            size = sum(e["size"] for e in entries)
            message = f"uploaded {dest}/ ({len(entries)} files, {human_size(size)}){where}"
        else:
            task = bar.add_task(f"uploading {local.name}", total=local.stat().st_size)
            entry = end.upload(local, dest, progress=lambda done, total: bar.update(task, completed=done))
            message = f"uploaded {entry['path']} ({human_size(entry['size'])}){where}"
    console.print(message)


@files.command("get")
@friendly
def get(path: str, local: pathlib.Path = typer.Argument(None, help="local destination (default: the file's name)"),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="download a folder with everything inside"),
        user: str = UserOption, server: str = ServerOption):
    """Download a workspace file, or a folder with --recursive."""
    where = f" from {server}" if server else ""
    with _end(server, user) as end:
        info = end.stat(path)
        is_dir = info.get("is_dir", "entries" in info)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        target = local or pathlib.Path(name)
        if target.is_dir():
            target = target / name
        with transfer_bar() as bar:
            if is_dir:
                if not recursive:
                    raise BadRequest(f"{path} is a folder: add --recursive (-r) to download it with everything inside")
                task = bar.add_task(f"downloading {name}/", total=None)
                from explore.client import download_tree

                saved = download_tree(end, path, target, progress=lambda done, total: bar.update(
                    task, completed=done, total=total))
                size = sum(p.stat().st_size for p in saved)
                message = f"saved {target}/ ({len(saved)} files, {human_size(size)}){where}"
            else:
                task = bar.add_task(f"downloading {name}", total=info["size"])
                end.fetch(path, target, progress=lambda done, total: bar.update(task, completed=done))
                message = f"saved {target} ({human_size(info['size'])}){where}"
    console.print(message)


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
