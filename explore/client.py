"""A Python client of the EXPLORE REST API, for notebooks, scripts and the CLI on another machine.

    from explore.client import Client

    with Client.login("http://127.0.0.1:8000", "alice", "a-long-password") as c:
        c.upload("stars.csv", "alice/stars.csv")
        run = c.run("gtomo", {"cube": "demo/gtomo/demo_cube_density.h5", "targets": "alice/stars.csv"})
        c.download(f"{run['output']}/extinction.csv", "extinction.csv")

Every call is one request of the API (``/api/v1``, see the REST API chapter); errors arrive as
:class:`ApiError` carrying the status and the server's message.

Large files go straight between the socket and the disk. Over plain HTTP, a download is one HTTP/1.1
request on a socket of its own whose body the kernel moves into the file (``splice`` on Linux, no copy
through Python; elsewhere large ``recv_into`` reads), and an upload is read and sent from one reused
buffer. Over HTTPS, or through a proxy, both stream through httpx in 4 MiB pieces. The client
imports nothing of the platform: it needs only httpx.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import select
import socket
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

API = "/api/v1"
CHUNK = 4 << 20
SEND_CHUNK = 256 << 10
#: the pipe of a download's splice: 1 MiB is what any user may ask for (larger measured no faster)
PIPE_SIZE = 1 << 20
#: the suffixes astropy does not recognise by itself (None: let it guess)
_TABLE_FORMATS = {".vot": "votable", ".xml": "votable", ".csv": "ascii.csv", ".tsv": "ascii.tab"}
#: ``progress(done, total)``: bytes moved so far and the whole size
Progress = Callable[[int, int], None]


class ApiError(Exception):
    """An error answer of the API: ``status`` (401, 404, 413...), ``kind`` and the server's ``message``."""

    def __init__(self, status: int, message: str, kind: str = "") -> None:
        super().__init__(f"{status} {kind}: {message}" if kind else f"{status}: {message}")
        self.status, self.kind, self.message = status, kind, message

    @classmethod
    def from_body(cls, status: int, body: bytes) -> ApiError:
        try:
            data = json.loads(body)
            return cls(status, str(data.get("message") or data.get("detail") or data), str(data.get("error", "")))
        except (ValueError, AttributeError):
            return cls(status, body.decode("utf-8", "replace").strip()[:500] or "no message")


def _path(path: str) -> str:
    return quote(path.strip("/"), safe="/")


