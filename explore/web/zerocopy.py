"""Zero-copy file downloads: the ASGI *zero-copy send* extension, served by uvicorn with ``os.sendfile``.

A large download streamed through the ASGI body messages costs the server two copies of every byte (disk
cache to a Python buffer, buffer to the socket) and a trip through the event loop per chunk. With
``sendfile`` the kernel hands the cached pages of the file to the socket itself; the server's part of a
1 GiB download drops from about 0.6 CPU-seconds to a few hundredths.

Uvicorn does not offer the extension, so :class:`ZeroCopyHttpToolsProtocol` (uvicorn's httptools protocol,
its default with ``uvicorn[standard]``) adds it: every HTTP scope announces
``scope["extensions"]["http.response.zerocopysend"]``, and the request's ``send`` accepts, after
``http.response.start``, the message of the ASGI specification::

    {"type": "http.response.zerocopysend", "file": <file object>, "offset": 0, "count": n, "more_body": False}

Only responses with a ``Content-Length`` take it (the bytes go to the socket as they are, with no
chunked framing). :class:`FileRangeResponse` sends a range of an open file that way when the server
offers the extension, and streams it in body messages otherwise (another server, the test client, TLS).

The bytes are sent from a worker thread, one ``sendfile`` call at a time on the non-blocking socket (a
call may read the file from disk): the event loop only waits for the socket to be writable again, so a
slow client holds no thread. A client that reads nothing for :data:`IDLE_TIMEOUT` seconds is dropped.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import BinaryIO

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

EXTENSION = "http.response.zerocopysend"
#: bytes handed to one ``sendfile`` call: a loopback socket takes a few MiB before it is full
SENDFILE_CHUNK = 8 << 20
#: seconds a download may wait for its client to read anything before the connection is closed
IDLE_TIMEOUT = 300.0
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF)


class ClientGone(Exception):
    """The client closed the connection, or read nothing for too long."""


async def _writable(loop: asyncio.AbstractEventLoop, fd: int, timeout: float) -> None:
    """Wait until the socket ``fd`` can take more bytes (or has failed, which the next send reports)."""
    ready = loop.create_future()
    loop.add_writer(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        raise ClientGone(f"the client read nothing for {timeout:.0f} s") from None
    finally:
        loop.remove_writer(fd)


def _sendfile_once(out_fd: int, in_fd: int, offset: int, count: int) -> int | None:
    """One ``sendfile`` call: bytes sent, or None when the socket is full."""
    try:
        return os.sendfile(out_fd, in_fd, offset, count)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        if exc.errno in _GONE:
            raise ClientGone(str(exc)) from None
        raise


async def sendfile(transport: asyncio.Transport, in_fd: int, offset: int, count: int, *,
                   stop: Callable[[], bool] = lambda: False, idle_timeout: float = IDLE_TIMEOUT) -> int:
    """Send ``count`` bytes of the file ``in_fd`` from ``offset`` on the socket of ``transport``.

    Returns the bytes sent: fewer than ``count`` only when the file ended first. Raises
    :class:`ClientGone` when the client closed the connection or stopped reading, or when ``stop()``
    became true (the connection was lost).
    """
    loop = asyncio.get_running_loop()
    sock = transport.get_extra_info("socket")
    if sock is None:
        raise RuntimeError("the transport has no socket to send a file on")
    # whatever the transport still holds (the response's head) must reach the socket first
    waited = 0.0
    while transport.get_write_buffer_size():
        if stop() or transport.is_closing() or waited > idle_timeout:
            raise ClientGone("the connection closed before the file was sent")
        await asyncio.sleep(0.001)
        waited += 0.001
    # our own descriptor of the socket: the event loop refuses to watch the transport's own descriptor
    # for us, and ours stays valid even if the transport closes in the meantime
    out_fd = os.dup(sock.fileno())
    sent = 0
    try:
        while sent < count:
            if stop() or transport.is_closing():
                raise ClientGone("the connection was closed")
            n = await run_in_threadpool(_sendfile_once, out_fd, in_fd, offset + sent,
                                        min(SENDFILE_CHUNK, count - sent))
            if n is None:
                await _writable(loop, out_fd, idle_timeout)
            elif n == 0:
                break  # the file is shorter than it was
            else:
                sent += n
    finally:
        os.close(out_fd)
    return sent


class _ZeroCopySend:
    """The ``send`` of one uvicorn request cycle, taught the zero-copy message (others pass through)."""

    def __init__(self, cycle) -> None:
        self.cycle = cycle
        self.send = cycle.send  # uvicorn's own, bound before this replaces it on the instance

    async def __call__(self, message: Mapping) -> None:
        if message["type"] != EXTENSION:
            return await self.send(message)
        cycle = self.cycle
        if cycle.disconnected:
            return
        if not cycle.response_started or cycle.response_complete:
            raise RuntimeError(f"{EXTENSION} must come after http.response.start and before the last body")
        if cycle.chunked_encoding:
            raise RuntimeError(f"{EXTENSION} needs a response with a Content-Length")
        more_body = message.get("more_body", False)
        if cycle.scope["method"] != "HEAD":
            file = message["file"]
            offset = message.get("offset")
            if offset is None:
                offset = file.tell()
            count = message.get("count")
            if count is None:
                count = os.fstat(file.fileno()).st_size - offset
            if count > cycle.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            try:
                sent = await sendfile(cycle.transport, file.fileno(), offset, count,
                                      stop=lambda: cycle.disconnected)
            except ClientGone:
                cycle.disconnected = True
                cycle.transport.close()
                return
            cycle.expected_content_length -= sent
            if sent < count:  # the file shrank under us: the promised length cannot be kept
                cycle.transport.close()
                raise RuntimeError(f"the file ended {count - sent} bytes before the promised length")
        await self.send({"type": "http.response.body", "body": b"", "more_body": more_body})


class ZeroCopyHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol with the ASGI zero-copy send extension (``os.sendfile``).

    Use it as ``uvicorn.Config(app, http=ZeroCopyHttpToolsProtocol)``. Plain HTTP only: on a TLS
    connection the bytes must go through the TLS layer, so the extension is not offered there.
    """

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.scheme == "http":
            self.scope["extensions"] = {**self.scope.get("extensions", {}), EXTENSION: {}}

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # a new cycle was made for this request (not for a websocket upgrade) and its task has not
        # started yet: it will call the send given here
        if cycle is not None and cycle.scope is self.scope and EXTENSION in self.scope.get("extensions", {}):
            cycle.send = _ZeroCopySend(cycle)


