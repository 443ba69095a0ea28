"""Batch runs of apps, UWS-style: PENDING, QUEUED, EXECUTING, COMPLETED, ERROR, ABORTED.

A run is a row in the database; an executor (a process per run on this machine, or a Dask cluster)
executes it through :mod:`explore.platform.worker`, which writes progress, log lines and the final
phase back to the same row. STOP sets a flag that the run sees at its next progress step; the
scheduler also terminates a local process that does not stop by itself within a grace period.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, update

from explore.platform.accounts import Principal
from explore.platform.catalogue import Catalogue
from explore.platform.db import Database, utcnow
from explore.platform.errors import Conflict, NotFound, Unauthorized
from explore.platform.models import Run, RunLog

PHASES = ("PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED")
ACTIVE = ("PENDING", "QUEUED", "EXECUTING")
FINAL = ("COMPLETED", "ERROR", "ABORTED")


def run_dict(row: Run) -> dict[str, Any]:
    end = row.finished or (utcnow() if row.started else None)
    return {
        "id": row.id,
        "app": row.app,
        "app_version": row.app_version,
        "owner": row.owner.name,
        "params": row.params,
        "phase": row.phase,
        "progress": row.progress,
        "message": row.message,
        "error": row.error,
        "output": row.output,
        "executor": row.executor,
        "stop_requested": row.stop_requested,
        "rerun_of": row.rerun_of,
        "created": row.created.isoformat(),
        "started": row.started.isoformat() if row.started else None,
        "finished": row.finished.isoformat() if row.finished else None,
        "duration": (end - row.started).total_seconds() if row.started and end else None,
    }


class Runs:
    """Submitting, watching and stopping runs."""

    def __init__(self, db: Database, catalogue: Catalogue, executor_name: str = "local") -> None:
        self.db = db
        self.catalogue = catalogue
        self.executor_name = executor_name
        self.wakeup = threading.Event()

    # ---- submitting ---------------------------------------------------------------------------
    def submit(self, user: Principal | None, app_id: str, params: dict[str, Any] | None = None, *,
               rerun_of: str | None = None) -> dict[str, Any]:
        if user is None:
            raise Unauthorized("sign in to run an app")
        cls = self.catalogue.get(app_id)
        if not cls.has_run():
            raise Conflict(f"{cls.title} has no batch run; open its interactive view instead")
        validated = self.catalogue.validate(app_id, params or {})
        with self.db.session() as s:
            row = Run(id=uuid.uuid4().hex, app=app_id, app_version=cls.version, owner_id=user.id,
                      params=validated.model_dump(mode="json"), phase="QUEUED", executor=self.executor_name,
                      message="waiting for a free slot", rerun_of=rerun_of)
            s.add(row)
            s.flush()
            s.add(RunLog(run_id=row.id, message=f"queued {app_id} {cls.version}"))
            s.refresh(row)
            out = run_dict(row)
        self.wakeup.set()
        return out

    def rerun(self, user: Principal | None, run_id: str) -> dict[str, Any]:
        old = self.get(user, run_id)
        return self.submit(user, old["app"], old["params"], rerun_of=run_id)

    # ---- reading ------------------------------------------------------------------------------
    def _row(self, s, user: Principal | None, run_id: str) -> Run:
        row = s.get(Run, run_id)
        if row is None or user is None or not (user.is_admin or row.owner_id == user.id):
            raise NotFound(f"no run {run_id}")
        return row

    def get(self, user: Principal | None, run_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            return run_dict(self._row(s, user, run_id))

    def list(self, user: Principal | None, *, app: str | None = None, phase: str | None = None,
             limit: int = 200, everyone: bool = False) -> list[dict[str, Any]]:
        if user is None:
            raise Unauthorized("sign in to see your runs")
        with self.db.session() as s:
            q = select(Run).order_by(Run.created.desc()).limit(limit)
            if not (everyone and user.is_admin):
                q = q.where(Run.owner_id == user.id)
            if app:
                q = q.where(Run.app == app)
            if phase:
                q = q.where(Run.phase == phase.upper())
            return [run_dict(r) for r in s.scalars(q)]

    def log(self, user: Principal | None, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        with self.db.session() as s:
            self._row(s, user, run_id)
            rows = s.scalars(select(RunLog).where(RunLog.run_id == run_id, RunLog.id > after).order_by(RunLog.id))
            return [{"id": r.id, "time": r.time.isoformat(), "level": r.level, "message": r.message} for r in rows]

    def events(self, user: Principal | None, run_id: str, *, interval: float = 0.25,
               timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Yield the run's state each time it changes (and new log lines) until it is final."""
        last: tuple | None = None
        log_after = 0
        start = time.monotonic()
        while True:
            state = self.get(user, run_id)
            lines = self.log(user, run_id, log_after)
            if lines:
                log_after = lines[-1]["id"]
            key = (state["phase"], round(state["progress"], 4), state["message"], state["output"])
            if key != last or lines:
                last = key
                yield {**state, "log": lines}
            if state["phase"] in FINAL:
                return
            if timeout is not None and time.monotonic() - start > timeout:
                return
            time.sleep(interval)

    def wait(self, user: Principal | None, run_id: str, timeout: float | None = None) -> dict[str, Any]:
        last = None
        for last in self.events(user, run_id, timeout=timeout):  # noqa: B007 - the last event is the answer
            pass
        return last or self.get(user, run_id)

    # ---- stopping -----------------------------------------------------------------------------
    def stop(self, user: Principal | None, run_id: str) -> dict[str, Any]:
        with self.db.session() as s:
            row = self._row(s, user, run_id)
            if row.phase in FINAL:
                raise Conflict(f"run {run_id} has already ended ({row.phase})")
            if row.phase in ("PENDING", "QUEUED"):
                row.phase = "ABORTED"
                row.finished = utcnow()
                row.message = "stopped before it started"
            else:
                row.stop_requested = True
                row.message = "stopping..."
            row.updated = utcnow()
            s.add(RunLog(run_id=run_id, level="warning", message=f"STOP requested by {user.name}"))
            s.flush()
            out = run_dict(row)
        self.wakeup.set()
        return out

    # ---- used by the scheduler and the worker -------------------------------------------------
    def claim_next(self, worker: str) -> str | None:
        """Atomically take the oldest queued run for ``worker``; None if there is none."""
        with self.db.session() as s:
            candidates = s.scalars(select(Run.id).where(Run.phase == "QUEUED").order_by(Run.created).limit(5)).all()
            for run_id in candidates:
                claimed = s.execute(update(Run).where(Run.id == run_id, Run.phase == "QUEUED").values(
                    phase="EXECUTING", worker=worker, message="starting", updated=utcnow()))
                if claimed.rowcount == 1:
                    s.commit()
                    return run_id
        return None

    def set_state(self, run_id: str, **values: Any) -> None:
        values["updated"] = utcnow()
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id).values(**values))

    def add_log(self, run_id: str, message: str, level: str = "info") -> None:
        with self.db.session() as s:
            s.add(RunLog(run_id=run_id, level=level, message=message[:20000]))

    def stop_requested(self, run_id: str) -> bool:
        with self.db.session() as s:
            return bool(s.scalar(select(Run.stop_requested).where(Run.id == run_id)))

    def executing(self, *, stop_requested: bool | None = None) -> list[tuple[str, str, bool]]:
        with self.db.session() as s:
            q = select(Run.id, Run.worker, Run.stop_requested).where(Run.phase == "EXECUTING")
            if stop_requested is not None:
                q = q.where(Run.stop_requested == stop_requested)
            return [tuple(r) for r in s.execute(q)]

    def finish_if_active(self, run_id: str, phase: str, message: str, error: str = "") -> bool:
        """Set a final phase unless the run already has one (the worker usually sets it itself)."""
        with self.db.session() as s:
            done = s.execute(update(Run).where(Run.id == run_id, Run.phase.in_(ACTIVE)).values(
                phase=phase, message=message, error=error, finished=utcnow(), updated=utcnow()))
            if done.rowcount:
                s.add(RunLog(run_id=run_id, level="error" if phase == "ERROR" else "warning", message=message))
            return bool(done.rowcount)

    def recover(self) -> int:
        """After a restart: runs left EXECUTING by the previous server become ERROR ("interrupted")."""
        with self.db.session() as s:
            ids = s.scalars(select(Run.id).where(Run.phase == "EXECUTING")).all()
        for run_id in ids:
            self.finish_if_active(run_id, "ERROR", "interrupted: the server restarted while the run was executing",
                                  error="interrupted")
        return len(ids)

    def age(self, run_id: str) -> dt.timedelta:
        with self.db.session() as s:
            updated = s.scalar(select(Run.updated).where(Run.id == run_id))
        return utcnow() - updated if updated else dt.timedelta(0)
