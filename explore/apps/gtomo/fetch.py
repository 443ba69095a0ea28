"""Download a published cube over HTTP: resumable (HTTP Range), checksummed, with progress.

The cubes are several hundred MB; an interrupted download is kept as ``<dest>.part`` and the next call
asks the server only for the missing bytes. The file appears at ``dest`` only once it is complete and
(when a SHA-256 is given) verified, so a half-downloaded cube is never mistaken for a good one.

The published cubes are distributed with Vergely et al. (2022), VizieR catalogue J/A+A/664/A174, and by
the EXPLORE G-Tomo service; pass the URL of the file you need.
"""

from __future__ import annotations

import hashlib
import pathlib
import re
from collections.abc import Callable

import httpx

__all__ = ["ChecksumError", "FetchError", "fetch", "sha256_of"]


class FetchError(RuntimeError):
    """A download failed (network error, HTTP error, or an incomplete transfer)."""


class ChecksumError(FetchError):
    """A downloaded file does not have the expected SHA-256."""


def sha256_of(path: str | pathlib.Path, chunk_size: int = 1 << 20) -> str:
    """The hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    url: str,
    dest: str | pathlib.Path,
    *,
    sha256: str | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    retries: int = 3,
    chunk_size: int = 1 << 20,
    timeout: float = 60.0,
    overwrite: bool = False,
) -> pathlib.Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Parameters
    ----------
    url : str
        HTTP(S) URL of the file.
    dest : path-like
        Where the file ends; the partial download is ``dest`` + ``.part``.
    sha256 : str, optional
        Expected hex SHA-256. On a mismatch the partial file is deleted and :class:`ChecksumError` raised.
    progress : callable, optional
        Called as ``progress(bytes_done, bytes_total_or_None)`` as data arrive.
    retries : int
        How many times to resume after a dropped connection before giving up.
    chunk_size : int
        Bytes per read.
    timeout : float
        Seconds to wait for the server.
    overwrite : bool
        Download again even if ``dest`` exists (otherwise an existing ``dest`` is returned, after
        checking its SHA-256 when one is given).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    FetchError
        The server refused or the transfer stayed incomplete after ``retries`` resumptions (the
        ``.part`` file is kept: call again to resume).
    ChecksumError
        The complete file has another SHA-256.
    """
    dest = pathlib.Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.exists() and not overwrite:
        if sha256 is None or sha256_of(dest) == sha256.lower():
            return dest
        raise ChecksumError(
            f"{dest} exists but its SHA-256 is not {sha256}; delete it or pass overwrite=True to download again"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    attempts = 0
    with httpx.Client(timeout=timeout, follow_redirects=True) as client:
        while True:
            try:
                total = _download(client, url, part, progress, chunk_size)
                break
            except (httpx.TransportError, _Incomplete) as exc:
                attempts += 1
                if attempts > retries:
                    have = part.stat().st_size if part.exists() else 0
                    raise FetchError(
                        f"download of {url} interrupted ({exc}); {have:,} bytes kept in {part}: run again to resume"
                    ) from exc
    if total is not None and part.stat().st_size != total:
        raise FetchError(f"download of {url} ended with {part.stat().st_size:,} of {total:,} bytes")
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256.lower():
            part.unlink()
            raise ChecksumError(
                f"{url}: SHA-256 of the downloaded file is {got}, expected {sha256}; the partial file was "
                "deleted (a corrupt or different file on the server?)"
            )
    part.replace(dest)
    return dest


class _Incomplete(Exception):
    pass


def _download(
    client: httpx.Client, url: str, part: pathlib.Path,
    progress: Callable[[int, int | None], None] | None, chunk_size: int,
) -> int | None:
    """One request: resume from the current size of ``part``; return the total size if known."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={start}-"} if start else {}
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 416 and start:
            # nothing left to send: the partial file is complete (checked by size/checksum after)
            match = re.match(r"bytes \*/(\d+)", response.headers.get("content-range", ""))
            return int(match.group(1)) if match else None
        if response.status_code == 206:
            match = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("content-range", ""))
            if not match or int(match.group(1)) != start:
                raise FetchError(f"{url}: the server answered a resume request with an unexpected range "
                                 f"{response.headers.get('content-range')!r}")
            total = int(match.group(3)) if match.group(3) != "*" else None
            mode = "ab"
        elif response.status_code == 200:
            start = 0  # the server ignores Range: start again
            length = response.headers.get("content-length")
            total = int(length) if length else None
            mode = "wb"
        else:
            raise FetchError(f"{url}: HTTP {response.status_code} {response.reason_phrase}")
        done = start
        with open(part, mode) as fh:
            try:
                for block in response.iter_bytes():
                    fh.write(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
            except httpx.TransportError as exc:
                raise _Incomplete(str(exc)) from exc
    if total is not None and done < total:
        raise _Incomplete(f"connection closed after {done:,} of {total:,} bytes")
    return total
