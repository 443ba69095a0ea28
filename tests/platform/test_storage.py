"""The atomic writer of the local storage: batches of chunks in one system call, short writes resumed,
nothing in place until the commit."""

from __future__ import annotations

import os
import random

import pytest

from explore.platform import storage as storage_module
from explore.platform.errors import Conflict, TooLarge
from explore.platform.storage import Storage


@pytest.fixture
def store(tmp_path):
    s = Storage(str(tmp_path / "root"))
    s.makedirs("alice")
    return s


def read(store: Storage, path: str) -> bytes:
    return b"".join(store.iter_bytes(path))


def test_batches_of_chunks_land_in_order(store):
    rng = random.Random(5)
    chunks = [rng.randbytes(rng.randrange(0, 70_000)) for _ in range(300)]
    with store.writer("alice/a.bin") as w:
        for i in range(0, len(chunks), 37):
            w.write_many(chunks[i:i + 37])
        w.write(b"tail")
    assert read(store, "alice/a.bin") == b"".join(chunks) + b"tail"
    assert w.size == sum(map(len, chunks)) + 4


def test_more_chunks_than_one_system_call_takes(store):
    chunks = [bytes([i % 251]) * 3 for i in range(5000)]  # IOV_MAX is 1024 on Linux
    with store.writer("alice/many.bin") as w:
        w.write_many(chunks)
    assert read(store, "alice/many.bin") == b"".join(chunks)


def test_short_writes_are_resumed_where_they_stopped(store, monkeypatch):
    real_writev = os.writev
    calls = []

    def short_writev(fd, buffers):
        # a kernel may accept fewer bytes than asked: here at most 1000 per call, cut inside a buffer
        calls.append(len(buffers))
        taken, budget = [], 1000
        for b in buffers:
            b = memoryview(b)[:budget]
            taken.append(b)
            budget -= len(b)
            if not budget:
                break
        return real_writev(fd, taken)

    monkeypatch.setattr(os, "writev", short_writev)
    data = random.Random(9).randbytes(25_000)
    with store.writer("alice/short.bin") as w:
        w.write_many([data[:7], data[7:12_345], data[12_345:]])
    monkeypatch.undo()
    assert read(store, "alice/short.bin") == data
    assert len(calls) == 25


def test_a_writer_refuses_bytes_once_finished(store):
    w = store.writer("alice/a.bin")
    w.write(b"one")
    w.commit()
    with pytest.raises(Conflict):
        w.write(b"two")
    w = store.writer("alice/b.bin")
    w.abort()
    with pytest.raises(Conflict):
        w.write_many([b"x"])
    assert read(store, "alice/a.bin") == b"one" and not store.exists("alice/b.bin")


def test_a_batch_over_the_limit_writes_none_of_its_bytes(store):
    with store.writer("alice/a.bin") as w:
        w.write(b"old")
    w = store.writer("alice/a.bin", limit=10)
    w.write_many([b"12345", b"678"])
    with pytest.raises(TooLarge):
        w.write_many([b"9", b"10"])
    assert read(store, "alice/a.bin") == b"old"
    assert os.listdir(store.local_path(f"alice/{storage_module.TMP_DIR}")) == []


def test_writeback_of_a_large_upload_starts_while_it_is_written(store, monkeypatch):
    assert storage_module._start_writeback is not None or not os.uname().sysname == "Linux"
    if storage_module._start_writeback is not None:  # the real call: harmless on any file
        fd = os.open(store.full("alice"), os.O_RDONLY)
        try:
            storage_module._start_writeback(fd, 0, 0)
        finally:
            os.close(fd)
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(storage_module, "_start_writeback", lambda fd, offset, n: started.append((offset, n)))
    monkeypatch.setattr(storage_module, "WRITEBACK_EVERY", 100_000)
    chunk = os.urandom(30_000)
    with store.writer("alice/big.bin") as w:
        for _ in range(20):  # 600,000 bytes
            w.write(chunk)
    assert read(store, "alice/big.bin") == chunk * 20
    # ranges asked for in order, each starting where the last ended, every 100,000 bytes or more
    assert started[0][0] == 0 and all(a + n == b for (a, n), (b, _) in zip(started, started[1:], strict=False))
    assert all(n >= 100_000 for _, n in started) and sum(n for _, n in started) == 600_000


def test_bytes_written_straight_to_the_descriptor_are_counted_and_limited(store, monkeypatch):
    """What the server's splice puts into the file is reported with appended(): counted, checked against
    the limit (over it the upload is abandoned and nothing is left), its writeback started."""
    started = []
    monkeypatch.setattr(storage_module, "_start_writeback", lambda fd, offset, n: started.append((offset, n)))
    monkeypatch.setattr(storage_module, "WRITEBACK_EVERY", 1000)
    w = store.writer("alice/s.bin", limit=5000)
    w.write(b"head")
    os.write(w.fileno(), b"x" * 1500)
    w.appended(1500)
    assert w.size == 1504 and started == [(0, 1504)]
    os.write(w.fileno(), b"y" * 3000)
    w.appended(3000)
    w.commit()
    assert read(store, "alice/s.bin") == b"head" + b"x" * 1500 + b"y" * 3000
    w = store.writer("alice/t.bin", limit=1000)
    os.write(w.fileno(), b"z" * 1200)
    with pytest.raises(TooLarge):
        w.appended(1200)
    assert not store.exists("alice/t.bin") and os.listdir(store.full("alice/.explore-tmp")) == []
    with pytest.raises(Conflict):
        w.appended(1)
