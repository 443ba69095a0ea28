"""A real EXPLORE server for the benchmarks: uvicorn in a subprocess on 127.0.0.1 and a free port.

The benchmarks talk to it over real HTTP. The server runs in its own process so that the client's work
(httpx, hashing, writing the downloaded file) does not share a Python interpreter and its GIL with it.

    with BenchServer(tmp / "data", users={"alice": "alice-password"}) as server:
        headers = server.auth("alice", "alice-password")
        httpx.get(server.url + "/api/v1/files/alice", headers=headers)

Run as a script, this file is the server process itself (``python benchmarks/_server.py --data-dir D
--port P [--static DIR] [--profile FILE]``); ``--static`` mounts Starlette's ``StaticFiles`` on the same
app at ``/static-bench`` (the comparison of ``platform_concurrency.py``), ``--profile`` runs the server
under cProfile and writes the statistics to FILE when it stops.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import httpx

HERE = pathlib.Path(__file__).resolve().parent
SECRET = "benchmark-secret-key-not-for-production"


def bench_settings(data_dir: pathlib.Path):
    """Settings of a throw-away installation in ``data_dir`` (ignores the ``EXPLORE_*`` of the shell)."""
    from explore.settings import Settings

    return Settings(data_dir=data_dir, database_url="", storage_url="", executor="local", extra_apps=[],
                    secret_key=SECRET, demo=False, port=0)


def server_stack() -> str:
    """What serves the benchmarks: uvicorn picks httptools and uvloop when they are installed (as
    ``uvicorn[standard]`` does), h11 and asyncio otherwise."""
    import importlib.metadata
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    zero = ", zero-copy transfers" if http == "httptools" else ""
    return f"uvicorn {importlib.metadata.version('uvicorn')} ({http}, {loop}{zero})"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchServer:
    """Prepare an installation with ``users``, then serve it from a subprocess until the block ends."""

    def __init__(self, data_dir: pathlib.Path, users: dict[str, str], *, static_dir: pathlib.Path | None = None,
                 profile: pathlib.Path | None = None, ready_timeout: float = 60.0) -> None:
        self.data_dir = pathlib.Path(data_dir)
        self.users = users
        self.static_dir = static_dir
        self.profile = profile
        self.ready_timeout = ready_timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> BenchServer:
        from explore.platform.core import Platform

        platform = Platform(bench_settings(self.data_dir))
        for name, password in self.users.items():
            platform.create_user(name, password)
        platform.close()
        cmd = [sys.executable, str(HERE / "_server.py"), "--data-dir", str(self.data_dir), "--port", str(self.port)]
        if self.static_dir is not None:
            cmd += ["--static", str(self.static_dir)]
        if self.profile is not None:
            cmd += ["--profile", str(self.profile)]
        # the server stops when its standard input closes: no signal, so uvicorn shuts down cleanly
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the benchmark server exited with code {self.proc.returncode}")
            try:
                # no credentials: a 401 in the platform's JSON error format means it is up
                if httpx.get(self.url + "/api/v1/me", timeout=1.0).status_code == 401:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the benchmark server did not answer on {self.url} within {self.ready_timeout:.0f} s")
            time.sleep(0.1)

    def auth(self, name: str, password: str) -> dict[str, str]:
        """Bearer headers from ``POST /api/v1/auth/token`` (form username / password)."""
        r = httpx.post(self.url + "/api/v1/auth/token", data={"username": name, "password": password,
                                                               "name": "benchmark"}, timeout=30)
        r.raise_for_status()
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def server_cpu_seconds(self) -> float | None:
        """User + system CPU time the server process has used so far (Linux /proc)."""
        if self.proc is None:
            return None
        try:
            fields = pathlib.Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()  # uvicorn's graceful shutdown (and the profile is written)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(data_dir: pathlib.Path, port: int, static_dir: pathlib.Path | None, profile: pathlib.Path | None) -> None:
    import uvicorn

    from explore.platform.core import Platform
    from explore.web.app import create_app, server_config

    settings = bench_settings(data_dir)
    platform = Platform(settings)
    app = create_app(settings, platform=platform, ui=False)
    if static_dir is not None:
        from starlette.staticfiles import StaticFiles

        app.mount("/static-bench", StaticFiles(directory=static_dir), name="static-bench")
    config = server_config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns when the parent closes the pipe (or dies)
        server.should_exit = True

    threading.Thread(target=watch_parent, daemon=True).start()
    if profile is None:
        server.run()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        server.run()
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


def smoke() -> None:
    """Without ``--data-dir`` (as ``make bench`` runs every script): start a server, sign in, stop it."""
    import shutil
    import tempfile

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="explore-bench-"))
    try:
        t0 = time.perf_counter()
        with BenchServer(tmp / "data", users={"alice": "alice-password"}) as server:
            print(f"server_ready_s: {time.perf_counter() - t0:.2f}")
            t0 = time.perf_counter()
            server.auth("alice", "alice-password")
            print(f"token_s (argon2 check + token): {time.perf_counter() - t0:.3f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="serve a benchmark installation (used by the benchmarks)")
    parser.add_argument("--data-dir", type=pathlib.Path, default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--static", type=pathlib.Path, default=None)
    parser.add_argument("--profile", type=pathlib.Path, default=None)
    parser.add_argument("--quick", action="store_true", help="ignored (make bench passes BENCH_ARGS to every script)")
    args = parser.parse_args()
    if args.data_dir is None or args.port is None:
        smoke()
        return
    serve(args.data_dir, args.port, args.static, args.profile)


if __name__ == "__main__":
    main()
