"""Executors behind one interface, and the scheduler that feeds them.

- :class:`LocalExecutor`: one operating-system process per run (``python -m explore.platform.worker``),
  so STOP can always stop it, with at most ``max_runs`` at once.
- :class:`DaskExecutor`: each run is a task on a Dask distributed cluster (``dask://host:port``); STOP
  is cooperative (the run sees it at its next progress step) and cancels tasks not yet started.

The :class:`Scheduler` thread claims queued runs while the executor has room, turns STOP requests into
signals, and marks runs whose worker vanished without a final phase as ERROR.
"""

from __future__ import annotations

import abc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from explore.platform.runs import Runs
from explore.settings import Settings

log = logging.getLogger(__name__)
STOP_GRACE = 5.0


class Executor(abc.ABC):
    name: str

    @abc.abstractmethod
    def capacity(self) -> int:
        """How many more runs can start now."""

    @abc.abstractmethod
    def start(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def stop(self, run_id: str) -> None:
        """Ask a run to stop now (the cooperative flag is already set in the database)."""

    @abc.abstractmethod
    def reap(self) -> list[tuple[str, str, str]]:
        """Runs whose worker has ended: ``(run_id, phase_if_unfinished, message)``."""

    def active(self) -> set[str]:
        return set()

    def close(self) -> None:  # noqa: B027 - optional: executors without resources need not override it
        """Release what the executor holds (processes, a cluster client)."""


@dataclass
class _Proc:
    popen: subprocess.Popen
    log_path: str
    stop_sent: float | None = None
    killed: bool = False


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.max_runs = settings.max_runs
        self.procs: dict[str, _Proc] = {}
        self.log_dir = settings.data_path / "runs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def capacity(self) -> int:
        return self.max_runs - len(self.procs)

    def worker_id(self) -> str:
        return f"local:{socket.gethostname()}:{os.getpid()}"

    def start(self, run_id: str) -> None:
        env = {**os.environ, **self.settings.environment(), "PYTHONUNBUFFERED": "1"}
        log_path = str(self.log_dir / f"{run_id}.stderr")
        with open(log_path, "wb") as err:
            popen = subprocess.Popen(
                [sys.executable, "-m", "explore.platform.worker", run_id],
                env=env, stdout=err, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=os.getcwd(),
            )
        self.procs[run_id] = _Proc(popen, log_path)

    def stop(self, run_id: str) -> None:
        proc = self.procs.get(run_id)
        if proc is None:
            return
        now = time.monotonic()
        if proc.stop_sent is None:
            proc.stop_sent = now
            _signal(proc.popen, signal.SIGTERM)
        elif not proc.killed and now - proc.stop_sent > STOP_GRACE:
            proc.killed = True
            _signal(proc.popen, signal.SIGKILL)

    def reap(self) -> list[tuple[str, str, str]]:
        ended = []
        for run_id, proc in list(self.procs.items()):
            code = proc.popen.poll()
            if code is None:
                continue
            del self.procs[run_id]
            if proc.stop_sent is not None:
                ended.append((run_id, "ABORTED", "stopped by the user"))
            else:
                tail = _tail(proc.log_path)
                ended.append((run_id, "ERROR", f"the run's process ended unexpectedly (exit code {code})"
                              + (f": {tail}" if tail else "")))
        return ended

    def active(self) -> set[str]:
        return set(self.procs)

    def close(self) -> None:
        for proc in self.procs.values():
            _signal(proc.popen, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for proc in self.procs.values():
            try:
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal(proc.popen, signal.SIGKILL)


def _signal(popen: subprocess.Popen, sig: int) -> None:
    try:
        popen.send_signal(sig)
    except ProcessLookupError:
        pass


def _tail(path: str, n: int = 600) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - n))
            return fh.read().decode(errors="replace").strip().splitlines()[-1] if fh.tell() else ""
    except (OSError, IndexError):
        return ""


def _dask_task(run_id: str, env: dict[str, str]) -> str:
    """What a Dask worker executes: the same worker code as a local process."""
    from explore.platform import worker

    os.environ.update(env)
    return worker.execute(run_id, Settings(), in_dask=True)


class DaskExecutor(Executor):
    name = "dask"

    def __init__(self, settings: Settings, address: str) -> None:
        from distributed import Client

        self.settings = settings
        self.address = address
        self.client = Client(address, set_as_default=False, timeout=30)
        self.futures: dict[str, object] = {}
        self.stopping: set[str] = set()

    def capacity(self) -> int:
        info = self.client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1
        return threads - len(self.futures)

    def worker_id(self) -> str:
        return f"dask:{self.address}"

    def start(self, run_id: str) -> None:
        env = {**self.settings.environment()}
        self.futures[run_id] = self.client.submit(_dask_task, run_id, env, key=f"explore-run-{run_id}", pure=False)

    def stop(self, run_id: str) -> None:
        future = self.futures.get(run_id)
        if future is not None and run_id not in self.stopping:
            self.stopping.add(run_id)
            if future.status == "pending":
                future.cancel()

    def reap(self) -> list[tuple[str, str, str]]:
        ended = []
        for run_id, future in list(self.futures.items()):
            status = future.status
            if status in ("pending",):
                continue
            del self.futures[run_id]
            self.stopping.discard(run_id)
            if status == "cancelled":
                ended.append((run_id, "ABORTED", "stopped by the user"))
            elif status == "error":
                ended.append((run_id, "ERROR", f"the Dask task failed: {future.exception()!r}"))
            else:
                ended.append((run_id, "ERROR", "the run ended without reporting a result"))
        return ended

    def active(self) -> set[str]:
        return set(self.futures)

    def close(self) -> None:
        self.client.close()


def make_executor(settings: Settings) -> Executor:
    if settings.executor.startswith("dask://"):
        return DaskExecutor(settings, "tcp://" + settings.executor[len("dask://"):])
    if settings.executor.startswith("tcp://"):
        return DaskExecutor(settings, settings.executor)
    if settings.executor != "local":
        raise ValueError(f"EXPLORE_EXECUTOR must be 'local' or 'dask://host:port', not {settings.executor!r}")
    return LocalExecutor(settings)


@dataclass
class Scheduler:
    """A background thread moving runs from QUEUED to an executor and watching them end."""

    runs: Runs
    executor: Executor
    interval: float = 0.2
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def tick(self) -> None:
        # runs whose worker ended: set the final phase if the worker could not
        for run_id, phase, message in self.executor.reap():
            self.runs.finish_if_active(run_id, phase, message, error=message if phase == "ERROR" else "")
        # STOP requests (from this process, another server or the CLI)
        active = self.executor.active()
        for run_id, _worker, _flag in self.runs.executing(stop_requested=True):
            if run_id in active:
                self.executor.stop(run_id)
        # start queued runs while there is room
        while self.executor.capacity() > 0:
            run_id = self.runs.claim_next(self.executor.worker_id())  # type: ignore[attr-defined]
            if run_id is None:
                break
            try:
                self.executor.start(run_id)
            except Exception as exc:  # noqa: BLE001 - a run that cannot start must not stop the scheduler
                log.exception("could not start run %s", run_id)
                self.runs.finish_if_active(run_id, "ERROR", f"could not start: {exc}", error=str(exc))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001
                log.exception("scheduler tick failed")
            self.runs.wakeup.wait(self.interval)
            self.runs.wakeup.clear()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="explore-scheduler", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.runs.wakeup.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self.executor.close()
