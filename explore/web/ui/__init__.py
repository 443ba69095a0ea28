"""The portal's pages: Panel applications mounted in the FastAPI application, behind the session cookie."""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib.util import find_spec
from urllib.parse import quote

import panel as pn
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from explore.platform.core import Platform
from explore.web.deps import SESSION_COOKIE, session_user
from explore.web.ui import layout
from explore.web.ui.sessions import AppSessions

log = logging.getLogger(__name__)


def _user(platform: Platform):
    found = session_user(platform, (pn.state.cookies or {}).get(SESSION_COOKIE))
    return found[0] if found else None


def _portal(platform: Platform, title: str, active: str, build: Callable) -> Callable[[], pn.viewable.Viewable]:
    """A Panel page function: the signed-in user's page in the common frame."""

    def page() -> pn.viewable.Viewable:
        user = _user(platform)
        if user is None:
            return layout.sign_in_needed(active)
        try:
            content = build(user)
        except Exception as exc:  # noqa: BLE001 - show what went wrong instead of a blank page
            log.exception("page %s failed", active)
            return layout.message("Something went wrong", f"{type(exc).__name__}: {exc}", user=user,
                                  link=("Home", "/"))
        return layout.page(title, content, user=user, active=active)

    return page


class RequireSignIn:
    """A page asked for without a signed-in user is redirected to the sign-in form.

    A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): every other request, the API's
    file downloads above all, passes through untouched, with no extra task or copy per message.
    """

    def __init__(self, app, platform: Platform, paths: set[str]) -> None:
        self.app, self.platform, self.paths = app, platform, paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.paths:
            request = Request(scope)
            if session_user(self.platform, request.cookies.get(SESSION_COOKIE)) is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                await RedirectResponse(f"/login?next={quote(target)}", status_code=303)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def mount(app: FastAPI, platform: Platform) -> None:
    """Add the portal's pages to ``app``."""
    from panel.io.fastapi import add_applications

    from explore.web.ui import pages
    from explore.web.ui.appsession import app_session_page
    from explore.web.ui.catalogue import apps_page
    from explore.web.ui.files import files_page
    from explore.web.ui.home import home_page
    from explore.web.ui.runs import runs_page

    pages.mount(app, platform)
    sessions = AppSessions()
    app.state.app_sessions = sessions

    def apps_for_body(user):
        body = None
        if pn.state.location is not None:
            body = pn.state.location.query_params.get("body")
        return apps_page(platform, user, sessions, body if isinstance(body, str) else None)

    routes: dict[str, Callable] = {
        "/": _portal(platform, "Home", "/", lambda u: home_page(platform, u)),
        "/apps": _portal(platform, "Applications", "/apps", apps_for_body),
        "/files": _portal(platform, "My Files", "/files", lambda u: files_page(platform, u)),
        "/runs": _portal(platform, "Runs", "/runs", lambda u: runs_page(platform, u)),
    }
    if find_spec("explore.web.ui.browse") is not None:
        from explore.web.ui.browse import browse_page

        routes["/browse"] = _portal(platform, "Space browser", "/browse", lambda u: browse_page(platform, u))
    for cls in platform.catalogue.list():
        if cls.has_view():
            routes[f"/apps/{cls.id}/open"] = _portal(
                platform, cls.title, f"/apps/{cls.id}/open",
                lambda u, app_id=cls.id: app_session_page(platform, u, app_id, sessions))
    app.state.page_paths = set(routes)

    app.add_middleware(RequireSignIn, platform=platform, paths=app.state.page_paths)

    settings = platform.settings
    # the pages' websocket only accepts this server's own origins (no cross-site websocket hijacking)
    origins = {f"{host}:{settings.port}" for host in ("127.0.0.1", "localhost", settings.host)}
    if settings.public_url:
        origins.add(settings.public_url.split("://", 1)[-1].rstrip("/"))
    add_applications(routes, app=app, title=dict.fromkeys(routes, "EXPLORE"), websocket_origin=sorted(origins),
                     check_unused_sessions_milliseconds=2000, unused_session_lifetime_milliseconds=4000)
