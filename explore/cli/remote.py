"""``explore login``: sign in to a server once, so that ``--server URL`` commands act there through its API."""

from __future__ import annotations

import getpass
import socket

import typer

from explore.cli.common import console, friendly, read_password, save_token


def register(app: typer.Typer) -> None:
    app.command("login")(login)


@friendly
def login(server: str = typer.Argument(..., help="the server, such as http://explore.example.org:8000"),
          user: str = typer.Option(None, "--user", "-u", help="your user name there (default: your login name)"),
          password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input")):
    """Sign in to a server and keep an API token for it (~/.config/explore/tokens.json, yours only)."""
    from explore.client import Client

    user = user or getpass.getuser()
    password = read_password(password_stdin, prompt=f"Password of {user} on {server}", confirm=False)
    with Client.login(server, user, password, name=f"explore CLI on {socket.gethostname()}") as client:
        me = client.me()
        path = save_token(server, client.token)
    console.print(f"signed in to {server} as [bold]{me['name']}[/]; token kept in {path}")
    console.print(f"now, for example: explore files ls {me['name']} --server {server}")
