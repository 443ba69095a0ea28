"""A real uvicorn server in a thread on a free loopback port, for tests that need real HTTP (bodies in
network-sized pieces, sockets that close, ``sendfile``)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app, *, zero_copy: bool = True, port: int | None = None, timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its URL. ``zero_copy`` serves it as ``explore serve``
    does (downloads by ``sendfile``); otherwise with uvicorn's own protocol (downloads streamed)."""
    import uvicorn

    from explore.web.app import server_config

    port = port or free_port()
    make_config = server_config if zero_copy else uvicorn.Config
    server = uvicorn.Server(make_config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
