"""Applications: one card per SDA, with METADATA, OPEN / STOP and RUN (a configuration panel generated
from the app's parameters)."""

from __future__ import annotations

import json

import panel as pn
import panel_material_ui as pmui

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError
from explore.web.ui.home import BODIES
from explore.web.ui.layout import StatusBar
from explore.web.ui.params_form import ParamsForm
from explore.web.ui.sessions import AppSessions


def workspace_files(platform: Platform, user: Principal, kinds: list[str], limit: int = 3000) -> list[str]:
    """Files the user can pick as inputs: their home, what was shared with them, and the demo data."""
    storage = platform.workspace.storage
    roots = [user.name, "demo"] + [s["path"] for s in platform.workspace.shared_with(user)]
    out: list[str] = []
    for root in roots:
        try:
            if not storage.exists(root):
                continue
            info = storage.info(root)
            files = [info] if not info.is_dir else storage.walk_files(root)
            for f in files:
                if not kinds or any(f.name.lower().endswith(k.lower()) for k in kinds):
                    out.append(f.path)
                if len(out) >= limit:
                    return out
        except ExploreError:
            continue
    return out


def schema_table(schema: dict) -> str:
    rows = []
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type") or " | ".join(str(o.get("type", "")) for o in prop.get("anyOf", []))
        if "enum" in prop:
            kind = " \\| ".join(map(str, prop["enum"]))
        if prop.get("format") == "workspace-path":
            kind = "workspace file " + " ".join(prop.get("kinds") or [])
        rng = ""
        if "minimum" in prop or "maximum" in prop:
            rng = f"{prop.get('minimum', '')} … {prop.get('maximum', '')}"
        default = json.dumps(prop["default"]) if "default" in prop else "required"
        rows.append(f"| `{name}` | {kind} | {rng} | {default} | {prop.get('description', '')} |")
    if not rows:
        return "_This app takes no batch parameters._"
    return "| parameter | type | range | default | description |\n|---|---|---|---|---|\n" + "\n".join(rows)


def apps_page(platform: Platform, user: Principal, sessions: AppSessions, body: str | None = None) -> pn.viewable.Viewable:
    dialog = pmui.Dialog(title="", open=False, width_option="md", show_close_button=True)
    status = StatusBar()
    cards = []

    def show_metadata(cls):
        info = platform.catalogue.describe(cls.id)
        dialog.title = f"{cls.title} {cls.version}"
        dialog.objects = [pn.pane.Markdown(
            f"{info['description'] or info['summary']}\n\n"
            f"**Creator** {info['creator'] or '-'} · **Licence** {info['licence']} · **Version** {info['version']} · "
            f"**Body** {BODIES[info['body']][0]} · **Has output** {'yes' if info['has_output'] else 'no'}\n\n"
            f"**Citation** {info['citation'] or '-'}\n\n### Batch parameters\n\n{schema_table(info['params_schema'])}",
            sizing_mode="stretch_width")]
        dialog.open = True

    def show_run(cls):
        form = ParamsForm(cls.Params.model_json_schema(), lambda kinds: workspace_files(platform, user, kinds))
        error = StatusBar()
        submit = pmui.Button(label="Submit run", variant="contained", icon="play_arrow")

        def on_submit(_):
            try:
                run = platform.runs.submit(user, cls.id, form.values())
            except ExploreError as exc:
                error.show(exc.message, "error")
                return
            dialog.open = False
            status.show(f"Run of {cls.title} submitted ({run['id'][:8]}). Follow it in Runs.")

        submit.on_click(on_submit)
        dialog.title = f"Run {cls.title}"
        dialog.objects = [pmui.Typography(cls.summary, variant="body2"), form.panel(), error, submit]
        dialog.open = True

    def stop_sessions(cls, label):
        n = sessions.stop(user.name, cls.id)
        label.object = f"{n} session(s) stopped" if n else "no open session"

    for cls in platform.catalogue.list(body):
        note = pn.pane.Markdown("", margin=(0, 8))
        buttons = [
            pmui.Button(label="Metadata", variant="outlined", on_click=lambda _, c=cls: show_metadata(c)),
        ]
        if cls.has_view():
            buttons.append(pmui.Button(label="Open", variant="contained", href=f"/apps/{cls.id}/open",
                                       target="_blank"))
            buttons.append(pmui.Button(label="Stop", variant="outlined", color="error",
                                       on_click=lambda _, c=cls, n=note: stop_sessions(c, n)))
        if cls.has_run():
            buttons.append(pmui.Button(label="Run", variant="contained", color="secondary", icon="play_arrow",
                                       on_click=lambda _, c=cls: show_run(c)))
        facts = (f"**{BODIES[cls.body][0]}** · v{cls.version} · {cls.licence} · by {cls.creator or 'unknown'} · "
                 f"{'has output' if cls.has_output else 'no output'}")
        cite = f"<small>Cite: {cls.citation}</small>" if cls.citation else ""
        cards.append(pmui.Card(
            pn.pane.Markdown(f"{cls.summary}\n\n{facts}\n\n{cite}", sizing_mode="stretch_width"),
            pn.FlexBox(*buttons), note,
            title=cls.title, width=380, margin=12, collapsible=False,
        ))
    heading = "Applications" + (f" for {BODIES[body][0]}" if body in BODIES else "")
    if not cards:
        cards = [pmui.Alert(object="No application for this body yet. The space browser can still index its data.",
                            severity="info")]
    filters = pn.Row(*[pmui.Button(label=BODIES[b][0], href=f"/apps?body={b}", variant="text") for b in BODIES],
                     pmui.Button(label="All", href="/apps", variant="text"))
    return pn.Column(pmui.Typography(heading, variant="h4"), filters, status, pn.FlexBox(*cards), dialog,
                     sizing_mode="stretch_width")
