"""What the CLI commands share: the platform, the acting user, and errors printed as messages."""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from explore.platform.errors import ExploreError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
UserOption = typer.Option(None, "--user", "-u", envvar="EXPLORE_USER",
                          help="act as this user (default: your login name if such a user exists)")


def platform():
    from explore.platform.core import Platform
    from explore.settings import Settings

    return Platform(Settings())


def acting_user(p, name: str | None):
    """The user the command acts for: ``--user``, ``EXPLORE_USER``, or the login name."""
    from explore.platform.errors import NotFound

    name = name or getpass.getuser()
    try:
        return p.accounts.get(name)
    except NotFound:
        raise ExploreError(f"no user named {name!r}: pass --user NAME (create one with 'explore users add NAME')") from None


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print platform errors as one red line and exit 1, instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ExploreError as exc:
            err_console.print(f"[red]error:[/] {exc.message}", soft_wrap=True)
            raise typer.Exit(1) from None
        except (FileNotFoundError, PermissionError, ValueError) as exc:
            err_console.print(f"[red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def stdin_is_tty() -> bool:
    return os.isatty(0)
