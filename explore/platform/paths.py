"""Workspace paths: ``alice/results/a.csv``, always relative, always under the owner's home.

Every path that comes from outside goes through :func:`normalise` before anything touches storage, so
``..``, absolute paths, backslashes, control characters and their encoded forms never reach it.
"""

from __future__ import annotations

import re
import unicodedata

from explore.platform.errors import BadRequest

_USER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")
MAX_PATH = 1024
MAX_NAME = 255


def check_user_name(name: str) -> str:
    """A user or group name: lower case letters, digits, ``_ . -``, starting with a letter."""
    if not _USER_NAME.match(name or ""):
        raise BadRequest(
            f"{name!r} is not a valid name: use 1-64 lower-case letters, digits, '_', '.' or '-', starting with a letter"
        )
    return name


def check_name(name: str) -> str:
    """One path component (a file or folder name)."""
    if not name or name in {".", ".."}:
        raise BadRequest(f"{name!r} is not a valid file or folder name")
    if "/" in name:
        raise BadRequest(f"a name cannot contain '/': {name!r}")
    if _FORBIDDEN_CHARS.search(name):
        raise BadRequest(f"a name cannot contain control characters or '\\': {name!r}")
    if len(name.encode()) > MAX_NAME:
        raise BadRequest(f"a name is limited to {MAX_NAME} bytes")
    if name.startswith(".explore"):
        raise BadRequest(f"names starting with '.explore' are reserved: {name!r}")
    return name


def normalise(path: str, *, allow_root: bool = False) -> str:
    """The canonical form of a workspace path, or :class:`BadRequest`.

    Leading and trailing slashes are dropped and empty components collapsed; ``.`` and ``..``
    components, absolute Windows paths, backslashes and control characters are refused (not resolved:
    a path that tries to climb out is an error, never silently re-rooted).

    >>> normalise("/alice//results/a.csv/")
    'alice/results/a.csv'
    """
    if path is None:
        raise BadRequest("a path is required")
    path = unicodedata.normalize("NFC", str(path))
    if len(path) > MAX_PATH:
        raise BadRequest(f"path longer than {MAX_PATH} characters")
    if re.match(r"^[a-zA-Z]:", path):
        raise BadRequest(f"absolute paths are not workspace paths: {path!r}")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in {".", ".."}:
            raise BadRequest(f"'.' and '..' are not allowed in workspace paths: {path!r}")
        check_name(part) if part != parts[0] else _check_first(part)
    if not parts and not allow_root:
        raise BadRequest("the path is empty: it must start with a user name, e.g. 'alice/results'")
    return "/".join(parts)


def _check_first(part: str) -> None:
    if _FORBIDDEN_CHARS.search(part):
        raise BadRequest(f"a name cannot contain control characters or '\\': {part!r}")


def owner_of(path: str) -> str:
    """The user whose home holds ``path`` (its first component)."""
    return path.split("/", 1)[0]


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def ancestors(path: str) -> list[str]:
    """``path`` and every folder above it, nearest first: ``a/b/c`` -> ``[a/b/c, a/b, a]``."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")