class FileRangeResponse(Response):
    """``count`` bytes of an open file from ``offset``: by ``sendfile`` where the server offers zero-copy
    send, otherwise read in ``chunk``-sized pieces in a worker thread, each read while the previous one is
    being sent. The file is closed when the response is over, however it ends.
    """

    def __init__(self, file: BinaryIO, offset: int, count: int, *, status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None,
                 chunk: int = 1 << 20, background: BackgroundTask | None = None) -> None:
        self.file, self.offset, self.count, self.chunk = file, offset, count, chunk
        self.status_code = status_code
        self.media_type = media_type
        self.background = background
        self.init_headers({**(headers or {}), "content-length": str(count)})

    async def __call__(self, scope, receive, send) -> None:
        try:
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            elif EXTENSION in scope.get("extensions", {}):
                await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
                await send({"type": EXTENSION, "file": self.file, "offset": self.offset, "count": self.count,
                            "more_body": False})
            else:
                # Starlette's streaming stops reading when the client leaves
                stream = StreamingResponse(_read_ahead(self.file.fileno(), self.offset, self.count, self.chunk),
                                           status_code=self.status_code)
                stream.raw_headers = self.raw_headers
                await stream(scope, receive, send)
        finally:
            # a read still under way in a thread when the client left reads from the descriptor by its
            # own offset (pread) and its bytes are dropped: closing now harms nothing
            self.file.close()
        if self.background is not None:
            await self.background()


async def _read_ahead(fd: int, offset: int, count: int, chunk: int) -> AsyncIterator[bytes]:
    """The bytes ``offset .. offset + count`` of the file ``fd``, each chunk read in a worker thread while
    the previous one is being sent. Raises when the file ends early (the promised length cannot be kept)."""
    end = offset + count

    def read(at: int) -> bytes:
        return os.pread(fd, min(chunk, end - at), at)

    at = offset
    reading = asyncio.ensure_future(run_in_threadpool(read, at)) if count else None
    try:
        while reading is not None:
            data = await reading
            if not data:
                raise RuntimeError(f"the file ended {end - at} bytes before the promised length")
            at += len(data)
            reading = asyncio.ensure_future(run_in_threadpool(read, at)) if at < end else None
            yield data
    finally:
        if reading is not None and not reading.done():  # the client left: nobody wants that read's result
            reading.add_done_callback(lambda f: f.cancelled() or f.exception())
