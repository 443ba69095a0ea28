"""fetch against a real HTTP server on 127.0.0.1 that honours Range requests."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from explore.apps.gtomo.fetch import ChecksumError, FetchError, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):  # noqa: N802
        server = self.server
        server.requests.append(self.headers.get("Range"))
        if self.path == "/missing":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = server.payload
        start = 0
        rng = self.headers.get("Range")
        if rng and server.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_after is not None:
            # send part of the body, then drop the connection: an interrupted download
            self.wfile.write(body[: server.cut_after])
            self.wfile.flush()
            server.cut_after = None
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.payload = PAYLOAD
    httpd.requests = []
    httpd.ranges = True
    httpd.cut_after = None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd, path="/explore_cube_density_values_025pc_v2.h5"):
    return f"http://127.0.0.1:{httpd.server_address[1]}{path}"


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_with_checksum_and_progress(server, tmp_path):
    seen = []
    path = fetch(_url(server), tmp_path / "cube.h5", sha256=SHA, progress=lambda d, t: seen.append((d, t)),
                 chunk_size=65536)
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "cube.h5.part").exists()
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) >= 16
    # already there and good: no new request
    n = len(server.requests)
    assert fetch(_url(server), tmp_path / "cube.h5", sha256=SHA) == path
    assert len(server.requests) == n


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    server.cut_after = 300_000
    with pytest.raises(FetchError, match="run again to resume"):
        fetch(_url(server), tmp_path / "cube.h5", sha256=SHA, retries=0)
    part = tmp_path / "cube.h5.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)
    kept = part.stat().st_size
    path = fetch(_url(server), tmp_path / "cube.h5", sha256=SHA)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[-1] == f"bytes={kept}-"


def test_retries_resume_within_one_call(server, tmp_path):
    server.cut_after = 500_000
    path = fetch(_url(server), tmp_path / "cube.h5", sha256=SHA, retries=2)
    assert path.read_bytes() == PAYLOAD
    assert server.requests[0] is None and server.requests[1].startswith("bytes=")


def test_checksum_mismatch_deletes_the_download(server, tmp_path):
    with pytest.raises(ChecksumError, match="expected 0000"):
        fetch(_url(server), tmp_path / "cube.h5", sha256="0000" + SHA[4:])
    assert not (tmp_path / "cube.h5").exists() and not (tmp_path / "cube.h5.part").exists()


def test_server_without_range_support_restarts_from_zero(server, tmp_path):
    server.ranges = False
    (tmp_path / "cube.h5.part").write_bytes(b"garbage that must not stay")
    assert fetch(_url(server), tmp_path / "cube.h5", sha256=SHA).read_bytes() == PAYLOAD


def test_complete_part_file_is_finished_after_416(server, tmp_path):
    (tmp_path / "cube.h5.part").write_bytes(PAYLOAD)
    assert fetch(_url(server), tmp_path / "cube.h5", sha256=SHA).read_bytes() == PAYLOAD


def test_http_error_is_reported(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(_url(server, "/missing"), tmp_path / "x.h5")
