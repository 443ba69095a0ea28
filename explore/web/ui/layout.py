"""The frame shared by every page and app: header with the user, navigation, Material look, dark and
light themes, and a clear message for errors."""

from __future__ import annotations

import html
from typing import Any

import panel as pn
import panel_material_ui as pmui

from explore.platform.accounts import Principal

NAV = [
    ("Home", "/", "home"),
    ("Applications", "/apps", "apps"),
    ("My Files", "/files", "folder"),
    ("Runs", "/runs", "play_circle"),
    ("Space browser", "/browse", "public"),
    ("API", "/api/docs", "code"),
]
THEME = {"palette": {"primary": {"main": "#3f51b5"}, "secondary": {"main": "#ff7043"}}}


def nav(active: str) -> pn.viewable.Viewable:
    items = []
    for label, href, icon in NAV:
        items.append(pmui.Button(label=label, href=href, icon=icon, variant="text" if href != active else "contained",
                                 sizing_mode="stretch_width", sx={"justifyContent": "flex-start"},
                                 color="primary"))
    return pn.Column(*items, sizing_mode="stretch_width")


def page(title: str, main: Any, *, user: Principal | None, active: str = "", sidebar: list | None = None) -> pmui.Page:
    """A portal page: title, the user and sign-out in the header, navigation in the sidebar."""
    who = []
    if user is not None:
        who = [
            pmui.Typography(f"{user.name}{' (admin)' if user.is_admin else ''}", variant="body1",
                            sx={"color": "#fff", "alignSelf": "center", "mr": 1}),
            pmui.Button(label="Account", href="/account", variant="text", sx={"color": "#fff"}),
            pmui.Button(label="Sign out", href="/api/v1/auth/logout", variant="outlined",
                        sx={"color": "#fff", "borderColor": "rgba(255,255,255,.7)"}),
        ]
    return pmui.Page(
        title=f"EXPLORE · {title}",
        header=[pn.Row(pn.layout.HSpacer(), *who, sizing_mode="stretch_width")],
        sidebar=[nav(active), *(sidebar or [])],
        main=[main] if not isinstance(main, list) else main,
        theme_config=THEME,
        sidebar_width=220,
        site_url="/",
    )


def message(title: str, text: str, *, severity: str = "error", user: Principal | None = None,
            link: tuple[str, str] | None = None) -> pmui.Page:
    """A page that says clearly what went wrong (or what to do next)."""
    body = [pmui.Alert(object=text, title=title, severity=severity, sizing_mode="stretch_width")]
    if link:
        body.append(pmui.Button(label=link[0], href=link[1], variant="contained"))
    return page(title, pn.Column(*body, max_width=760), user=user)


def sign_in_needed(path: str) -> pn.viewable.Viewable:
    """What a page shows when its session has no signed-in user (normally the middleware redirects first)."""
    target = html.escape(path or "/")
    return pn.pane.HTML(f'<p>Please <a href="/login?next={target}">sign in</a> first.</p>'
                        f'<script>location.href="/login?next={target}"</script>')


def notify(kind: str, text: str) -> None:
    """A toast in the page, if notifications are on."""
    if pn.state.notifications is not None:
        getattr(pn.state.notifications, kind)(text, duration=6000)


SEVERITY = {
    "success": ("#1b5e20", "#e6f4ea"),
    "info": ("#0d47a1", "#e3f2fd"),
    "warning": ("#7a4f01", "#fff4e5"),
    "error": ("#b00020", "#fde7ea"),
}


class StatusBar(pn.pane.HTML):
    """A message line in a page (successes, and errors said plainly), hidden when empty."""

    def __init__(self, **params) -> None:
        params.setdefault("sizing_mode", "stretch_width")
        super().__init__("", visible=False, **params)

    def show(self, text: str, severity: str = "success") -> None:
        fg, bg = SEVERITY.get(severity, SEVERITY["info"])
        role = "alert" if severity == "error" else "status"
        self.object = (f'<div role="{role}" class="explore-status explore-{severity}" style="color:{fg};'
                       f'background:{bg};padding:10px 14px;border-radius:4px;font-size:14px">{html.escape(text)}</div>')
        self.visible = True

    def clear(self) -> None:
        self.object = ""
        self.visible = False
