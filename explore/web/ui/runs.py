"""Runs: the user's runs with live phase, progress and message (pushed to the page, no reload), duration,
STOP, RE-RUN, the log, and a link to the output folder."""

from __future__ import annotations

import pandas as pd
import panel as pn
import panel_material_ui as pmui

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError
from explore.platform.runs import FINAL
from explore.web.ui.layout import StatusBar

COLUMNS = ["id", "app", "phase", "progress", "message", "created", "duration", "output"]


def _frame(runs: list[dict]) -> pd.DataFrame:
    rows = []
    for r in runs:
        rows.append({
            "id": r["id"], "app": r["app"], "phase": r["phase"], "progress": round(100 * r["progress"], 1),
            "message": r["message"], "created": r["created"][:19].replace("T", " "),
            "duration": f"{r['duration']:.1f} s" if r["duration"] is not None else "",
            "output": r["output"],
        })
    return pd.DataFrame(rows, columns=COLUMNS)


def runs_page(platform: Platform, user: Principal, interval_ms: int = 1000) -> pn.viewable.Viewable:
    table = pn.widgets.Tabulator(
        _frame(platform.runs.list(user)), show_index=False, selectable=1, disabled=True, pagination=None,
        sizing_mode="stretch_width", height=380, layout="fit_data_stretch",
        formatters={"progress": {"type": "progress", "legend": True, "color": ["#ff7043", "#3f51b5"]},
                    "phase": {"type": "plaintext"}},
        hidden_columns=["id"], widths={"phase": 120, "progress": 150, "message": 260},
    )
    log = pn.pane.Markdown("Select a run to see its log.", sizing_mode="stretch_width", max_height=320,
                           styles={"overflow-y": "auto", "font-family": "monospace", "font-size": "12px"})
    status = StatusBar()
    stop = pmui.Button(label="Stop", color="error", variant="contained", disabled=True, icon="stop")
    rerun = pmui.Button(label="Re-run", variant="outlined", disabled=True, icon="replay")
    output = pmui.Button(label="Output folder", variant="outlined", disabled=True, icon="folder_open")

    def selected() -> dict | None:
        if not table.selection:
            return None
        row = table.value.iloc[table.selection[0]]
        try:
            return platform.runs.get(user, row["id"])
        except ExploreError:
            return None

    def show_log() -> None:
        run = selected()
        if run is None:
            log.object = "Select a run to see its log."
            for b in (stop, rerun, output):
                b.disabled = True
            return
        lines = platform.runs.log(user, run["id"])
        text = "\n".join(f"{line['time'][11:19]} {line['level']:>7}: {line['message']}" for line in lines[-200:])
        head = f"**{run['app']}** `{run['id'][:12]}` · {run['phase']}"
        if run["error"]:
            head += f" · **{run['error']}**"
        log.object = f"{head}\n\n```text\n{text}\n```"
        stop.disabled = run["phase"] in FINAL
        rerun.disabled = False
        output.disabled = not run["output"]
        output.href = f"/files?path={run['output']}" if run["output"] else None

    def refresh() -> None:
        frame = _frame(platform.runs.list(user))
        if not frame.equals(table.value):
            keep = table.value.iloc[table.selection[0]]["id"] if table.selection else None
            table.value = frame
            if keep is not None and keep in set(frame["id"]):
                table.selection = [int(frame.index[frame["id"] == keep][0])]
            show_log()

    def on_stop(_):
        run = selected()
        if run:
            try:
                platform.runs.stop(user, run["id"])
            except ExploreError as exc:
                status.show(exc.message, "warning")
            refresh()

    def on_rerun(_):
        run = selected()
        if run:
            new = platform.runs.rerun(user, run["id"])
            status.show(f"Re-run submitted ({new['id'][:8]})")
            refresh()

    stop.on_click(on_stop)
    rerun.on_click(on_rerun)
    table.param.watch(lambda _: show_log(), "selection")
    callback = pn.state.add_periodic_callback(refresh, period=interval_ms, start=True)
    pn.state.on_session_destroyed(lambda _ctx: callback.stop())
    return pn.Column(
        pmui.Typography("Runs", variant="h4"),
        pmui.Typography("Your batch runs, newest first. Progress updates live.", variant="body2"),
        status, table, pn.Row(stop, rerun, output), log, sizing_mode="stretch_width",
    )
