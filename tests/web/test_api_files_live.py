"""Uploads and downloads over real HTTP (uvicorn on loopback), where a body arrives in many chunks of
whatever size the network gives: several disk batches per upload, read-ahead on download, clients
that vanish in the middle. The in-process TestClient hands a body over in one piece, so it cannot show
these."""

from __future__ import annotations

import os
import random
import socket
import time

import httpx
import pytest
from live_server import serving

MB = 1_000_000


@pytest.fixture(params=["zero-copy", "streamed"])
def live(request, platform, people):
    """The API served by uvicorn in a thread on a free port: as ``explore serve`` runs it (downloads sent
    with ``sendfile``), and as plain uvicorn (downloads streamed through the event loop)."""
    from explore.web.app import create_app

    app = create_app(platform=platform, scheduler=False, ui=False)
    with serving(app, zero_copy=request.param == "zero-copy") as url:
        tokens = {}
        for name in ("alice", "bob"):
            r = httpx.post(url + "/api/v1/auth/token", data={"username": name, "password": f"{name}-password"})
            tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield {"url": url, "auth": tokens, "platform": platform, "port": int(url.rsplit(":", 1)[1]),
               "mode": request.param}


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
    # the server may not have begun the upload yet (no temporary file so far): watch for 2 s at least
    t0 = time.monotonic()
    while (tmp_files(platform) or time.monotonic() < t0 + 2) and time.monotonic() < t0 + 10:
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


def test_slow_reader_gets_every_byte(live):
    """A client that reads slowly through a small socket buffer: the server waits for the socket again and
    again (the zero-copy sender's wait for writability) and the bytes still arrive whole and in order."""
    data = random_bytes(3_000_000, seed=11)
    url = live["url"] + "/api/v1/files/alice/slow.bin"
    assert httpx.put(url, content=data, headers=live["auth"]["alice"]).status_code == 201
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.connect(("127.0.0.1", live["port"]))
        sock.sendall((f"GET /api/v1/files/alice/slow.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      f"Authorization: {live['auth']['alice']['Authorization']}\r\n\r\n").encode())
        received = bytearray()
        pauses = 0
        while chunk := sock.recv(65536):
            received += chunk
            if pauses < 20 and len(received) > pauses * 100_000:
                pauses += 1
                time.sleep(0.02)
    head, body = bytes(received).split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: 3000000" in head.lower()
    assert body == data


def test_download_keeps_the_version_it_started_with(live):
    """A file replaced (atomically) during its download: the download finishes with the old bytes, the
    next one gets the new bytes."""
    old, new = random_bytes(4_000_000, seed=1), random_bytes(2_000_000, seed=2)
    url = live["url"] + "/api/v1/files/alice/v.bin"
    auth = live["auth"]["alice"]
    assert httpx.put(url, content=old, headers=auth).status_code == 201
    with httpx.stream("GET", url, headers=auth, timeout=60) as r:
        it = r.iter_raw(65536)
        first = next(it)
        assert httpx.put(url, content=new, headers=auth).status_code == 201
        got = first + b"".join(it)
    assert got == old
    assert httpx.get(url, headers=auth).content == new


def test_downloads_and_json_share_a_kept_alive_connection(live):
    """After a large download the connection is reused for the next requests (the response was completed
    as uvicorn expects), ranges included."""
    data = random_bytes(2_500_000, seed=5)
    base = live["url"] + "/api/v1"
    with httpx.Client(headers=live["auth"]["alice"], timeout=60) as client:
        assert client.put(base + "/files/alice/k.bin", content=data).status_code == 201
        ports = set()
        for _ in range(3):
            r = client.get(base + "/files/alice/k.bin")
            assert r.content == data
            ports.add(r.extensions["network_stream"].get_extra_info("client_addr")[1])
            r = client.get(base + "/files/alice/k.bin", headers={"Range": "bytes=300000-2000000"})
            assert r.status_code == 206 and r.content == data[300_000:2_000_001]
            assert client.get(base + "/me").json()["name"] == "alice"
        assert len(ports) == 1  # one connection for all nine requests


def test_upload_with_expect_continue_and_a_refusal_before_the_body(live):
    """A client asking ``Expect: 100-continue`` is told to go on only once the server has accepted the
    upload (rights, size); a refused one gets its answer without sending the body. On the zero-copy
    server the body then bypasses the parser, so that connection closes after the answer."""
    data = random_bytes(2_000_000, seed=21)
    auth = live["auth"]["alice"]["Authorization"]

    def put(path: str, length: int, who: str = auth) -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", live["port"]), timeout=10) as sock:
            sock.sendall((f"PUT /api/v1/files/{path} HTTP/1.1\r\nHost: x\r\nAuthorization: {who}\r\n"
                          f"Content-Length: {length}\r\nExpect: 100-continue\r\n\r\n").encode())
            first = sock.recv(65536)
            if not first.startswith(b"HTTP/1.1 100"):
                return first, b""
            sock.sendall(data[:length])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            return first, answer

    first, answer = put("alice/e.bin", len(data))
    assert first.startswith(b"HTTP/1.1 100 Continue") and answer.startswith(b"HTTP/1.1 201")
    if live["mode"] == "zero-copy":
        assert b"connection: close" in answer.lower()
    assert httpx.get(live["url"] + "/api/v1/files/alice/e.bin", headers=live["auth"]["alice"]).content == data
    first, _ = put("alice/huge.bin", 6_000_000)  # over the 5 MB upload limit of the tests
    assert first.startswith(b"HTTP/1.1 413") and b"the largest upload allowed is 5,000,000 bytes" in first
    first, _ = put("bob/e.bin", 100, who=live["auth"]["alice"]["Authorization"])
    assert first.startswith(b"HTTP/1.1 403") or first.startswith(b"HTTP/1.1 404")


def test_a_client_that_stops_sending_is_given_up(live, monkeypatch):
    """An upload whose client sends part of the body and then nothing (a laptop that went to sleep) is
    abandoned after the idle timeout: a 400 naming it, no temporary file, the old version kept."""
    from explore.web import zerocopy

    monkeypatch.setattr(zerocopy, "IDLE_TIMEOUT", 1.0)
    platform = live["platform"]
    url = live["url"] + "/api/v1/files/alice/a.bin"
    assert httpx.put(url, content=b"version 1", headers=live["auth"]["alice"]).status_code == 201
    with socket.create_connection(("127.0.0.1", live["port"]), timeout=30) as sock:
        sock.sendall((f"PUT /api/v1/files/alice/a.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: {live['auth']['alice']['Authorization']}\r\nContent-Length: 3000000\r\n\r\n"
                      ).encode() + random_bytes(1_000_000))
        t0 = time.monotonic()
        answer = b""
        while b"}" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        waited = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.1 400") and b"sent nothing for 1 s" in answer, answer
    assert 0.9 < waited < 20
    assert tmp_files(platform) == []
    assert httpx.get(url, headers=live["auth"]["alice"]).content == b"version 1"
