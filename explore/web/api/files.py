"""The workspace over HTTP: listing, streamed upload and ranged download, folders, move, delete,
permissions. Paths start with the owner's user name: ``/api/v1/files/alice/results/a.csv``."""

from __future__ import annotations

import mimetypes
import re
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import BadRequest
from explore.web.api.schemas import FileEntry, Listing, MoveIn, PermissionsIn
from explore.web.deps import current_user, get_platform, optional_user

router = APIRouter(tags=["files"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
BATCH = 1 << 20


def _listing(platform: Platform, user: Principal | None, path: str) -> Listing:
    entries = platform.workspace.listdir(user, path)
    rights = sorted(platform.workspace.rights(user, path.strip("/"))) if path.strip("/") else ["read"]
    return Listing(path=path.strip("/"), entries=[FileEntry(**e.__dict__) for e in entries], rights=rights)


@router.get("/files", response_model=Listing, summary="List my home folder(s)")
def list_root(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)) -> Listing:
    return _listing(platform, user, "")


@router.get("/files/{path:path}", summary="A file's bytes (HTTP Range supported), or a folder's JSON listing",
            responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "partial content"}})
def get_file(path: str, request: Request, meta: bool = False, download: bool = False,
             user: Principal | None = Depends(optional_user), platform: Platform = Depends(get_platform)):
    ws = platform.workspace
    info = ws.stat(user, path)
    if info.is_dir:
        return _listing(platform, user, path)
    if meta:
        return {**FileEntry(**info.__dict__).model_dump(), "is_dir": False,
                "rights": sorted(ws.rights(user, info.path))}
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
    headers["Content-Length"] = str(end - start + 1 if size else 0)
    body = ws.iter_bytes(user, info.path, start, end) if size else iter([b""])
    return StreamingResponse(body, status_code=status, media_type=media, headers=headers)


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
    writer = await run_in_threadpool(platform.workspace.writer, user, path, expected_size=expected)
    try:
        # the disk writes, hashing and fsync run in the thread pool, in batches, so that an upload
        # never stalls the other requests
        batch: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            if chunk:
                batch.append(chunk)
                size += len(chunk)
                if size >= BATCH:
                    await run_in_threadpool(writer.write, b"".join(batch))
                    batch, size = [], 0
        if batch:
            await run_in_threadpool(writer.write, b"".join(batch))
        if expected is not None and writer.size != expected:
            raise BadRequest(f"the upload was cut short: {writer.size:,} of {expected:,} bytes arrived; nothing was changed")
        await run_in_threadpool(writer.commit)
    except ClientDisconnect:
        writer.abort()
        raise BadRequest("the client went away during the upload; nothing was changed") from None
    except BaseException:
        writer.abort()
        raise
    info = await run_in_threadpool(platform.workspace.stat, user, path)
    return FileEntry(**info.__dict__)


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
