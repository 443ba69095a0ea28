"""Platform benchmark: 100 concurrent clients listing a folder and reading a small file, against the same
server sending a static file with Starlette's ``StaticFiles``.

A uvicorn server (another process, loopback) serves the EXPLORE API and, mounted on the same app at
``/static-bench``, a ``StaticFiles`` folder holding the same small file. ``alice/data`` holds 20 files of
1 KiB and is shared read-only with ``bob``; half the clients sign in as alice (the owner), half as bob (a
reader, so the permission check looks up the grants). Three phases, each bounded in time and in requests:

- ``platform``: each client in turn lists ``GET /api/v1/files/alice/data`` and reads
  ``GET /api/v1/files/alice/data/small.txt`` (the task of the benchmark);
- ``platform_read``: the small file only, through the API;
- ``static``: the same bytes from ``GET /static-bench/small.txt`` (the baseline).

It prints requests per second, p50 and p99 latency of each, and the ratios to ``static``. Latencies are
measured by the client (asyncio + httpx) and include its own scheduling; client and server CPU seconds
are printed so that one can see which side was the limit.

Usage::

    python benchmarks/platform_concurrency.py            # 20 s or 20,000 requests per phase
    python benchmarks/platform_concurrency.py --quick    # 5 s or 5,000 requests per phase
    python benchmarks/platform_concurrency.py --profile  # also profile the server (cProfile), print the top
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import pstats
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import httpx
from _server import BenchServer, server_stack

CLIENTS = 100
PASSWORDS = {"alice": "alice-benchmark-password", "bob": "bob-benchmark-password"}
SMALL = (b"source_id,ra,dec,parallax\n" + b"4472832130942575872,269.4521,4.6933,547.45\n" * 24)[:1024]


@dataclass
class Phase:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    requests: int = 0
    seconds: float = 0.0
    server_cpu: float | None = None
    client_cpu: float = 0.0

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float, kind: str | None = None) -> float:
        values = sorted(v for k, vs in self.latencies.items() if kind in (None, k) for v in vs)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def client_loop(client: httpx.AsyncClient, steps: list[tuple[str, str]], phase: Phase,
                      budget: list[int], deadline: float) -> None:
    i = 0
    while time.perf_counter() < deadline and budget[0] > 0:
        kind, path = steps[i % len(steps)]
        budget[0] -= 1
        t0 = time.perf_counter()
        try:
            r = await client.get(path)
            ok = r.status_code == 200
            if ok and i % 97 == 0:  # check the answers now and then (parsing every one costs the client)
                ok = len(r.json()["entries"]) == 20 if kind == "list" else r.content == SMALL
        except httpx.HTTPError:
            ok = False
        phase.add(kind, time.perf_counter() - t0)
        phase.requests += 1
        phase.errors += not ok
        i += 1


async def run_phase(name: str, clients: list[httpx.AsyncClient], steps: list[tuple[str, str]],
                    seconds: float, max_requests: int, server: BenchServer) -> Phase:
    phase = Phase(name)
    budget = [max_requests]
    cpu0, ccpu0 = server.server_cpu_seconds(), time.process_time()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(*(client_loop(client, steps[i % len(steps):] + steps[:i % len(steps)], phase, budget,
                                       deadline) for i, client in enumerate(clients)))
    phase.seconds = time.perf_counter() - t0
    cpu1 = server.server_cpu_seconds()
    phase.server_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    phase.client_cpu = time.process_time() - ccpu0
    return phase


def report(phase: Phase, baseline: Phase | None) -> None:
    ms = 1e3
    print(f"{phase.name}_requests: {phase.requests} in {phase.seconds:.1f} s ({phase.errors} errors)")
    print(f"{phase.name}_req_per_s: {phase.rate:.0f}")
    print(f"{phase.name}_p50_ms: {phase.percentile(0.5) * ms:.1f}")
    print(f"{phase.name}_p99_ms: {phase.percentile(0.99) * ms:.1f}")
    if len(phase.latencies) > 1:
        for kind in phase.latencies:
            print(f"{phase.name}_{kind}_p50_ms: {phase.percentile(0.5, kind) * ms:.1f}, "
                  f"p99 {phase.percentile(0.99, kind) * ms:.1f}")
    cpu = "?" if phase.server_cpu is None else f"{phase.server_cpu:.1f}"
    print(f"{phase.name}_cpu_s: server {cpu}, client {phase.client_cpu:.1f} (of {phase.seconds:.1f} s)")
    if phase.server_cpu:
        print(f"{phase.name}_server_cpu_ms_per_request: {phase.server_cpu / phase.requests * ms:.2f}")
    if baseline is not None:
        print(f"{phase.name}_ratio_to_static: req/s {phase.rate / baseline.rate:.2f}, "
              f"p50 x{phase.percentile(0.5) / baseline.percentile(0.5):.1f}, "
              f"p99 x{phase.percentile(0.99) / baseline.percentile(0.99):.1f}")


async def bench(server: BenchServer, seconds: float, max_requests: int) -> None:
    auth = {name: server.auth(name, password) for name, password in PASSWORDS.items()}
    async with httpx.AsyncClient(base_url=server.url, headers=auth["alice"], timeout=60) as c:
        (await c.post("/api/v1/folders/alice/data")).raise_for_status()
        (await c.put("/api/v1/files/alice/data/small.txt", content=SMALL)).raise_for_status()
        for i in range(19):
            (await c.put(f"/api/v1/files/alice/data/table_{i:02d}.csv", content=SMALL)).raise_for_status()
        (await c.put("/api/v1/permissions/alice/data", json={"users": {"bob": "read"}})).raise_for_status()
    mix = [("list", "/api/v1/files/alice/data"), ("read", "/api/v1/files/alice/data/small.txt")]
    plans = [
        ("static", [("read", "/static-bench/small.txt")]),
        ("platform", mix),
        ("platform_read", [("read", "/api/v1/files/alice/data/small.txt")]),
    ]
    # the clients (and their connections) live through every phase: creating one costs the client more
    # than a request does
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    users = list(auth)
    clients = [httpx.AsyncClient(base_url=server.url, headers=auth[users[i % len(users)]], limits=limits,
                                 timeout=60, verify=False) for i in range(CLIENTS)]
    results: dict[str, Phase] = {}
    try:
        for name, steps in plans:
            await run_phase(name, clients, steps, min(2.0, seconds), 2000, server)  # warm up
            results[name] = await run_phase(name, clients, steps, seconds, max_requests, server)
    finally:
        for client in clients:
            await client.aclose()
    report(results["static"], None)
    report(results["platform"], results["static"])
    report(results["platform_read"], results["static"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s or 5,000 requests per phase")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="run the server under cProfile and print the top")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    max_requests = args.requests or (5_000 if args.quick else 20_000)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="explore-bench-concurrency-"))
    try:
        static = tmp / "static"
        static.mkdir()
        (static / "small.txt").write_bytes(SMALL)
        profile = tmp / "server.prof" if args.profile else None
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews every figure)")
        print(f"server: {server_stack()}, another process")
        print(f"clients: {CLIENTS} (asyncio + httpx, one connection each), phases of {seconds:.0f} s "
              f"or {max_requests} requests")
        with BenchServer(tmp / "data", users=PASSWORDS, static_dir=static, profile=profile) as server:
            asyncio.run(bench(server, seconds, max_requests))
        if profile is not None and profile.exists():
            print("\nserver profile (cProfile, all phases), top 25 by own time:")
            pstats.Stats(str(profile)).sort_stats("tottime").print_stats(25)
            print("top 30 by cumulative time:")
            pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
