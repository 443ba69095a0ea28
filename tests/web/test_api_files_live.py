"""Uploads and downloads over real HTTP (uvicorn on loopback), where a body arrives in many chunks of
whatever size the network gives: several disk batches per upload, read-ahead on download, clients
that vanish in the middle. The in-process TestClient hands a body over in one piece, so it cannot show
these."""

from __future__ import annotations

import os
import random
import socket
import threading
import time

import httpx
import pytest

MB = 1_000_000


@pytest.fixture
def live(platform, people):
    """The API served by uvicorn (httptools, as ``explore serve``) in a thread on a free port."""
    import uvicorn

    from explore.web.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(platform=platform, scheduler=False, ui=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    tokens = {}
    for name in ("alice", "bob"):
        r = httpx.post(url + "/api/v1/auth/token", data={"username": name, "password": f"{name}-password"})
        tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    yield {"url": url, "auth": tokens, "platform": platform, "port": port}
    server.should_exit = True
    thread.join(10)


def random_bytes(n: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def uneven_chunks(data: bytes, seed: int = 3):
    """The body in chunks of 1 byte to 300 kB, so that batch boundaries fall anywhere."""
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.choice([1, 17, 4096, 65536, 300_000, rng.randrange(1, 300_000)])
        yield data[i:i + n]
        i += n


def tmp_files(platform, owner: str = "alice") -> list[str]:
    tmp = platform.storage.local_path(f"{owner}/.explore-tmp")
    return sorted(os.listdir(tmp)) if tmp.exists() else []


@pytest.mark.parametrize("with_length", [True, False], ids=["content-length", "chunked"])
def test_large_upload_and_download_byte_for_byte(live, with_length):
    data = random_bytes(4_900_000)  # more than one disk batch (4 MiB) and many download chunks (1 MiB)
    url = live["url"] + "/api/v1/files/alice/big.bin"
    headers = {**live["auth"]["alice"], **({"Content-Length": str(len(data))} if with_length else {})}
    r = httpx.put(url, content=uneven_chunks(data), headers=headers, timeout=60)
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(data)
    r = httpx.get(url, headers=live["auth"]["alice"], timeout=60)
    assert r.status_code == 200 and r.headers["content-length"] == str(len(data))
    assert r.content == data
    # a range across two read-ahead chunks, and one that ends exactly at a chunk's end
    for start, end in ((1_048_000, 3_200_000), (0, 1_048_575)):
        r = httpx.get(url, headers={**live["auth"]["alice"], "Range": f"bytes={start}-{end}"}, timeout=60)
        assert r.status_code == 206 and r.content == data[start:end + 1]
    assert tmp_files(live["platform"]) == []


def test_small_file_and_listing_by_a_reader(live):
    """A reader's requests: one permission check each, the same bytes and rights as before."""
    alice, bob = live["auth"]["alice"], live["auth"]["bob"]
    base = live["url"] + "/api/v1"
    assert httpx.post(base + "/folders/alice/data", headers=alice).status_code == 201
    assert httpx.put(base + "/files/alice/data/t.csv", content=b"a,b\n1,2\n", headers=alice).status_code == 201
    assert httpx.get(base + "/files/alice/data/t.csv", headers=bob).status_code == 404
    httpx.put(base + "/permissions/alice/data", json={"users": {"bob": "read"}}, headers=alice).raise_for_status()
    r = httpx.get(base + "/files/alice/data/t.csv", headers=bob)
    assert r.status_code == 200 and r.content == b"a,b\n1,2\n" and r.headers["content-length"] == "8"
    r = httpx.get(base + "/files/alice/data/t.csv", headers={**bob, "Range": "bytes=4-"})
    assert r.status_code == 206 and r.content == b"1,2\n" and r.headers["content-range"] == "bytes 4-7/8"
    listing = httpx.get(base + "/files/alice/data", headers=bob).json()
    assert listing["path"] == "alice/data" and listing["rights"] == ["read"]
    assert [(e["name"], e["size"], e["is_dir"]) for e in listing["entries"]] == [("t.csv", 8, False)]
    assert httpx.get(base + "/files/alice/data", headers=alice).json()["rights"] == ["delete", "read", "share", "write"]
    assert httpx.get(base + "/files/alice/data/t.csv?meta=true", headers=bob).json()["rights"] == ["read"]
    r = httpx.get(base + "/files/alice/empty.txt", headers=alice)
    assert r.status_code == 404
    httpx.put(base + "/files/alice/empty.txt", content=b"", headers=alice).raise_for_status()
    r = httpx.get(base + "/files/alice/empty.txt", headers=alice)
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "0"


def test_quota_crossed_in_a_later_batch_is_413_and_keeps_the_old_version(live):
    platform = live["platform"]
    platform.accounts.update_user("alice", quota=3 * MB)
    url = live["url"] + "/api/v1/files/alice/a.bin"
    old = random_bytes(MB, seed=1)
    assert httpx.put(url, content=old, headers=live["auth"]["alice"]).status_code == 201
    # no Content-Length: the server learns the size only as the bytes arrive (3 MB allowed, 4.5 MB sent)
    r = httpx.put(url, content=uneven_chunks(random_bytes(4_500_000, seed=2)), headers=live["auth"]["alice"],
                  timeout=60)
    assert r.status_code == 413 and "exceeds" in r.json()["message"]
    assert httpx.get(url, headers=live["auth"]["alice"]).content == old
    assert tmp_files(platform) == []


def test_client_leaving_mid_upload_keeps_the_old_version(live):
    platform = live["platform"]
    url = live["url"] + "/api/v1/files/alice/a.bin"
    assert httpx.put(url, content=b"version 1", headers=live["auth"]["alice"]).status_code == 201
    with socket.create_connection(("127.0.0.1", live["port"])) as sock:
        head = (f"PUT /api/v1/files/alice/a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {live['auth']['alice']['Authorization']}\r\nContent-Length: 4000000\r\n\r\n")
        sock.sendall(head.encode())
        sock.sendall(random_bytes(2_500_000))  # past the first disk batch, then the client is gone
    deadline = time.monotonic() + 10
    while tmp_files(platform) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tmp_files(platform) == []
    assert httpx.get(url, headers=live["auth"]["alice"]).content == b"version 1"


def test_client_leaving_mid_download_closes_the_file(live):
    platform = live["platform"]
    url = live["url"] + "/api/v1/files/alice/big.bin"
    assert httpx.put(url, content=random_bytes(4_900_000), headers=live["auth"]["alice"]).status_code == 201
    path = os.path.realpath(platform.storage.local_path("alice/big.bin"))

    def open_copies() -> int:
        n = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                n += os.readlink(f"/proc/self/fd/{fd}") == path
            except OSError:
                pass
        return n

    with httpx.stream("GET", url, headers=live["auth"]["alice"], timeout=60) as r:
        next(r.iter_raw(65536))
    deadline = time.monotonic() + 10
    while open_copies() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_copies() == 0
