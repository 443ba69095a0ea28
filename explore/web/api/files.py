"""The workspace over HTTP: listing, streamed upload and ranged download, folders, move, delete,
permissions. Paths start with the owner's user name: ``/api/v1/files/alice/results/a.csv``."""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import BadRequest, Conflict
from explore.platform.storage import AtomicWriter
from explore.platform.workspace import Checked
from explore.web import zerocopy
from explore.web.api.schemas import FileEntry, Listing, MoveIn, PermissionsIn
from explore.web.deps import current_user, get_platform, optional_user
from explore.web.zerocopy import RECEIVE_EXTENSION, ClientGone, FileRangeResponse

router = APIRouter(tags=["files"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
BATCH = 4 << 20  # bytes of an upload handed to one disk write
DOWNLOAD_CHUNK = 1 << 20  # bytes of a download read at a time
SMALL = 256 << 10  # a download up to this size is read at once and sent in one piece


def _listing(platform: Platform, folder: Checked) -> Listing:
    entries = platform.workspace.entries(folder)
    return Listing(path=folder.path, entries=[FileEntry(**e.__dict__) for e in entries], rights=sorted(folder.rights))


@router.get("/files", response_model=Listing, summary="List my home folder(s)")
def list_root(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)) -> Listing:
    return _listing(platform, platform.workspace.check(user, ""))


@router.get("/files/{path:path}", summary="A file's bytes (HTTP Range supported), or a folder's JSON listing",
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "partial content"}})
def get_file(path: str, request: Request, meta: bool = False, download: bool = False,
             user: Principal | None = Depends(optional_user), platform: Platform = Depends(get_platform)):
    ws = platform.workspace
    checked = ws.check(user, path)  # the one permission check of this request
    info = checked.info
    if info.is_dir:
        # serialised here, in the worker thread, rather than by FastAPI's generic encoder
        return Response(_listing(platform, checked).model_dump_json(), media_type="application/json")
    if meta:
        return {**FileEntry(**info.__dict__).model_dump(), "is_dir": False, "rights": sorted(checked.rights)}
    size = info.size
    media = mimetypes.guess_type(info.name)[0] or "application/octet-stream"
    disposition = "attachment" if download else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(info.name)}",
        "Last-Modified": _http_date(info.modified),
    }
    start, end, status = 0, size - 1, 200
    header = request.headers.get("range")
    if header:
        m = _RANGE.match(header.strip())
        if not m or (not m.group(1) and not m.group(2)):
            return _unsatisfiable(header, size)
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:  # suffix range: the last N bytes
            start, end = max(0, size - int(m.group(2))), size - 1
        if start >= size or start > end:
            return _unsatisfiable(header, size)
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    length = end - start + 1 if size else 0
    if length <= SMALL:
        # read here (this handler already runs in a worker thread) and sent in one piece
        data = b"".join(ws.read_range(checked, start, end)) if length else b""
        if len(data) != length:
            raise Conflict(f"{info.path} changed while it was being read; try again")
        return Response(data, status_code=status, media_type=media, headers=headers)
    local = ws.open_local(checked)
    if local is not None:
        if os.fstat(local.fileno()).st_size != size:  # replaced since the check: the range is stale
            local.close()
            raise Conflict(f"{info.path} changed while it was being read; try again")
        # sendfile where the server offers it (explore serve), else read ahead in worker threads
        return FileRangeResponse(local, start, length, status_code=status, media_type=media, headers=headers,
                                 chunk=DOWNLOAD_CHUNK)
    headers["Content-Length"] = str(length)
    body = _read_ahead(ws.read_range(checked, start, end, chunk=DOWNLOAD_CHUNK))
    return StreamingResponse(body, status_code=status, media_type=media, headers=headers)


async def _read_ahead(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """The chunks of a blocking iterator (a file being read), each read in a worker thread while the one
    before is being sent.

    When the client leaves, the read under way may still be running in its thread (cancelling the await
    does not stop it), and a generator cannot be closed while it runs: the file is closed in a thread of
    its own once that read is over, never left for the garbage collector.
    """
    lock = threading.Lock()

    def read() -> bytes | None:
        with lock:
            return next(chunks, None)

    def close() -> None:
        with lock:
            chunks.close()

    try:
        reading = asyncio.ensure_future(run_in_threadpool(read))
        while (data := await reading) is not None:
            reading = asyncio.ensure_future(run_in_threadpool(read))
            yield data
    finally:
        threading.Thread(target=close, name="explore-close-download", daemon=True).start()


def _unsatisfiable(header: str, size: int) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": "RangeNotSatisfiable", "message": f"the range {header!r} is not within the "
                         f"file's {size:,} bytes (only single ranges 'bytes=a-b', 'a-' or '-n' are served)"},
                        status_code=416, headers={"Content-Range": f"bytes */{size}"})


