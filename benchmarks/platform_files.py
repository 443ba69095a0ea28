"""Platform benchmark: upload and download of a large file through the REST API, against a local copy.

A file of random bytes (1 GiB; 256 MiB with ``--quick``) is written in a temporary folder. The baseline
copies it on the same disk with the standard library (``shutil.copyfile``); the platform then receives
it with ``PUT /api/v1/files/alice/big.bin`` (the request body streamed from the file) and sends it back
with ``GET /api/v1/files/alice/big.bin`` (the response streamed into a file on the same disk). Both are
real HTTP on loopback to a uvicorn server in another process (httpx as the client; when ``curl`` is
installed the same two transfers are timed with it too, a client that costs almost nothing). The ratio platform / copyfile is the
figure of merit (aim: >= 0.5). The upload is durable (fsync before the atomic rename) and copyfile is
not, so the ratio to copyfile followed by fsync is printed too.

While the upload runs, a second client lists alice's home every 50 ms: the slowest answer shows how
long the upload blocks the server for everyone else.

Range downloads are checked byte for byte against the source: 16 MiB from the middle, the last 1000
bytes (a suffix range), and 200 random 4 KiB ranges (their latency).

Usage::

    python benchmarks/platform_files.py            # 1 GiB
    python benchmarks/platform_files.py --quick    # 256 MiB
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

import httpx
from _server import BenchServer

MiB = 1024**2
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


def timed_copy(src: pathlib.Path, dst: pathlib.Path, *, durable: bool) -> float:
    os.sync()
    t0 = time.perf_counter()
    shutil.copyfile(src, dst)
    if durable:
        fd = os.open(dst, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elapsed = time.perf_counter() - t0
    dst.unlink()
    os.sync()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 MiB instead of 1 GiB")
    parser.add_argument("--size-mib", type=int, default=None, help="file size in MiB")
    parser.add_argument("--dir", type=pathlib.Path, default=None, help="where to put the temporary folder")
    args = parser.parse_args()
    size = (args.size_mib or (256 if args.quick else 1024)) * MiB

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="explore-bench-files-", dir=args.dir))
    try:
        src = tmp / "source.bin"
        t0 = time.perf_counter()
        source_sha = write_random(src, size)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work skews every figure)")
        print(f"file: {size / MiB:.0f} MiB of random bytes in {tmp} ({time.perf_counter() - t0:.1f} s to write)")

        copy_s = timed_copy(src, tmp / "copy.bin", durable=False)
        copy_sync_s = timed_copy(src, tmp / "copy.bin", durable=True)
        copy_mbps, copy_sync_mbps = mbps(size, copy_s), mbps(size, copy_sync_s)
        print(f"copyfile_MBps: {copy_mbps:.0f}")
        print(f"copyfile_fsync_MBps: {copy_sync_mbps:.0f}")

        with BenchServer(tmp / "data", users={"alice": PASSWORD}) as server:
            headers = server.auth("alice", PASSWORD)
            url = f"{server.url}/api/v1/files/alice/big.bin"
            with httpx.Client(headers=headers, timeout=600) as client:
                # upload, with another client listing alice's home meanwhile
                prober = Prober(f"{server.url}/api/v1/files/alice", headers)
                prober.start()
                time.sleep(0.3)
                cpu0, ccpu0 = server.server_cpu_seconds(), time.process_time()
                t0 = time.perf_counter()
                r = client.put(url, content=FileBody(src), headers={"Content-Length": str(size)})
                up_s = time.perf_counter() - t0
                cpu1, ccpu1 = server.server_cpu_seconds(), time.process_time()
                time.sleep(0.2)
                prober.stop.set()
                prober.join()
                r.raise_for_status()
                assert r.status_code == 201 and r.json()["size"] == size, r.text
                os.sync()
                ccpu1 = time.process_time()

                # download into a file on the same disk
                down = tmp / "download.bin"
                t0 = time.perf_counter()
                with client.stream("GET", url) as resp, down.open("wb") as fh:
                    resp.raise_for_status()
                    for data in resp.iter_raw(CHUNK):
                        fh.write(data)
                down_s = time.perf_counter() - t0
                cpu2, ccpu2 = server.server_cpu_seconds(), time.process_time()
                if down.stat().st_size != size or sha256_file(down) != source_sha:
                    raise SystemExit("the downloaded file differs from the uploaded one")
                down.unlink()

                up_mbps, down_mbps = mbps(size, up_s), mbps(size, down_s)
                print(f"upload_MBps: {up_mbps:.0f}")
                print(f"download_MBps: {down_mbps:.0f}")
                print(f"upload_ratio_to_copyfile: {up_mbps / copy_mbps:.2f} (aim >= 0.5)")
                print(f"download_ratio_to_copyfile: {down_mbps / copy_mbps:.2f} (aim >= 0.5)")
                print(f"upload_ratio_to_copyfile_fsync: {up_mbps / copy_sync_mbps:.2f}")
                print(f"download_ratio_to_copyfile_fsync: {down_mbps / copy_sync_mbps:.2f}")
                if None not in (cpu0, cpu1, cpu2):
                    print(f"server_cpu_s: upload {cpu1 - cpu0:.2f} of {up_s:.2f} s, download {cpu2 - cpu1:.2f} of {down_s:.2f} s")
                print(f"client_cpu_s (httpx, prober, writing the file): upload {ccpu1 - ccpu0:.2f}, download {ccpu2 - ccpu1:.2f}")
                lat = sorted(prober.latencies)
                if lat:
                    print(f"listing_during_upload_ms: p50 {statistics.median(lat) * 1e3:.1f}, "
                          f"max {lat[-1] * 1e3:.0f} ({len(lat)} requests)")

                # the same transfers with curl as the client: what the server can do when the client is cheap
                curl = shutil.which("curl")
                if curl:
                    auth = f"Authorization: {headers['Authorization']}"
                    os.sync()
                    t0 = time.perf_counter()
                    subprocess.run([curl, "-sSf", "-o", "/dev/null", "-T", str(src), "-H", auth, url + ".curl"],
                                   check=True)
                    curl_up = mbps(size, time.perf_counter() - t0)
                    os.sync()
                    t0 = time.perf_counter()
                    subprocess.run([curl, "-sSf", "-o", str(down), "-H", auth, url], check=True)
                    curl_down = mbps(size, time.perf_counter() - t0)
                    down.unlink()
                    print(f"curl_upload_MBps: {curl_up:.0f} (ratio {curl_up / copy_mbps:.2f})")
                    print(f"curl_download_MBps: {curl_down:.0f} (ratio {curl_down / copy_mbps:.2f})")

                # ranges, byte for byte
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
