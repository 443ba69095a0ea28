"""``explore serve`` and ``explore init``."""

from __future__ import annotations

import threading

import typer

from explore.cli.common import console, friendly

FIRST_ADMIN = "admin"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("init")(init)


def first_start_link(p) -> str | None:
    """On a platform where no administrator can sign in yet, a one-time sign-in link for ``admin``.

    There is never a default password: the link is printed in the console of whoever started the
    server, and lets them set one.
    """
    admins = [u for u in p.accounts.list_users() if u["role"] == "admin" and u["active"]]
    if any(p.accounts.has_password(u["name"]) for u in admins):
        return None
    if not admins:
        if not p.accounts.exists(FIRST_ADMIN):
            p.create_user(FIRST_ADMIN, None, role="admin", full_name="Administrator")
        name = FIRST_ADMIN
    else:
        name = admins[0]["name"]
    secret = p.accounts.issue_token(name, "signin")
    return f"{p.settings.base_url}/api/v1/auth/signin/{secret}"


def _prepare(p, demo: bool) -> None:
    from explore.platform.demo import ensure_demo_user, prepare_demo

    if demo:
        prepare_demo(p, echo=lambda m: console.print(f"[dim]{m}[/]"))
    else:
        ensure_demo_user(p)


@friendly
def init(demo: bool = typer.Option(True, "--demo/--no-demo", help="prepare the demo data")):
    """Create the data folder and database, and prepare the demo data."""
    from explore.cli.common import platform

    p = platform()
    _prepare(p, demo)
    console.print(f"data folder ready: {p.settings.data_path}")


def _warm_up() -> None:
    # the apps' datashaded plots compile their kernels once per process: do it before the first user waits
    try:
        from explore.viz.linked import warm_up

        warm_up()
    except Exception as exc:  # noqa: BLE001 - only a speed-up; the plots compile on first use instead
        console.print(f"[dim]warm-up skipped: {exc}[/]")


@friendly
def serve(host: str = typer.Option(None, help="address to bind (default 127.0.0.1: this machine only)"),
          port: int = typer.Option(None, help="port (default 8000)"),
          demo: bool = typer.Option(None, "--demo/--no-demo", help="prepare the demo data on first start"),
          workers_log: str = typer.Option("info", "--log-level")):
    """Serve the portal and the API."""
    import uvicorn

    from explore.platform.core import Platform
    from explore.settings import Settings
    from explore.web.app import create_app, server_config

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)
    p = Platform(settings)
    from explore.platform.demo import ensure_demo_user

    ensure_demo_user(p)
    if settings.demo if demo is None else demo:
        # the demo data (minutes for the largest survey) is made beside the running server: the portal
        # is usable at once and each app's demo folder appears when it is ready
        threading.Thread(target=_prepare, args=(Platform(settings), True), name="explore-demo", daemon=True).start()
    threading.Thread(target=_warm_up, name="explore-warm-up", daemon=True).start()
    link = first_start_link(p)
    console.print(f"EXPLORE serving on [bold]{settings.base_url}[/]  (API docs: {settings.base_url}/api/docs)",
                  soft_wrap=True)
    if link:
        console.rule("[bold yellow]first start")
        console.print("No administrator can sign in yet. Open this one-time link to sign in as "
                      f"[bold]{FIRST_ADMIN}[/] and choose a password:\n")
        console.print(f"  [bold]{link}[/]\n", soft_wrap=True)  # never cut: it must stay clickable
        console.rule()
    app = create_app(settings, platform=p)
    uvicorn.Server(server_config(app, host=settings.host, port=settings.port, log_level=workers_log,
                                 proxy_headers=False)).run()
