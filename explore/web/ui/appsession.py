"""An app's interactive session: its view in the portal frame, with STOP, and the selection it was
opened with (sent from another app)."""

from __future__ import annotations

import panel as pn
import panel_material_ui as pmui

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError
from explore.web.ui import layout
from explore.web.ui.session import PlatformSession
from explore.web.ui.sessions import AppSessions


def app_session_page(platform: Platform, user: Principal, app_id: str, sessions: AppSessions) -> pn.viewable.Viewable:
    cls = platform.catalogue.get(app_id)
    incoming = None
    if pn.state.location is not None:
        selection = pn.state.location.query_params.get("selection")
        if selection:
            try:
                incoming = platform.selections.get(user, int(selection))
            except (ExploreError, ValueError):
                incoming = None
    session = PlatformSession(platform, user, app_id, incoming)
    try:
        view = cls().view(session)
    except Exception as exc:  # noqa: BLE001 - an app that fails to open gets a message, not a blank page
        return layout.message(f"{cls.title} could not open", f"{type(exc).__name__}: {exc}", user=user,
                              link=("Back to the applications", "/apps"))
    body = pn.Column(sizing_mode="stretch_both")
    doc = pn.state.curdoc

    def stop() -> None:
        body.objects = [pmui.Alert(object=f"The {cls.title} session has ended and its memory was freed.",
                                   severity="info", title="Session stopped"),
                        pmui.Button(label="Back to the applications", href="/apps", variant="contained"),
                        pmui.Button(label=f"Open {cls.title} again", href=f"/apps/{cls.id}/open", variant="outlined")]
        if pn.state.location is not None:
            pn.state.location.search = ""

    def on_stop(_=None) -> None:
        sessions.discard(user.name, cls.id, doc)
        stop()

    stop_button = pmui.Button(label="Stop session", icon="stop", color="error", variant="outlined", on_click=on_stop)
    header = pn.Row(pmui.Typography(cls.title, variant="h5"), pn.layout.HSpacer(), stop_button,
                    sizing_mode="stretch_width")
    notes = []
    if incoming is not None:
        notes.append(pmui.Alert(object=f"Opened with the selection **{incoming.name}** ({len(incoming.ids):,} "
                                       f"objects of {incoming.dataset}, from {incoming.owner}).", severity="info",
                                sizing_mode="stretch_width"))
    body.objects = [header, *notes, view]
    if doc is not None:
        sessions.add(user.name, cls.id, doc, stop)
        pn.state.on_session_destroyed(lambda _ctx: sessions.discard(user.name, cls.id, doc))
    return body
