"""Zero-copy file transfers: the kernel moves the bytes of large downloads and uploads between the socket
and the file, without copying them through Python.

A large download streamed through the ASGI body messages costs the server two copies of every byte (disk
cache to a Python buffer, buffer to the socket) and a trip through the event loop per chunk; an upload
costs three (socket to uvicorn's buffer, to the message, to the disk) and a message per 64 KiB. With
``sendfile`` (downloads) and ``splice`` through a pipe (uploads) the server's part of moving 1 GiB drops
from 0.6 s (download) and about 1 s (upload) of CPU to a few tenths.

Uvicorn offers neither, so :class:`ZeroCopyHttpToolsProtocol` (uvicorn's httptools protocol, its default
with ``uvicorn[standard]``) adds them to plain-HTTP connections:

- every HTTP scope announces ``scope["extensions"]["http.response.zerocopysend"]``, and the request's
  ``send`` accepts, after ``http.response.start``, the message of the ASGI specification::

      {"type": "http.response.zerocopysend", "file": <file object>, "offset": 0, "count": n, "more_body": False}

  Only responses with a ``Content-Length`` take it (the bytes go to the socket as they are).
  :class:`FileRangeResponse` sends a range of an open file that way when the server offers the
  extension, and streams it in body messages otherwise (another server, the test client, TLS);
- a request with a ``Content-Length`` announces ``scope["extensions"]["explore.receive_into"]``, whose
  ``receive_into(fd, appended)`` moves the whole body into the file descriptor ``fd`` instead of
  :func:`receive` (this project's own extension: the parser never sees the rest of the body, so the
  connection closes after the response).

The system calls run in worker threads, a burst at a time on the non-blocking socket (they may wait for
the disk): the event loop only waits for the socket to be ready again, so a slow client holds no thread.
A client that moves nothing for :data:`IDLE_TIMEOUT` seconds is dropped.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
from collections.abc import AsyncIterator, Callable, Mapping
from typing import BinaryIO

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

EXTENSION = "http.response.zerocopysend"
RECEIVE_EXTENSION = "explore.receive_into"
#: bytes one worker-thread call moves from the socket into the file before the event loop looks again
SPLICE_BURST = 16 << 20
#: seconds a burst waits in its thread for more bytes before handing the wait to the event loop
BURST_PATIENCE = 0.02
PIPE_SIZE = 1 << 20
#: bytes handed to one ``sendfile`` call: a loopback socket takes a few MiB before it is full
SENDFILE_CHUNK = 8 << 20
#: seconds a transfer may wait for its client to read or send anything before it is given up
IDLE_TIMEOUT = 300.0
_GONE = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF)


class ClientGone(Exception):
    """The client closed the connection, or read nothing for too long."""


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, timeout: float, *, write: bool) -> None:
    """Wait until the socket ``fd`` can take more bytes (``write``) or has some to read (or has failed,
    which the next system call reports)."""
    ready = loop.create_future()
    add, remove = (loop.add_writer, loop.remove_writer) if write else (loop.add_reader, loop.remove_reader)
    add(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        raise ClientGone(f"the client {'read' if write else 'sent'} nothing for {timeout:.0f} s") from None
    finally:
        remove(fd)


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
                   stop: Callable[[], bool] = lambda: False, idle_timeout: float | None = None) -> int:
    """Send ``count`` bytes of the file ``in_fd`` from ``offset`` on the socket of ``transport``.

    Returns the bytes sent: fewer than ``count`` only when the file ended first. Raises
    :class:`ClientGone` when the client closed the connection or stopped reading, or when ``stop()``
    became true (the connection was lost).
    """
    loop = asyncio.get_running_loop()
    idle_timeout = IDLE_TIMEOUT if idle_timeout is None else idle_timeout
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
                await _ready(loop, out_fd, idle_timeout, write=True)
            elif n == 0:
                break  # the file is shorter than it was
            else:
                sent += n
    finally:
        os.close(out_fd)
    return sent


def _splice_burst(sock_fd: int, pipe_in: int, pipe_out: int, fd: int, limit: int) -> tuple[int, bool]:
    """Move up to ``limit`` bytes from the socket into the file ``fd`` through the pipe: the bytes moved,
    and whether the client closed the connection. When the socket runs dry it waits up to
    :data:`BURST_PATIENCE` seconds for more (a sender a little slower than the disk would otherwise cost a
    trip through the event loop every few hundred kB), then stops early."""
    moved = 0
    poller = select.poll()
    poller.register(sock_fd, select.POLLIN)
    while moved < limit:
        try:
            n = os.splice(sock_fd, pipe_in, min(limit - moved, PIPE_SIZE))
        except (BlockingIOError, InterruptedError):
            if poller.poll(BURST_PATIENCE * 1000):
                continue
            return moved, False
        except OSError as exc:
            if exc.errno in _GONE:
                return moved, True
            raise
        if n == 0:
            return moved, True
        left = n
        while left:
            left -= os.splice(pipe_out, fd, left)
        moved += n
    return moved, False


async def splice_into(transport: asyncio.Transport, fd: int, count: int, appended: Callable[[int], None], *,
                      idle_timeout: float | None = None) -> int:
    """Move ``count`` bytes from the socket of ``transport`` (whose reading is paused) into the file
    ``fd`` at its position; ``appended(n)`` is called, in a worker thread, after each burst of ``n``
    bytes (it may raise to stop). Raises :class:`ClientGone` if the client closes or stops sending first.
    """
    loop = asyncio.get_running_loop()
    idle_timeout = IDLE_TIMEOUT if idle_timeout is None else idle_timeout
    sock = transport.get_extra_info("socket")
    sock_fd = os.dup(sock.fileno())  # ours to watch, and valid even if the transport closes meanwhile
    pipe_out, pipe_in = os.pipe()
    moved = 0
    try:
        try:
            import fcntl

            fcntl.fcntl(pipe_in, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except (ImportError, AttributeError, OSError):
            pass  # the pipe's default size only means more system calls

        def burst() -> tuple[int, bool]:
            n, closed = _splice_burst(sock_fd, pipe_in, pipe_out, fd, min(count - moved, SPLICE_BURST))
            if n:
                appended(n)
            return n, closed

        while moved < count:
            n, closed = await run_in_threadpool(burst)
            moved += n
            if closed and moved < count:
                raise ClientGone(f"the client closed the connection after {moved:,} of {count:,} bytes")
            if not n:
                await _ready(loop, sock_fd, idle_timeout, write=False)
    finally:
        for end in (sock_fd, pipe_in, pipe_out):
            os.close(end)
    return moved


class _Intake:
    """What the parser has seen of one request's body (``Content-Length`` bytes in all)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.seen = 0


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
    """Uvicorn's httptools protocol with the ASGI zero-copy send extension (``os.sendfile``) and, on
    Linux, ``explore.receive_into`` for request bodies with a ``Content-Length`` (``splice``).

    Use it as ``uvicorn.Config(app, http=ZeroCopyHttpToolsProtocol)`` (what
    :func:`explore.web.app.server_config` does). Plain HTTP only: on a TLS connection the bytes must go
    through the TLS layer, so neither extension is offered there.
    """

    _intake: _Intake | None = None

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._intake = None
        if self.scheme == "http":
            self.scope["extensions"] = {**self.scope.get("extensions", {}), EXTENSION: {}}

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # a new cycle was made for this request (not for a websocket upgrade) and its task has not
        # started yet: it will call the send given here
        if cycle is None or cycle.scope is not self.scope or EXTENSION not in self.scope.get("extensions", {}):
            return
        cycle.send = _ZeroCopySend(cycle)
        lengths = [v for k, v in self.scope["headers"] if k == b"content-length"]
        chunked = any(k == b"transfer-encoding" for k, _ in self.scope["headers"])
        if len(lengths) == 1 and lengths[0].isdigit() and not chunked and hasattr(os, "splice"):  # Linux
            self._intake = intake = _Intake(int(lengths[0]))

            async def receive_into(fd: int, appended: Callable[[int], None]) -> int:
                return await self._receive_into(cycle, intake, fd, appended)

            self.scope["extensions"][RECEIVE_EXTENSION] = {"receive_into": receive_into}

    def on_body(self, body: bytes) -> None:
        if self._intake is not None:
            self._intake.seen += len(body)
        super().on_body(body)

    async def _receive_into(self, cycle, intake: _Intake, fd: int, appended: Callable[[int], None]) -> int:
        """The rest of the request's body into the file ``fd``: what the parser already holds, then the
        socket spliced into the file. Returns the bytes moved."""
        if cycle.disconnected:
            raise ClientGone("the client went away")
        if cycle.waiting_for_100_continue and not self.transport.is_closing():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        remaining = 0
        if cycle.more_body:
            # from here on the socket is read by us alone; the parser never sees the rest of this body,
            # so this connection serves no further request
            self.flow.pause_reading()
            cycle.keep_alive = False
            remaining = intake.length - intake.seen
        held = bytes(cycle.body)
        cycle.body.clear()

        def write_held() -> None:
            view = memoryview(held)
            while view:
                view = view[os.write(fd, view):]
            appended(len(held))

        if held:
            await run_in_threadpool(write_held)
        moved = len(held)
        if remaining:
            moved += await splice_into(self.transport, fd, remaining, appended)
        cycle.more_body = False
        return moved


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
                stream = StreamingResponse(_pread_ahead(self.file.fileno(), self.offset, self.count, self.chunk),
                                           status_code=self.status_code)
                stream.raw_headers = self.raw_headers
                await stream(scope, receive, send)
        finally:
            # a read still under way in a thread when the client left reads from the descriptor by its
            # own offset (pread) and its bytes are dropped: closing now harms nothing
            self.file.close()
        if self.background is not None:
            await self.background()


async def _pread_ahead(fd: int, offset: int, count: int, chunk: int) -> AsyncIterator[bytes]:
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
