"""Batch runs: submit, list, watch (server-sent events), stop, re-run."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.runs import FINAL
from explore.web.api.schemas import RunIn
from explore.web.deps import current_user, get_platform

router = APIRouter(tags=["runs"])


@router.post("/runs", status_code=201, summary="Submit a batch run of an app")
def submit(body: RunIn, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.runs.submit(user, body.app, body.params)


@router.get("/runs", summary="My runs, newest first")
def list_runs(app: str | None = None, phase: str | None = None, limit: int = 200, everyone: bool = False,
              user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.runs.list(user, app=app, phase=phase, limit=min(max(limit, 1), 1000), everyone=everyone)


@router.get("/runs/{run_id}", summary="One run")
def get_run(run_id: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.runs.get(user, run_id)


@router.get("/runs/{run_id}/log", summary="The run's log lines (after a given line id)")
def get_log(run_id: str, after: int = 0, user: Principal = Depends(current_user),
            platform: Platform = Depends(get_platform)):
    return platform.runs.log(user, run_id, after)


@router.get("/runs/{run_id}/events", summary="Server-sent events: the run's state each time it changes, until it ends")
async def events(run_id: str, request: Request, user: Principal = Depends(current_user),
                 platform: Platform = Depends(get_platform)):
    runs = platform.runs
    runs.get(user, run_id)  # 404 before the stream starts

    async def stream():
        last = None
        log_after = 0
        while True:
            state = await asyncio.to_thread(runs.get, user, run_id)
            lines = await asyncio.to_thread(runs.log, user, run_id, log_after)
            if lines:
                log_after = lines[-1]["id"]
            key = (state["phase"], round(state["progress"], 4), state["message"], state["output"])
            if key != last or lines:
                last = key
                yield f"event: state\ndata: {json.dumps({**state, 'log': lines})}\n\n"
            if state["phase"] in FINAL:
                yield "event: end\ndata: {}\n\n"
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.25)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/runs/{run_id}/stop", summary="Stop a run")
def stop(run_id: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.runs.stop(user, run_id)


@router.post("/runs/{run_id}/rerun", status_code=201, summary="Run again with the same parameters")
def rerun(run_id: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.runs.rerun(user, run_id)
