"""Executes one run: ``python -m explore.platform.worker RUN_ID`` (or the same code in a Dask task).

It builds the platform from the ``EXPLORE_*`` environment, creates the run's output folder
``<home>/<app>_<YYYYMMDDTHHMMSS>`` with ``params.json``, calls the app's ``run`` with a
:class:`PlatformRunContext`, and always ends with ``provenance.json`` and a final phase: COMPLETED,
ABORTED (STOP) or ERROR with a message a person can read (the traceback goes to the log).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from explore.platform.accounts import Principal
from explore.platform.db import utcnow
from explore.platform.errors import ExploreError
from explore.platform.provenance import provenance
from explore.sdk import RunCancelled, RunContext
from explore.settings import Settings

PROGRESS_EVERY = 0.2  # seconds between progress writes
STOP_CHECK_EVERY = 0.5  # seconds between looks at the stop flag


class ThreadCompute:
    """Splits work over threads of this process (NumPy, numba and BLAS release the GIL)."""

    def __init__(self, n_workers: int | None = None) -> None:
        self.n_workers = n_workers or os.cpu_count() or 1

    def map(self, fn, items):
        items = list(items)
        if self.n_workers == 1 or len(items) < 2:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(self.n_workers) as pool:
            return list(pool.map(fn, items))


class DaskCompute:
    """Splits work over the Dask cluster the run executes on."""

    def __init__(self) -> None:
        from distributed import worker_client

        with worker_client() as client:
            workers = client.scheduler_info().get("workers", {})
        self.n_workers = max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def map(self, fn, items):
        from distributed import worker_client

        with worker_client() as client:
            return client.gather(client.map(fn, list(items), pure=False))


class PlatformRunContext(RunContext):
    def __init__(self, platform: Any, run_id: str, user: Principal, output: pathlib.Path, compute) -> None:
        self.platform = platform
        self.runs = platform.runs
        self.run_id = run_id
        self.principal = user
        self.user = user.name
        self.output = output
        self.compute = compute
        self.inputs: list[dict[str, Any]] = []
        self._signalled = False
        self._last_write = 0.0
        self._last_check = 0.0
        self._stop_seen = False
        self._cache = pathlib.Path(tempfile.mkdtemp(prefix=f"explore-run-{run_id}-"))

    # ---- stop -------------------------------------------------------------------------------
    def signal_stop(self) -> None:
        self._signalled = True

    @property
    def cancelled(self) -> bool:
        if self._signalled or self._stop_seen:
            return True
        now = time.monotonic()
        if now - self._last_check >= STOP_CHECK_EVERY:
            self._last_check = now
            self._stop_seen = self.runs.stop_requested(self.run_id)
        return self._stop_seen

    # ---- reporting --------------------------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        now = time.monotonic()
        if now - self._last_write >= PROGRESS_EVERY or fraction >= 1.0:
            self._last_write = now
            self.runs.set_state(self.run_id, progress=fraction, message=message[:2000])
        if self.cancelled:
            raise RunCancelled("stopped by the user")

    def log(self, message: str, level: str = "info") -> None:
        self.runs.add_log(self.run_id, str(message), level)

    # ---- inputs -------------------------------------------------------------------------------
    def _record(self, path: str, sha: str, size: int) -> None:
        if not any(i["path"] == path for i in self.inputs):
            self.inputs.append({"path": path, "sha256": sha, "size": size})

    def input_path(self, path: str) -> pathlib.Path:
        ws = self.platform.workspace
        norm = ws.authorize(self.principal, path, "read")
        local = ws.storage.local_path(norm)
        if local is not None:
            if not local.is_file():
                raise FileNotFoundError(f"input {norm} is not a file")
            self._record(norm, _sha256_file(local), local.stat().st_size)
            return local
        target = self._cache / norm
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("wb") as fh:
            for chunk in ws.storage.iter_bytes(norm):
                fh.write(chunk)
                digest.update(chunk)
        self._record(norm, digest.hexdigest(), target.stat().st_size)
        return target

    def open_input(self, path: str) -> IO[bytes]:
        return self.input_path(path).open("rb")

    def cleanup(self) -> None:
        shutil.rmtree(self._cache, ignore_errors=True)


def _sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def output_folder(platform: Any, owner: str, app_id: str, when) -> str:
    """A new folder ``<owner>/<app>_<YYYYMMDDTHHMMSS>`` (``_2``, ``_3``... if that second is taken)."""
    storage = platform.workspace.storage
    platform.workspace.ensure_home(owner)
    base = f"{owner}/{app_id}_{when.strftime('%Y%m%dT%H%M%S')}"
    path, n = base, 1
    while storage.exists(path):
        n += 1
        path = f"{base}_{n}"
    storage.makedirs(path)
    return path


def execute(run_id: str, settings: Settings | None = None, *, in_dask: bool = False) -> str:
    """Execute run ``run_id`` to a final phase; returns that phase."""
    from explore.platform.core import Platform

    settings = settings or Settings()
    platform = Platform(settings, scheduler=False, migrate=False)
    runs = platform.runs
    try:
        with platform.db.session() as s:
            from explore.platform.models import Run

            row = s.get(Run, run_id)
            if row is None:
                raise SystemExit(f"no run {run_id}")
            owner = Principal.of(row.owner)
            app_id, raw_params = row.app, dict(row.params)
        started = utcnow()
        runs.set_state(run_id, phase="EXECUTING", started=started, message="starting")
        cls = platform.catalogue.get(app_id)
        folder = output_folder(platform, owner.name, app_id, started)
        runs.set_state(run_id, output=folder)
        storage = platform.workspace.storage
        local = storage.local_path(folder)
        out_dir = local if local is not None else pathlib.Path(tempfile.mkdtemp(prefix=f"explore-out-{run_id}-"))
        (out_dir / "params.json").write_text(json.dumps({"app": app_id, "version": cls.version, "params": raw_params},
                                                        indent=2))
        compute = DaskCompute() if in_dask else ThreadCompute()
        ctx = PlatformRunContext(platform, run_id, owner, out_dir, compute)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: ctx.signal_stop())
        phase, message, error = "COMPLETED", "done", ""
        runs.add_log(run_id, f"output folder: {folder}")
        try:
            params = cls.Params.model_validate(raw_params)
            cls().run(params, ctx)
        except RunCancelled:
            phase, message = "ABORTED", "stopped by the user"
        except (ExploreError, ValueError, KeyError, FileNotFoundError, PermissionError, OSError, TypeError) as exc:
            phase, message, error = "ERROR", _explain(exc), _explain(exc)
            runs.add_log(run_id, traceback.format_exc(), "debug")
        except Exception as exc:  # noqa: BLE001 - report anything, never die silently
            phase, message, error = "ERROR", f"internal error in {app_id}: {_explain(exc)}", _explain(exc)
            runs.add_log(run_id, traceback.format_exc(), "debug")
        finished = utcnow()
        prov = provenance(cls, run_id, owner.name, raw_params, ctx.inputs, started, finished, phase, settings)
        (out_dir / "provenance.json").write_text(json.dumps(prov, indent=2, default=str))
        if local is None:
            _upload_folder(platform, out_dir, folder)
            shutil.rmtree(out_dir, ignore_errors=True)
        ctx.cleanup()
        runs.add_log(run_id, f"{phase.lower()}: {message}", "error" if phase == "ERROR" else "info")
        final = {"phase": phase, "message": message, "error": error, "finished": finished}
        if phase == "COMPLETED":
            final["progress"] = 1.0
        runs.set_state(run_id, **final)
        return phase
    except Exception as exc:  # noqa: BLE001 - the platform itself failed around the app
        runs.finish_if_active(run_id, "ERROR", f"the run could not be executed: {_explain(exc)}", error=str(exc))
        runs.add_log(run_id, traceback.format_exc(), "debug")
        return "ERROR"
    finally:
        platform.close()


def _explain(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (KeyError,)):
        text = f"missing {text}"
    if isinstance(exc, ExploreError):
        return text
    return f"{type(exc).__name__}: {text}"


def _upload_folder(platform: Any, local: pathlib.Path, folder: str) -> None:
    storage = platform.workspace.storage
    for path in sorted(local.rglob("*")):
        rel = path.relative_to(local).as_posix()
        target = f"{folder}/{rel}"
        if path.is_dir():
            storage.makedirs(target)
        else:
            with storage.writer(target) as w, path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    w.write(chunk)


def _watch_parent() -> None:
    """End this worker if the server that started it dies (the restart marks the run as interrupted)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m explore.platform.worker RUN_ID", file=sys.stderr)
        return 2
    _watch_parent()
    phase = execute(argv[0])
    return 0 if phase in ("COMPLETED", "ABORTED") else 1


if __name__ == "__main__":
    sys.exit(main())