class Client:
    """One user's session with an EXPLORE server.

    Parameters
    ----------
    url
        The server, such as ``http://127.0.0.1:8000``.
    token
        An API token (``POST /api/v1/auth/token``, or :meth:`login`).
    timeout
        Seconds to wait for the server to answer (not for a whole transfer).
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url + API, headers=headers, timeout=timeout)

    @classmethod
    def login(cls, url: str, username: str, password: str, *, name: str = "explore client",
              timeout: float = 60.0) -> Client:
        """Sign in with a password and return a client holding a new API token (labelled ``name``)."""
        r = httpx.post(url.rstrip("/") + API + "/auth/token", timeout=timeout,
                       data={"username": username, "password": password, "name": name})
        if r.status_code != 200:
            raise ApiError.from_body(r.status_code, r.content)
        return cls(url, r.json()["access_token"], timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- plain requests --------------------------------------------------------------------
    def request(self, method: str, route: str, **kwargs) -> httpx.Response:
        """One API request (``route`` below ``/api/v1``); an error answer raises :class:`ApiError`."""
        r = self.http.request(method, route, **kwargs)
        if r.status_code >= 400:
            raise ApiError.from_body(r.status_code, r.content)
        return r

    def me(self) -> dict:
        """Who the token belongs to: name, role, groups, quota and usage in bytes."""
        return self.request("GET", "/me").json()

    # ---- files -----------------------------------------------------------------------------
    def ls(self, path: str = "") -> list[dict]:
        """The entries of a folder (``alice/results``): name, path, is_dir, size, modified."""
        route = f"/files/{_path(path)}" if path.strip("/") else "/files"
        return self.request("GET", route).json()["entries"]

    def stat(self, path: str) -> dict:
        """A file's size, dates and your rights on it."""
        return self.request("GET", f"/files/{_path(path)}", params={"meta": "true"}).json()

    def mkdir(self, path: str) -> None:
        self.request("POST", f"/folders/{_path(path)}")

    def move(self, path: str, to: str) -> None:
        self.request("PATCH", f"/files/{_path(path)}", json={"to": to})

    def delete(self, path: str) -> None:
        self.request("DELETE", f"/files/{_path(path)}")

    def share(self, path: str, *, users: Mapping[str, str] | None = None, groups: Mapping[str, str] | None = None,
              public: bool = False) -> dict:
        """Set who may read or write ``path`` (``users={"bob": "read"}``); replaces its grants."""
        return self.request("PUT", f"/permissions/{_path(path)}",
                            json={"users": dict(users or {}), "groups": dict(groups or {}), "public": public}).json()

    def read_bytes(self, path: str) -> bytes:
        """A (small) file's bytes in memory."""
        return self.request("GET", f"/files/{_path(path)}").content

    def download(self, path: str, dest: str | os.PathLike | None = None, *,
                 progress: Progress | None = None) -> pathlib.Path:
        """Save the workspace file ``path`` as ``dest`` (default: its name in the current folder; a folder
        means the file's name in it). The bytes go to ``dest.part`` first, renamed when complete, so an
        interrupted download never leaves a truncated ``dest``."""
        name = path.rstrip("/").rsplit("/", 1)[-1]
        target = pathlib.Path(dest) if dest is not None else pathlib.Path(name)
        if target.is_dir():
            target = target / name
        if "entries" in self.stat(path):
            raise ApiError(400, f"{path} is a folder: download_folder() fetches it with everything inside",
                           "BadRequest")
        return self.fetch(path, target, progress=progress)

    def fetch(self, path: str, target: str | os.PathLike, *, progress: Progress | None = None) -> pathlib.Path:
        """Save the workspace file ``path`` as exactly ``target`` (via ``target.part``), without first
        asking whether it is a file: :meth:`download` for paths that may name a folder."""
        target = pathlib.Path(target)
        part = target.with_name(target.name + ".part")
        route = f"{API}/files/{_path(path)}"
        try:
            with part.open("wb") as fh:
                if self._direct():
                    _Socket(self).get_into(route, fh.fileno(), progress)
                else:
                    self._stream_into(route, fh, progress)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(target)
        return target

    def upload(self, src: str | os.PathLike, path: str, *, progress: Progress | None = None) -> dict:
        """Upload the local file ``src`` as the workspace file ``path`` (a path ending in ``/`` means the
        file's name in that folder). The server writes it atomically: the old version stays until the
        new one is complete. Returns the new file's entry (name, size, modified)."""
        src = pathlib.Path(src)
        if path.endswith("/"):
            path += src.name
        route = f"{API}/files/{_path(path)}"
        size = src.stat().st_size
        with src.open("rb") as fh:
            if self._direct():
                status, body = _Socket(self).put_from(route, fh, size, progress)
            else:
                r = self.http.put(route.removeprefix(API), content=_chunks(fh, size, progress),
                                  headers={"Content-Length": str(size)})
                status, body = r.status_code, r.content
        if status >= 400:
            raise ApiError.from_body(status, body)
        return json.loads(body)

    def read_table(self, path: str, **read_options):
        """A workspace table (CSV, ECSV, FITS, VOTable, Parquet, HDF5: by its suffix, as astropy reads
        it) as an ``astropy.table.Table``, with its units and metadata; ``read_options`` go to
        ``Table.read`` (``hdu=2``, ``format="ascii.basic"``...)."""
        from astropy.table import Table

        name = path.rstrip("/").rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(prefix="explore-table-") as tmp:
            local = self.fetch(path, pathlib.Path(tmp) / name)
            if local.suffix.lower() in (".fits", ".fit", ".fz") or name.lower().endswith(".fits.gz"):
                read_options.setdefault("memmap", False)  # the file goes with the folder
            read_options.setdefault("format", _TABLE_FORMATS.get(local.suffix.lower()))
            table = Table.read(local, **read_options)
        return table

    def write_table(self, table, path: str, **write_options) -> dict:
        """Store an astropy ``Table`` (or anything ``Table`` accepts, such as a pandas DataFrame) as the
        workspace file ``path``, in the format its suffix names (``.csv``, ``.ecsv``, ``.fits``,
        ``.vot``, ``.parquet``...). Returns the new file's entry."""
        from astropy.table import Table

        if not isinstance(table, Table):
            table = Table.from_pandas(table) if hasattr(table, "to_records") else Table(table)
        name = path.rstrip("/").rsplit("/", 1)[-1]
        with tempfile.TemporaryDirectory(prefix="explore-table-") as tmp:
            local = pathlib.Path(tmp) / name
            write_options.setdefault("format", _TABLE_FORMATS.get(local.suffix.lower()))
            table.write(local, **write_options)
            return self.upload(local, path)

    def walk(self, path: str) -> Iterator[tuple[str, list[dict], list[dict]]]:
        """Like :func:`os.walk` over a workspace folder: ``(folder, subfolders, files)`` for it and every
        folder below it, each entry as :meth:`ls` gives it."""
        yield from walk(self, path)

    def download_folder(self, path: str, dest: str | os.PathLike | None = None, *,
                        progress: Progress | None = None) -> pathlib.Path:
        """Save the workspace folder ``path`` with everything inside as the local folder ``dest``
        (default: its name in the current folder); ``progress(done, total)`` counts the bytes of all
        its files. Returns the local folder."""
        root = pathlib.Path(dest) if dest is not None else pathlib.Path(path.strip("/").rsplit("/", 1)[-1])
        download_tree(self, path, root, progress=progress)
        return root

    def upload_folder(self, src: str | os.PathLike, path: str, *, progress: Progress | None = None) -> list[dict]:
        """Upload the local folder ``src`` with everything inside as the workspace folder ``path``
        (made, with its subfolders, where missing; files of the same names are replaced). Returns the
        entries of the uploaded files."""
        return upload_tree(self, src, path, progress=progress)

    def _direct(self) -> bool:
        """Whether transfers may use a socket of their own: plain HTTP and no proxy for this server."""
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            return False
        proxies = urllib.request.getproxies()
        return "http" not in proxies or bool(urllib.request.proxy_bypass(parts.hostname))

    def _stream_into(self, route: str, fh, progress: Progress | None) -> None:
        with self.http.stream("GET", route.removeprefix(API)) as r:
            if r.status_code >= 400:
                raise ApiError.from_body(r.status_code, r.read())
            total, done = int(r.headers.get("content-length", 0)), 0
            for data in r.iter_raw(CHUNK):
                fh.write(data)
                done += len(data)
                if progress:
                    progress(done, total)

    # ---- apps and runs ---------------------------------------------------------------------
    def apps(self) -> list[dict]:
        """The app catalogue: id, title, summary, version..."""
        return self.request("GET", "/apps").json()

    def app(self, app_id: str) -> dict:
        """One app's metadata and its parameters' JSON schema (``params_schema``)."""
        return self.request("GET", f"/apps/{app_id}").json()

    def submit(self, app_id: str, params: Mapping[str, Any]) -> dict:
        """Queue a batch run; returns the run (``id``, ``phase``...) without waiting."""
        return self.request("POST", "/runs", json={"app": app_id, "params": dict(params)}).json()

    def get_run(self, run_id: str) -> dict:
        return self.request("GET", f"/runs/{run_id}").json()

    def runs(self, app_id: str | None = None) -> list[dict]:
        """My runs, newest first."""
        return self.request("GET", "/runs", params={"app": app_id} if app_id else None).json()

    def stop(self, run_id: str) -> dict:
        return self.request("POST", f"/runs/{run_id}/stop").json()

    def wait(self, run_id: str, *, progress: Callable[[dict], None] | None = None, poll: float = 0.5,
             timeout: float | None = None) -> dict:
        """Wait for a run to end (COMPLETED, ERROR or ABORTED) and return it; ``progress(run)`` is called
        each time its state is read."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if progress:
                progress(run)
            if run["phase"] in ("COMPLETED", "ERROR", "ABORTED"):
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is still {run['phase']} after {timeout:.0f} s")
            time.sleep(poll)

    def run(self, app_id: str, params: Mapping[str, Any], *, progress: Callable[[dict], None] | None = None,
            timeout: float | None = None) -> dict:
        """Submit a run and wait for it; raises :class:`ApiError` if it ended in ERROR or ABORTED. The
        run's output folder is ``run["output"]``."""
        run = self.wait(self.submit(app_id, params)["id"], progress=progress, timeout=timeout)
        if run["phase"] != "COMPLETED":
            raise ApiError(500 if run["phase"] == "ERROR" else 409, run.get("error") or run["phase"], run["phase"])
        return run


