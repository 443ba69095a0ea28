"""Platform benchmark: upload and download of a large file through the REST API, against a local copy.

A file of random bytes (1 GiB; 256 MiB with ``--quick``) is written in a temporary folder. The baseline
copies it on the same disk with the standard library (``shutil.copyfile`` to a new file); the platform
receives it with ``PUT /api/v1/files/alice/big.bin`` (the request body streamed from the file) and sends
it back with ``GET /api/v1/files/alice/big.bin`` (the response streamed into a new file on the same
disk). Both are real HTTP on loopback to a uvicorn server in another process (as ``explore serve`` runs
it: files sent with ``sendfile`` and received with ``splice``), with three clients: httpx, ``curl``
when it is installed, and EXPLORE's own Python client (``explore.client``, which splices the socket into
the file on download).

Fair comparisons, not flattering ones:

- an upload is durable (the server fsyncs the file before the atomic rename), so its baseline is
  ``copyfile`` followed by an fsync of the copy; a download is not (neither the client nor ``copyfile``
  fsyncs), so its baseline is ``copyfile`` alone. The other pairing is printed too;
- every measurement starts after ``os.sync()`` (no dirty pages of an earlier step left to flush), the
  source file is in the page cache for all of them, and every copy goes to a new file;
- the steps are interleaved over several rounds (``--rounds``, default 3) so that a burst of load on
  the machine hits baseline and platform alike, and the median of each is reported, with its range;
- one uncounted round comes first (``--warmup 0`` to skip it): on a virtual machine the first touch
  of a memory page costs the host's work too, and showed as copies and transfers 3-8x slower than the
  next ones, whichever came first.

The figure of merit is the ratio of the platform's median to its baseline's median (aim: >= 0.5).

While the httpx uploads run, a second client lists alice's home every 50 ms: the slowest answer shows
how long an upload blocks the server for everyone else.

Range downloads are checked byte for byte against the source: 16 MiB from the middle, the last 1000
bytes (a suffix range), and 200 random 4 KiB ranges (their latency).

Usage::

    python benchmarks/platform_files.py              # 1 GiB, 3 rounds
    python benchmarks/platform_files.py --quick      # 256 MiB, 3 rounds
    python benchmarks/platform_files.py --rounds 5
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

import httpx
from _server import BenchServer, server_stack

from explore.client import Client

MiB = 1024**2
GiB = 1024**3
CHUNK = 4 * MiB
PASSWORD = "alice-benchmark-password"


class FileBody:
    """The request body: the file read in large chunks (httpx reads file objects 64 KiB at a time)."""

    def __init__(self, path: pathlib.Path, chunk: int = CHUNK) -> None:
        self.path = path
        self.chunk = chunk

    def __iter__(self):
        with self.path.open("rb") as fh:
            while data := fh.read(self.chunk):
                yield data


def write_random(path: pathlib.Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as fh:
        left = size
        while left:
            data = os.urandom(min(CHUNK, left))
            fh.write(data)
            digest.update(data)
            left -= len(data)
        fh.flush()
        os.fsync(fh.fileno())
    return digest.hexdigest()


def sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while data := fh.read(CHUNK):
            digest.update(data)
    return digest.hexdigest()


def fsync_path(path: pathlib.Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def timed_copy(src: pathlib.Path, dst: pathlib.Path, *, durable: bool) -> float:
    """Seconds to copy ``src`` to the new file ``dst`` (and fsync it when ``durable``)."""
    os.sync()
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    if durable:
        fsync_path(dst)
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


class Prober(threading.Thread):
    """Lists a folder every ``interval`` seconds and keeps the latencies (what other users feel)."""

    def __init__(self, url: str, headers: dict[str, str], interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.interval = url, headers, interval
        self.latencies: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(headers=self.headers, timeout=120) as client:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                client.get(self.url).raise_for_status()
                self.latencies.append(time.perf_counter() - t0)
                self.stop.wait(self.interval)


def mbps(size: int, seconds: float) -> float:
    return size / MiB / seconds


@dataclass
class Series:
    """One measured transfer over the rounds: MB/s of each round."""

    name: str
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    def line(self) -> str:
        spread = f" (rounds: {', '.join(f'{r:.0f}' for r in self.rates)})" if len(self.rates) > 1 else ""
        return f"{self.name}_MBps: {self.median:.0f}{spread}"


class Transfers:
    """The uploads and downloads of one round, each timed from ``os.sync()`` to its last byte."""

    def __init__(self, server: BenchServer, headers: dict[str, str], src: pathlib.Path, size: int,
                 source_sha: str) -> None:
        self.server, self.headers, self.src, self.size, self.source_sha = server, headers, src, size, source_sha
        self.url = f"{server.url}/api/v1/files/alice/big.bin"
        self.down = src.with_name("download.bin")
        self.client = httpx.Client(headers=headers, timeout=600)
        self.server_cpu: dict[str, list[tuple[float, float]]] = {}
        self.client_cpu: dict[str, list[float]] = {}
        self.probes: list[float] = []
        self.curl = shutil.which("curl")
        self.explore = Client(server.url, headers["Authorization"].removeprefix("Bearer "), timeout=600)

    def _timed(self, name: str, fn) -> float:
        os.sync()
        cpu0, ccpu0 = self.server.server_cpu_seconds(), time.process_time()
        children0 = os.times().children_user + os.times().children_system
        t0 = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - t0
        cpu1 = self.server.server_cpu_seconds()
        children1 = os.times().children_user + os.times().children_system
        if cpu0 is not None and cpu1 is not None:
            self.server_cpu.setdefault(name, []).append((cpu1 - cpu0, elapsed))
        self.client_cpu.setdefault(name, []).append(time.process_time() - ccpu0 + children1 - children0)
        return elapsed

    def httpx_upload(self) -> float:
        prober = Prober(f"{self.server.url}/api/v1/files/alice", self.headers)
        prober.start()
        time.sleep(0.3)

        def put() -> None:
            r = self.client.put(self.url, content=FileBody(self.src), headers={"Content-Length": str(self.size)})
            r.raise_for_status()
            assert r.status_code == 201 and r.json()["size"] == self.size, r.text

        try:
            return self._timed("upload_httpx", put)
        finally:
            prober.stop.set()
            prober.join()
            self.probes += prober.latencies

    def httpx_download(self) -> float:
        def get() -> None:
            with self.client.stream("GET", self.url) as resp, self.down.open("wb") as fh:
                resp.raise_for_status()
                for data in resp.iter_raw(CHUNK):
                    fh.write(data)

        elapsed = self._timed("download_httpx", get)
        self.check_download()
        return elapsed

    def curl_upload(self) -> float:
        auth = f"Authorization: {self.headers['Authorization']}"
        return self._timed("upload_curl", lambda: subprocess.run(
            [self.curl, "-sSf", "-o", "/dev/null", "-T", str(self.src), "-H", auth, self.url], check=True))

    def curl_download(self) -> float:
        auth = f"Authorization: {self.headers['Authorization']}"
        elapsed = self._timed("download_curl", lambda: subprocess.run(
            [self.curl, "-sSf", "-o", str(self.down), "-H", auth, self.url], check=True))
        self.check_download()
        return elapsed

    def client_upload(self) -> float:
        def put() -> None:
            entry = self.explore.upload(self.src, "alice/big.bin")
            assert entry["size"] == self.size, entry

        return self._timed("upload_client", put)

    def client_download(self) -> float:
        elapsed = self._timed("download_client", lambda: self.explore.download("alice/big.bin", self.down))
        self.check_download()
        return elapsed

    def check_download(self) -> None:
        if self.down.stat().st_size != self.size or sha256_file(self.down) != self.source_sha:
            raise SystemExit("the downloaded file differs from the uploaded one")
        self.down.unlink()

    def cpu_line(self, name: str) -> str:
        runs = self.server_cpu.get(name, [])
        server = statistics.median(cpu / elapsed for cpu, elapsed in runs) if runs else float("nan")
        per_gib = statistics.median(cpu for cpu, _ in runs) * GiB / self.size if runs else float("nan")
        client = statistics.median(self.client_cpu.get(name, [float("nan")])) * GiB / self.size
        probe = " (with the listings of the probe)" if name == "upload_httpx" else ""
        return (f"{name}_cpu: server {per_gib:.2f} s per GiB{probe} (busy {server:.0%} of the time), "
                f"client {client:.2f} s per GiB")


def check_ranges(client: httpx.Client, url: str, src: pathlib.Path, size: int) -> None:
    """Range downloads, byte for byte against the source."""
    with src.open("rb") as fh:
        def expected(start: int, length: int) -> bytes:
            fh.seek(start)
            return fh.read(length)

        start, length = size // 2 - 8 * MiB, 16 * MiB
        t0 = time.perf_counter()
        r = client.get(url, headers={"Range": f"bytes={start}-{start + length - 1}"})
        range_s = time.perf_counter() - t0
        ok = (r.status_code == 206 and r.content == expected(start, length)
              and r.headers["content-range"] == f"bytes {start}-{start + length - 1}/{size}")
        print(f"range_16MiB_ms: {range_s * 1e3:.1f} ({mbps(length, range_s):.0f} MB/s, "
              f"{'bytes right' if ok else 'WRONG'})")
        r = client.get(url, headers={"Range": "bytes=-1000"})
        suffix_ok = r.status_code == 206 and r.content == expected(size - 1000, 1000)
        print(f"range_suffix_1000: {'bytes right' if suffix_ok else 'WRONG'}")
        rng = random.Random(2022)
        times, small_ok = [], True
        for _ in range(200):
            start = rng.randrange(0, size - 4096)
            t0 = time.perf_counter()
            r = client.get(url, headers={"Range": f"bytes={start}-{start + 4095}"})
            times.append(time.perf_counter() - t0)
            small_ok &= r.status_code == 206 and r.content == expected(start, 4096)
        times.sort()
        print(f"range_4KiB_ms: p50 {statistics.median(times) * 1e3:.2f}, "
              f"p99 {times[int(0.99 * len(times)) - 1] * 1e3:.2f} "
              f"(200 random ranges, {'bytes right' if small_ok else 'WRONG'})")
        if not (ok and suffix_ok and small_ok):
            raise SystemExit("a Range download returned the wrong bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 1 GiB")
    parser.add_argument("--size-mib", type=int, default=None, help="file size in MiB")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every measurement")
    parser.add_argument("--warmup", type=int, choices=(0, 1), default=1,
                        help="run every step once, uncounted, before the rounds (default 1)")
    parser.add_argument("--dir", type=pathlib.Path, default=None, help="where to put the temporary folder")
    args = parser.parse_args()
    size = (args.size_mib or (256 if args.quick else 1024)) * MiB

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="explore-bench-files-", dir=args.dir))
    try:
        src = tmp / "source.bin"
        t0 = time.perf_counter()
        source_sha = write_random(src, size)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start "
              "(other work skews every figure)")
        print(f"file: {size / MiB:.0f} MiB of random bytes in {tmp} ({time.perf_counter() - t0:.1f} s to write); "
              f"{args.rounds} interleaved rounds, medians")
        print(f"server: {server_stack()}, another process")
        series = {name: Series(name) for name in (
            "copyfile", "copyfile_fsync", "upload_httpx", "download_httpx", "upload_curl", "download_curl",
            "upload_client", "download_client")}
        with BenchServer(tmp / "data", users={"alice": PASSWORD}) as server:
            transfers = Transfers(server, server.auth("alice", PASSWORD), src, size, source_sha)
            steps = [
                ("copyfile", lambda: timed_copy(src, tmp / "copy.bin", durable=False)),
                ("copyfile_fsync", lambda: timed_copy(src, tmp / "copy.bin", durable=True)),
                ("upload_httpx", transfers.httpx_upload),
                ("download_httpx", transfers.httpx_download),
            ]
            if transfers.curl:
                steps += [("upload_curl", transfers.curl_upload), ("download_curl", transfers.curl_download)]
            steps += [("upload_client", transfers.client_upload), ("download_client", transfers.client_download)]
            for _name, step in steps[:args.warmup * len(steps)]:
                step()  # a round not counted: first touches of memory cost a virtual machine extra time
            for _ in range(args.rounds):
                for name, step in steps:
                    series[name].rates.append(mbps(size, step()))
            print(f"load average at the end: {os.getloadavg()[0]:.1f}")
            for s in series.values():
                if s.rates:
                    print(s.line())
            copy, copy_sync = series["copyfile"].median, series["copyfile_fsync"].median
            for client in ("httpx", "curl", "client"):
                up, down = series[f"upload_{client}"], series[f"download_{client}"]
                if not up.rates:
                    continue
                # the baselines vary more from round to round than the transfers do: the ratio to the
                # baseline's fastest round is printed too, the least flattering figure
                best, best_sync = max(series["copyfile"].rates), max(series["copyfile_fsync"].rates)
                print(f"upload_{client}_ratio: {up.median / copy_sync:.2f} to copyfile + fsync "
                      f"(both durable; aim >= 0.5), {up.median / best_sync:.2f} to its fastest round, "
                      f"{up.median / copy:.2f} to copyfile alone")
                print(f"download_{client}_ratio: {down.median / copy:.2f} to copyfile "
                      f"(neither fsyncs; aim >= 0.5), {down.median / best:.2f} to its fastest round, "
                      f"{down.median / copy_sync:.2f} to copyfile + fsync")
            for name in ("upload_httpx", "download_httpx", "upload_curl", "download_curl", "upload_client",
                         "download_client"):
                if name in transfers.server_cpu:
                    print(transfers.cpu_line(name))
            lat = sorted(transfers.probes)
            if lat:
                print(f"listing_during_upload_ms: p50 {statistics.median(lat) * 1e3:.1f}, "
                      f"max {lat[-1] * 1e3:.0f} ({len(lat)} requests)")
            check_ranges(transfers.client, transfers.url, src, size)
            transfers.client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
