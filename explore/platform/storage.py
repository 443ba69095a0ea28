"""The workspace's bytes, on any fsspec filesystem (a local folder by default, S3 at scale).

This module knows nothing of users or rights: :mod:`explore.platform.workspace` checks those first and
hands it normalised paths. What it guarantees is confinement (no path leaves the root, no symlink is
followed out of it) and atomic writes (a temporary file in the same filesystem, then a rename), so an
interrupted upload leaves the previous version intact and no partial file behind.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pathlib
import posixpath
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import IO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from explore.platform.errors import BadRequest, Conflict, NotFound, StorageFull, TooLarge
from explore.platform.paths import is_within
from explore.sdk import WorkspaceFile

TMP_DIR = ".explore-tmp"
CHUNK = 1024 * 1024
_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16


def _full_errno(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _libc_sync_file_range() -> Callable[[int, int, int], None] | None:
    """Linux's ``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)``: start writing a range of a file
    to disk without waiting for it (Python's ``os`` has no binding); None elsewhere."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        call = libc.sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]

    def start_writeback(fd: int, offset: int, n: int) -> None:
        call(fd, offset, n, 2)  # SYNC_FILE_RANGE_WRITE; a failure only means the final fsync does it all

    return start_writeback


_start_writeback = _libc_sync_file_range()
#: an upload asks the disk to start writing every this many bytes, so that the fsync that makes it
#: durable at the end has only the tail left to wait for
WRITEBACK_EVERY = 32 << 20


def _write_all(fd: int, chunks: Sequence[bytes]) -> None:
    """Write every chunk to ``fd`` in order, as few system calls as the kernel allows (``writev``, no
    joining of the chunks into one buffer); a short write is resumed where it stopped."""
    pending = [memoryview(c) for c in chunks if len(c)]
    while pending:
        written = os.writev(fd, pending[:_IOV_MAX])
        if written <= 0:
            raise OSError(errno.EIO, "the disk accepted no bytes")
        while pending and written >= len(pending[0]):
            written -= len(pending.pop(0))
        if written:
            pending[0] = pending[0][written:]


class Storage:
    """A confined view of one fsspec location."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            root = os.path.realpath(root)
            os.makedirs(root, exist_ok=True)
        else:
            self.fs.makedirs(root, exist_ok=True)
        self.root = root.rstrip("/") or "/"

    # ---- paths ----------------------------------------------------------------------------
    def full(self, path: str) -> str:
        """The filesystem path of a normalised workspace path, checked to stay inside the root."""
        full = posixpath.join(self.root, path) if path else self.root
        if self.local:
            real = os.path.realpath(full)
            if not is_within(real, self.root):
                raise NotFound(f"no such file or folder: {path}")
        return full

    def local_path(self, path: str) -> pathlib.Path | None:
        """The local file behind ``path``, or None when the storage is remote."""
        return pathlib.Path(self.full(path)) if self.local else None

    # ---- reading --------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self.fs.exists(self.full(path))

    def isdir(self, path: str) -> bool:
        return self.fs.isdir(self.full(path))

    def info(self, path: str) -> WorkspaceFile:
        full = self.full(path)
        try:
            if self.local:
                st = os.stat(full)
                is_dir = os.path.isdir(full)
                return WorkspaceFile(path, posixpath.basename(path), is_dir, 0 if is_dir else st.st_size, st.st_mtime)
            info = self.fs.info(full)
        except FileNotFoundError:
            raise NotFound(f"no such file or folder: {path}") from None
        return self._entry(path, info)

    def _entry(self, path: str, info: dict) -> WorkspaceFile:
        is_dir = info.get("type") == "directory"
        modified = info.get("mtime") or info.get("LastModified") or info.get("created") or 0.0
        if hasattr(modified, "timestamp"):
            modified = modified.timestamp()
        return WorkspaceFile(path, posixpath.basename(path), is_dir, 0 if is_dir else int(info.get("size") or 0), float(modified))

    def listdir(self, path: str) -> list[WorkspaceFile]:
        full = self.full(path)
        if not self.fs.isdir(full):
            raise NotFound(f"no such folder: {path}")
        out = []
        if self.local:
            with os.scandir(full) as it:
                for entry in it:
                    if entry.name.startswith(".explore"):
                        continue
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if not is_within(target, self.root):
                            continue
                    st = entry.stat()
                    child = f"{path}/{entry.name}" if path else entry.name
                    is_dir = entry.is_dir()
                    out.append(WorkspaceFile(child, entry.name, is_dir, 0 if is_dir else st.st_size, st.st_mtime))
            return out
        for info in self.fs.ls(full, detail=True):
            name = posixpath.basename(info["name"].rstrip("/"))
            if name.startswith(".explore") or not name:
                continue
            child = f"{path}/{name}" if path else name
            out.append(self._entry(child, info))
        return out

    def walk_files(self, path: str) -> Iterator[WorkspaceFile]:
        """Every file below ``path`` (hidden platform files excluded)."""
        for entry in self.listdir(path):
            if entry.is_dir:
                yield from self.walk_files(entry.path)
            else:
                yield entry

    def usage(self, path: str) -> int:
        """Bytes used below ``path`` (0 if it does not exist)."""
        full = self.full(path)
        if self.local:
            total = 0
            for dirpath, dirnames, filenames in os.walk(full):
                dirnames[:] = [d for d in dirnames if not d.startswith(".explore")]
                for name in filenames:
                    try:
                        total += os.lstat(os.path.join(dirpath, name)).st_size
                    except FileNotFoundError:
                        pass
            return total
        if not self.fs.exists(full):
            return 0
        return sum(f.size for f in self.walk_files(path))

    def open_read(self, path: str) -> IO[bytes]:
        full = self.full(path)
        try:
            if self.fs.isdir(full):
                raise BadRequest(f"{path} is a folder, not a file")
            return self.fs.open(full, "rb")
        except FileNotFoundError:
            raise NotFound(f"no such file: {path}") from None

    def open_local(self, path: str) -> IO[bytes] | None:
        """The file behind ``path`` opened on the local disk, unbuffered (a real descriptor, for
        ``sendfile`` and ``pread``); None when the storage is remote. The open file keeps the version it
        opened, whatever atomic write replaces it meanwhile."""
        if not self.local:
            return None
        full = self.full(path)
        try:
            fh = open(full, "rb", buffering=0)  # noqa: SIM115 - the caller owns it
        except FileNotFoundError:
            raise NotFound(f"no such file: {path}") from None
        except IsADirectoryError:
            raise BadRequest(f"{path} is a folder, not a file") from None
        return fh

    def iter_bytes(self, path: str, start: int = 0, end: int | None = None, chunk: int = CHUNK) -> Iterator[bytes]:
        """The bytes ``start..end`` (inclusive, as in HTTP ranges) of a file, in chunks."""
        with self.open_read(path) as fh:
            fh.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                data = fh.read(chunk if remaining is None else min(chunk, remaining))
                if not data:
                    break
                if remaining is not None:
                    remaining -= len(data)
                yield data

    def sha256(self, path: str) -> str:
        digest = hashlib.sha256()
        for data in self.iter_bytes(path):
            digest.update(data)
        return digest.hexdigest()

    # ---- writing --------------------------------------------------------------------------
    def makedirs(self, path: str) -> None:
        full = self.full(path)
        try:
            if self.fs.exists(full) and not self.fs.isdir(full):
                raise Conflict(f"{path} exists and is a file")
            self.fs.makedirs(full, exist_ok=True)
        except OSError as exc:
            if _full_errno(exc):
                raise StorageFull("the workspace storage is full") from exc
            raise

    def writer(self, path: str, *, limit: int | None = None, on_commit: Callable[[int], None] | None = None,
               on_grow: Callable[[int], None] | None = None, on_close: Callable[[], None] | None = None) -> AtomicWriter:
        """An atomic writer for ``path``: write chunks, then ``commit()`` (or ``abort()``).

        ``on_commit`` is called after the commit with the change in bytes used (the new size less the
        size of the file it replaced); ``on_grow`` with the new size before each write (it refuses by
        raising); ``on_close`` once, after the commit or the abort."""
        return AtomicWriter(self, path, limit, on_commit, on_grow, on_close)

    def write_bytes(self, path: str, data: bytes) -> int:
        with self.writer(path) as w:
            w.write(data)
        return len(data)

    def move(self, src: str, dst: str) -> None:
        fsrc, fdst = self.full(src), self.full(dst)
        if not self.fs.exists(fsrc):
            raise NotFound(f"no such file or folder: {src}")
        if self.fs.exists(fdst):
            raise Conflict(f"{dst} already exists")
        parent = posixpath.dirname(fdst)
        if not self.fs.isdir(parent):
            raise NotFound(f"the destination folder {posixpath.dirname(dst)} does not exist")
        if self.local:
            os.rename(fsrc, fdst)
        else:
            self.fs.mv(fsrc, fdst, recursive=True)

    def delete(self, path: str) -> None:
        full = self.full(path)
        if not self.fs.exists(full):
            raise NotFound(f"no such file or folder: {path}")
        if self.local:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
        else:
            self.fs.rm(full, recursive=True)


class AtomicWriter:
    """Writes into a temporary file beside the workspace and renames it into place on commit."""

    def __init__(self, storage: Storage, path: str, limit: int | None,
                 on_commit: Callable[[int], None] | None = None, on_grow: Callable[[int], None] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.storage = storage
        self.path = path
        self.limit = limit
        self.on_commit = on_commit
        self.on_grow = on_grow
        self.on_close = on_close
        self.size = 0
        owner = path.split("/", 1)[0]
        tmp_dir = f"{owner}/{TMP_DIR}"
        self.tmp = f"{tmp_dir}/{uuid.uuid4().hex}"
        target = storage.full(path)
        if storage.fs.isdir(target):
            raise Conflict(f"{path} is a folder")
        parent = posixpath.dirname(target)
        if not storage.fs.isdir(parent):
            raise NotFound(f"the folder {posixpath.dirname(path) or '/'} does not exist")
        storage.makedirs(tmp_dir)
        self._full_tmp = storage.full(self.tmp)
        self._fd: int | None = None
        self._fh: IO[bytes] | None = None
        self._written_back = 0  # bytes whose writeback has been started
        # a write in a worker thread and an abort from elsewhere never touch the descriptor at once
        self._lock = threading.RLock()
        try:
            if storage.local:
                # a bare descriptor: large chunks go to the kernel as they are, without a Python buffer
                self._fd = os.open(self._full_tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                                   0o666)
            else:
                self._fh = storage.fs.open(self._full_tmp, "wb")
        except OSError as exc:
            if _full_errno(exc):
                raise StorageFull("the workspace storage is full") from exc
            raise
        self.done = False

    def write(self, data: bytes) -> None:
        self.write_many((data,))

    def write_many(self, chunks: Sequence[bytes]) -> None:
        """Append ``chunks`` in order: one ``writev`` on a local disk. Over the limit, the upload is
        abandoned (:class:`TooLarge`) before any of these bytes is written."""
        with self._lock:
            self._grow(self.size + sum(len(c) for c in chunks))
            try:
                if self._fd is not None:
                    _write_all(self._fd, chunks)
                    self._maybe_write_back()
                else:
                    for c in chunks:
                        self._fh.write(c)
            except OSError as exc:
                self.abort()
                if _full_errno(exc):
                    raise StorageFull("the workspace storage is full; nothing was changed") from exc
                raise

    def fileno(self) -> int | None:
        """The descriptor of the temporary file on a local disk, for bytes moved into it by the kernel
        (then reported with :meth:`appended`); None on remote storage."""
        return self._fd

    def appended(self, n: int) -> None:
        """``n`` more bytes were written straight to :meth:`fileno`: they are counted and checked against
        the limit like those of :meth:`write_many` (over it, the upload is abandoned), and their writeback
        to the disk is started every :data:`WRITEBACK_EVERY` bytes."""
        with self._lock:
            self._grow(self.size + n)
            self._maybe_write_back()

    def _grow(self, size: int) -> None:
        """Accept the file's growth to ``size`` bytes, or abandon the upload (over the limit, or refused
        by ``on_grow``)."""
        if self.done:
            raise Conflict(f"{self.path}: this upload was already finished or abandoned")
        try:
            if self.limit is not None and size > self.limit:
                raise TooLarge(f"{self.path}: the upload exceeds the space left ({self.limit:,} bytes)")
            if self.on_grow is not None:
                self.on_grow(size)
        except BaseException:
            self._abort()
            raise
        self.size = size

    def _maybe_write_back(self) -> None:
        if _start_writeback is not None and self._fd is not None and self.size - self._written_back >= WRITEBACK_EVERY:
            _start_writeback(self._fd, self._written_back, self.size - self._written_back)
            self._written_back = self.size

    def commit(self) -> None:
        """Move the finished file into place."""
        with self._lock:
            self._commit()

    def _commit(self) -> None:
        if self.done:
            raise Conflict(f"{self.path}: this upload was already finished or abandoned")
        target = self.storage.full(self.path)
        try:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                replaced = self._size_of(target)
                os.replace(self._full_tmp, target)
            else:
                self._fh.close()
                replaced = self._size_of(target)
                # object stores replace an object atomically on copy: the old version stays readable
                # until the new one is complete, and a failed copy leaves it in place
                self.storage.fs.copy(self._full_tmp, target)
                self.storage.fs.rm(self._full_tmp)
        except OSError as exc:
            self.abort()
            if _full_errno(exc):
                raise StorageFull("the workspace storage is full; nothing was changed") from exc
            raise
        self.done = True
        try:
            if self.on_commit is not None:
                self.on_commit(self.size - replaced)
        finally:
            self._closed()

    def _closed(self) -> None:
        if self.on_close is not None:
            on_close, self.on_close = self.on_close, None
            on_close()

    def _size_of(self, full: str) -> int:
        """Bytes of the file about to be replaced (0 if none)."""
        try:
            return os.lstat(full).st_size if self.storage.local else int(self.storage.fs.size(full) or 0)
        except (FileNotFoundError, KeyError):
            return 0

    def abort(self) -> None:
        """Abandon the upload: the temporary file goes, the previous version stays."""
        with self._lock:
            self._abort()

    def _abort(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)
            elif self._fh is not None:
                self._fh.close()
        except Exception:  # noqa: BLE001 - closing a broken stream must not hide the first error
            pass
        try:
            if self.storage.fs.exists(self._full_tmp):
                self.storage.fs.rm(self._full_tmp)
        except OSError:
            pass
        finally:
            self._closed()

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