# ---- folders ----------------------------------------------------------------------------------
# Written against four methods (ls, mkdir, fetch, upload) so that the CLI's own end, which works on
# the installation directly, moves folders the same way as a client of a server.

def _safe_name(name: str, folder: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ApiError(502, f"refusing the entry {name!r} of {folder}: not a plain file name")
    return name


def walk(end, path: str) -> Iterator[tuple[str, list[dict], list[dict]]]:
    """``(folder, subfolders, files)`` for the workspace folder ``path`` and every folder below it, each
    list in the order of the names."""
    path = path.strip("/")
    entries = sorted(end.ls(path), key=lambda e: e["name"])
    folders = [e for e in entries if e["is_dir"]]
    files = [e for e in entries if not e["is_dir"]]
    yield path, folders, files
    for folder in folders:
        yield from walk(end, f"{path}/{_safe_name(folder['name'], path)}")


def download_tree(end, path: str, dest: str | os.PathLike | None = None, *,
                  progress: Progress | None = None) -> list[pathlib.Path]:
    """The workspace folder ``path`` with everything inside into the local folder ``dest``; returns the
    local files written."""
    path = path.strip("/")
    root = pathlib.Path(dest) if dest is not None else pathlib.Path(path.rsplit("/", 1)[-1])
    tree = list(walk(end, path))
    total = sum(f["size"] for _, _, files in tree for f in files)
    done, saved = 0, []
    for folder, _, files in tree:
        local = root.joinpath(*[_safe_name(part, path) for part in folder[len(path):].split("/") if part])
        local.mkdir(parents=True, exist_ok=True)
        for f in files:
            before = done
            saved.append(end.fetch(f"{folder}/{_safe_name(f['name'], folder)}", local / f["name"],
                                   progress=(lambda d, _t, b=before: progress(b + d, total)) if progress else None))
            done += f["size"]
    if progress:
        progress(done, total)
    return saved


def upload_tree(end, src: str | os.PathLike, path: str, *, progress: Progress | None = None) -> list[dict]:
    """The local folder ``src`` with everything inside into the workspace folder ``path``."""
    src = pathlib.Path(src)
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a folder")
    path = path.strip("/")
    plan = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        rel = pathlib.Path(dirpath).relative_to(src).parts
        plan.append(("/".join((path, *rel)), [pathlib.Path(dirpath, n) for n in sorted(filenames)]))
    total = sum(f.stat().st_size for _, files in plan for f in files)
    done, uploaded = 0, []
    for folder, files in plan:
        end.mkdir(folder)
        for f in files:
            before = done
            uploaded.append(end.upload(f, f"{folder}/{f.name}",
                                       progress=(lambda d, _t, b=before: progress(b + d, total)) if progress else None))
            done += f.stat().st_size
    return uploaded


def _chunks(fh, size: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    while data := fh.read(CHUNK):
        done += len(data)
        if progress:
            progress(done, size)
        yield data


class _Socket:
    """One HTTP/1.1 exchange on a socket of its own, for transfers that bypass Python's buffers."""

    HEAD_LIMIT = 64 << 10

    def __init__(self, client: Client) -> None:
        parts = urlsplit(client.url)
        self.client = client
        self.host = parts.netloc
        self.sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=client.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _head_lines(self, method: str, route: str, extra: Mapping[str, str]) -> bytes:
        lines = [f"{method} {route} HTTP/1.1", f"Host: {self.host}", "User-Agent: explore-client",
                 "Accept-Encoding: identity", "Connection: close"]
        if self.client.token:
            lines.append(f"Authorization: Bearer {self.client.token}")
        lines += [f"{k}: {v}" for k, v in extra.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _read_head(self) -> tuple[int, dict[str, str]]:
        """The status and headers of the next response; what follows them stays in ``self.buffer``."""
        while b"\r\n\r\n" not in self.buffer:
            data = self.sock.recv(self.HEAD_LIMIT)
            if not data:
                raise ApiError(502, "the server closed the connection without an answer")
            self.buffer += data
            if len(self.buffer) > self.HEAD_LIMIT:
                raise ApiError(502, "the server's answer has no end of headers")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split()[1])
        except (IndexError, ValueError):
            raise ApiError(502, f"not an HTTP answer: {status_line[:80]!r}") from None
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def _read_body(self, headers: Mapping[str, str]) -> bytes:
        """A small body (an error message or a JSON answer)."""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buffer) < n:
                data = self.sock.recv(max(n - len(self.buffer), 4096))
                if not data:
                    break
                self.buffer += data
            return self.buffer[:n]
        while data := self.sock.recv(65536):  # Connection: close delimits it
            self.buffer += data
        return self.buffer

    def get_into(self, route: str, fd: int, progress: Progress | None) -> int:
        """GET ``route`` and write its body to the file descriptor ``fd``; returns the bytes written."""
        with self.sock:
            self.sock.sendall(self._head_lines("GET", route, {}))
            status, headers = self._read_head()
            if status >= 400:
                raise ApiError.from_body(status, self._read_body(headers))
            if status != 200 or "content-length" not in headers:
                raise ApiError(502, f"unexpected answer {status} to a download (no Content-Length)")
            total = int(headers["content-length"])
            done = len(self.buffer[:total])
            os.write(fd, self.buffer[:total])
            if progress:
                progress(done, total)
            mover = _splice_into if hasattr(os, "splice") else _recv_into
            try:
                done += mover(self.sock, fd, total - done, lambda n: progress and progress(done + n, total))
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOSYS) or mover is _recv_into:
                    raise
                # a filesystem that refuses splice: the portable way, from where the kernel stopped
                done = os.lseek(fd, 0, os.SEEK_CUR)
                done += _recv_into(self.sock, fd, total - done, lambda n: progress and progress(done + n, total))
            if done != total:
                raise ApiError(502, f"the connection closed after {done:,} of {total:,} bytes")
            return done

    def put_from(self, route: str, fh, size: int, progress: Progress | None) -> tuple[int, bytes]:
        """PUT the file ``fh`` (``size`` bytes) to ``route``; returns the final status and body.

        The request asks ``Expect: 100-continue``: a server that refuses at once (no right, over quota)
        says so before a byte of the file is sent.
        """
        with self.sock:
            extra = {"Content-Type": "application/octet-stream", "Content-Length": str(size),
                     "Expect": "100-continue"}
            self.sock.sendall(self._head_lines("PUT", route, extra))
            ready, _, _ = select.select([self.sock], [], [], 1.0)  # servers that ignore Expect: send anyway
            if ready:
                status, headers = self._read_head()
                if status != 100:
                    return status, self._read_body(headers)
            # read and sent 256 KiB at a time: measured on loopback, the server receives such segments
            # with less work than the page-sized pieces of a sendfile
            buffer = bytearray(SEND_CHUNK)
            view = memoryview(buffer)
            sent = 0
            try:
                while sent < size:
                    n = fh.readinto(view[:min(SEND_CHUNK, size - sent)])
                    if not n:
                        raise ApiError(400, f"{fh.name} shrank while it was being uploaded")
                    self.sock.sendall(view[:n])
                    sent += n
                    if progress:
                        progress(sent, size)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (and closed): its answer says why
            status, headers = self._read_head()
            while status == 100:
                status, headers = self._read_head()
            return status, self._read_body(headers)


