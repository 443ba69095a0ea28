"""What the CLI commands share: the platform, the acting user, and errors printed as messages."""

from __future__ import annotations

import functools
import getpass
import json
import os
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from explore.platform.errors import BadRequest, ExploreError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
UserOption = typer.Option(None, "--user", "-u", envvar="EXPLORE_USER",
                          help="act as this user (default: your login name if such a user exists)")
ServerOption = typer.Option(None, "--server", "-s", envvar="EXPLORE_SERVER",
                            help="work on this server through its API (http://host:8000) instead of this "
                            "machine's data folder; sign in first with 'explore login URL'")


def tokens_file() -> pathlib.Path:
    """Where ``explore login`` keeps the API token of each server (readable by its owner only)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return pathlib.Path(base) / "explore" / "tokens.json"


def saved_tokens() -> dict[str, str]:
    try:
        return json.loads(tokens_file().read_text())
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise ExploreError(f"{tokens_file()} is not valid JSON ({exc}); delete it and sign in again") from None


def save_token(server: str, token: str) -> pathlib.Path:
    path = tokens_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tokens = {**saved_tokens(), server.rstrip("/"): token}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(tokens, fh, indent=1)
    tmp.replace(path)
    return path


def remote(server: str):
    """A client of ``server`` with its token: ``EXPLORE_TOKEN``, or the one ``explore login`` saved."""
    from explore.client import Client

    server = server.rstrip("/")
    token = os.environ.get("EXPLORE_TOKEN") or saved_tokens().get(server)
    if not token:
        raise ExploreError(f"not signed in to {server}: run 'explore login {server}' (or set EXPLORE_TOKEN)")
    return Client(server, token)


def transfer_bar():
    """A progress bar for one file moving (bytes, speed, time left)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    return Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True)


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
        except Exception as exc:
            message = _remote_error(exc)
            if message is None:
                raise
            err_console.print(f"[red]error:[/] {message}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def _remote_error(exc: Exception) -> str | None:
    """The message of an error from a server the command talked to (``--server``), else None. The client
    and httpx are looked up among the loaded modules: a command that did not load them raised neither."""
    client, httpx = sys.modules.get("explore.client"), sys.modules.get("httpx")
    if client is not None and isinstance(exc, client.ApiError):
        return f"{exc.message} ({exc.status})"
    if (httpx is not None and isinstance(exc, httpx.TransportError)) or isinstance(exc, (ConnectionError, TimeoutError)):
        return f"the server did not answer: {exc}"
    return None


def human_size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def read_password(password_stdin: bool, *, prompt: str = "Password", confirm: bool = True) -> str:
    """A password typed at a prompt (twice when ``confirm``), or one line of standard input when asked
    (``--password-stdin``) or when standard input is not a terminal."""
    if password_stdin or not stdin_is_tty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadRequest("no password on standard input")
        return password
    return typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def stdin_is_tty() -> bool:
    return os.isatty(0)