def _http_date(ts: float) -> str:
    from email.utils import formatdate

    return formatdate(ts, usegmt=True)


@router.put("/files/{path:path}", status_code=201, response_model=FileEntry,
            summary="Upload a file (the request body is the file; streamed, written atomically)")
async def put_file(path: str, request: Request, user: Principal = Depends(current_user),
                   platform: Platform = Depends(get_platform)) -> FileEntry:
    length = request.headers.get("content-length")
    expected = int(length) if length and length.isdigit() else None
    # the quota and the upload limit are checked here against Content-Length, and then against the
    # running total of each batch by the writer
    writer = await run_in_threadpool(platform.workspace.writer, user, path, expected_size=expected)
    receive_into = request.scope.get("extensions", {}).get(RECEIVE_EXTENSION)
    try:
        if receive_into is not None and writer.fileno() is not None:
            # explore serve on a local disk: the kernel moves the body from the socket into the file
            try:
                await receive_into["receive_into"](writer.fileno(), writer.appended)
            except ClientGone as gone:
                raise BadRequest(f"{gone}: the upload was abandoned and nothing was changed") from None
        else:
            await _receive_into(request.receive, writer)
        if expected is not None and writer.size != expected:
            raise BadRequest(f"the upload was cut short: {writer.size:,} of {expected:,} bytes arrived; nothing was changed")
        await run_in_threadpool(writer.commit)
    except BaseException:
        writer.abort()
        raise
    info = await run_in_threadpool(platform.workspace.stat, user, path)
    return FileEntry(**info.__dict__)


async def _receive_into(receive, writer: AtomicWriter) -> None:
    """Copy the request body into ``writer``, reading the ASGI messages directly.

    The disk writes run in the thread pool, a batch of chunks at a time (one ``writev`` per batch),
    so that an upload never stalls the other requests; while one batch is written the next one is
    received, and at most two batches are held in memory.
    """
    writing: asyncio.Future | None = None
    batch: list[bytes] = []
    batched = 0
    try:
        while True:
            try:
                message = await asyncio.wait_for(receive(), zerocopy.IDLE_TIMEOUT)
            except TimeoutError:
                raise BadRequest(f"the client sent nothing for {zerocopy.IDLE_TIMEOUT:.0f} s; the upload was "
                                 "abandoned and nothing was changed") from None
            if message["type"] == "http.disconnect":
                raise BadRequest("the client went away during the upload; nothing was changed")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if body:
                batch.append(body)
                batched += len(body)
            if batched >= BATCH or (batch and not more):
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(run_in_threadpool(writer.write_many, batch))
                batch, batched = [], 0
            if not more:
                break
        if writing is not None:
            await writing
            writing = None
    finally:
        if writing is not None and not writing.done():
            # a thread cannot be interrupted: let the write finish before the caller abandons the file
            await asyncio.wait([writing])
        if writing is not None and writing.done() and not writing.cancelled():
            writing.exception()  # retrieved: the first error is the one that propagates


@router.post("/folders/{path:path}", status_code=201, response_model=FileEntry, summary="Create a folder")
def make_folder(path: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return FileEntry(**platform.workspace.mkdir(user, path).__dict__)


@router.patch("/files/{path:path}", response_model=FileEntry, summary="Rename or move a file or folder")
def move(path: str, body: MoveIn, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return FileEntry(**platform.workspace.move(user, path, body.to).__dict__)


@router.delete("/files/{path:path}", status_code=204, summary="Delete a file or folder (with what is inside)")
def delete(path: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    platform.workspace.delete(user, path)
    return Response(status_code=204)


@router.get("/permissions/{path:path}", summary="Who may read or write a file or folder")
def get_permissions(path: str, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.workspace.get_permissions(user, path)


@router.put("/permissions/{path:path}", summary="Set who may read or write a file or folder (owner only)")
def put_permissions(path: str, body: PermissionsIn, user: Principal = Depends(current_user),
                    platform: Platform = Depends(get_platform)):
    return platform.workspace.set_permissions(user, path, public=body.public, users=dict(body.users),
                                              groups=dict(body.groups))


@router.get("/shared", summary="Files and folders others have shared with me")
def shared(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.workspace.shared_with(user)
