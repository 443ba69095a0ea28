"""Small apps used by the platform's own tests (registered through ``EXPLORE_EXTRA_APPS``)."""

from __future__ import annotations

import time
from typing import Literal

from explore.sdk import App, Field, Params, WorkspacePath


class CountdownParams(Params):
    steps: int = Field(5, ge=1, le=100_000, description="number of steps")
    delay: float = Field(0.02, ge=0, le=60, description="seconds per step")
    fail: bool = Field(False, description="raise an error half-way")
    mode: Literal["sum", "product"] = "sum"
    input: str | None = WorkspacePath("a text file whose lines are counted", default=None, kinds=(".txt", ".csv"))


class Countdown(App):
    id = "countdown"
    title = "Countdown"
    summary = "Counts to N, slowly: a test app for runs."
    description = "Counts in steps, reporting progress; optionally reads a workspace file and fails on request."
    creator = "EXPLORE tests"
    version = "1.2.3"
    citation = "nobody (2026)"
    body = "milkyway"
    Params = CountdownParams

    def run(self, params: CountdownParams, ctx) -> None:
        total = 0 if params.mode == "sum" else 1
        for i in range(params.steps):
            time.sleep(params.delay)
            total = total + (i + 1) if params.mode == "sum" else total * (i + 1)
            if params.fail and i >= params.steps // 2:
                raise ValueError(f"asked to fail at step {i + 1}")
            ctx.progress((i + 1) / params.steps, f"step {i + 1} of {params.steps}")
        ctx.log(f"total = {total}")
        (ctx.output / "result.txt").write_text(f"{total}\n")
        if params.input:
            with ctx.open_input(params.input) as fh:
                lines = fh.read().decode().count("\n")
            (ctx.output / "lines.txt").write_text(f"{lines}\n")


class Stubborn(App):
    """Ignores STOP (never reports progress): the executor must kill it."""

    id = "stubborn"
    title = "Stubborn"
    summary = "Sleeps without reporting progress."

    class Params(Params):
        seconds: float = Field(60, ge=0)

    def run(self, params, ctx) -> None:
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(params.seconds)


class ViewOnly(App):
    id = "viewonly"
    title = "View only"
    summary = "Has an interactive view and no batch run."
    body = "moon"

    def view(self, session):
        import panel as pn

        return pn.pane.Markdown(f"# Hello {session.user}")
