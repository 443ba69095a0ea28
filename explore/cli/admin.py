"""``explore users`` and ``explore groups``."""

from __future__ import annotations

import typer
from rich.table import Table

from explore.cli.common import console, friendly, platform, read_password

users = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
groups = typer.Typer(help="Manage groups of users.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(users, name="users")
    app.add_typer(groups, name="groups")


@users.command("add")
@friendly
def add(name: str, admin: bool = typer.Option(False, "--admin", help="make the user an administrator"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from standard input"),
        full_name: str = typer.Option("", help="the user's full name"),
        email: str = typer.Option(""),
        quota_gib: float = typer.Option(None, "--quota-gib", help="workspace quota in GiB (default: the server's)")):
    """Create a user; asks for the password (or reads it from standard input)."""
    password = read_password(password_stdin)
    p = platform()
    quota = int(quota_gib * 2**30) if quota_gib is not None else None
    user = p.create_user(name, password, role="admin" if admin else "user", full_name=full_name, email=email,
                         quota=quota)
    console.print(f"created {'administrator' if user.is_admin else 'user'} [bold]{user.name}[/] with home folder {user.name}/")


@users.command("passwd")
@friendly
def passwd(name: str, password_stdin: bool = typer.Option(False, "--password-stdin")):
    """Set a user's password."""
    password = read_password(password_stdin)
    platform().accounts.set_password(name, password)
    console.print(f"password of {name} changed")


@users.command("list")
@friendly
def list_users():
    """List users."""
    table = Table("name", "role", "groups", "active", "last sign-in")
    for u in platform().accounts.list_users():
        table.add_row(u["name"], u["role"], ", ".join(u["groups"]), "yes" if u["active"] else "no",
                      u["last_login"].strftime("%Y-%m-%d %H:%M") if u["last_login"] else "-")
    console.print(table)


@users.command("set")
@friendly
def set_user(name: str, role: str = typer.Option(None, help="user or admin"),
             quota_gib: float = typer.Option(None, "--quota-gib"), active: bool = typer.Option(None, "--active/--disabled")):
    """Change a user's role, quota or state."""
    platform().accounts.update_user(name, role=role, quota=int(quota_gib * 2**30) if quota_gib is not None else None,
                                    active=active)
    console.print(f"{name} updated")


@users.command("token")
@friendly
def token(name: str, label: str = typer.Option("cli", "--name", help="a name to recognise the token by")):
    """Issue an API bearer token for a user (printed once)."""
    secret = platform().accounts.issue_token(name, "api", name=label)
    console.print(secret)


@users.command("signin-link")
@friendly
def signin_link(name: str):
    """A one-time sign-in link for a user who has no password yet or forgot it."""
    p = platform()
    secret = p.accounts.issue_token(name, "signin")
    console.print(f"{p.settings.base_url}/api/v1/auth/signin/{secret}")


@groups.command("add")
@friendly
def add_group(name: str, members: list[str] = typer.Argument(None), description: str = ""):
    """Create a group, optionally with members."""
    p = platform()
    p.accounts.create_group(name, description)
    for m in members or []:
        p.accounts.add_member(name, m)
    console.print(f"created group {name}")


@groups.command("member")
@friendly
def member(group: str, user: str, remove: bool = typer.Option(False, "--remove")):
    """Add a user to a group (or remove with --remove)."""
    p = platform()
    (p.accounts.remove_member if remove else p.accounts.add_member)(group, user)
    console.print(f"{user} {'removed from' if remove else 'added to'} {group}")


@groups.command("list")
@friendly
def list_groups():
    """List groups and their members."""
    table = Table("group", "members", "description")
    for g in platform().accounts.list_groups():
        table.add_row(g["name"], ", ".join(g["members"]), g["description"])
    console.print(table)