def _wait_readable(sock: socket.socket) -> None:
    timeout = sock.gettimeout()
    if not select.select([sock], [], [], timeout)[0]:
        raise TimeoutError(f"the server sent nothing for {timeout:.0f} s")


def _splice_into(sock: socket.socket, fd: int, count: int, moved: Callable[[int], None]) -> int:
    """Move ``count`` bytes from the socket into the file at its position through a pipe, in the kernel."""
    read_end, write_end = os.pipe()
    try:
        step = 64 << 10  # a pipe's default size
        try:
            import fcntl

            step = fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except (ImportError, AttributeError, OSError):  # above this user's /proc/sys/fs/pipe-max-size
            pass
        done = 0
        while done < count:
            try:
                n = os.splice(sock.fileno(), write_end, min(count - done, step))
            except BlockingIOError:
                _wait_readable(sock)
                continue
            if n == 0:
                break
            left = n
            while left:
                left -= os.splice(read_end, fd, left)
            done += n
            moved(done)
        return done
    finally:
        os.close(read_end)
        os.close(write_end)


def _recv_into(sock: socket.socket, fd: int, count: int, moved: Callable[[int], None]) -> int:
    """Read ``count`` bytes from the socket into the file at its position, in large reads."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    done = 0
    while done < count:
        n = sock.recv_into(view, min(CHUNK, count - done))
        if n == 0:
            break
        written = 0
        while written < n:
            written += os.write(fd, view[written:n])
        done += n
        moved(done)
    return done
