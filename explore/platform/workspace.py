"""The users' workspace: home folders, files, quotas and permissions.

Every access goes through :meth:`Workspace.authorize`, the one permission check. Rights on a path are
the union of the grants on it and on every folder above it (a share of ``alice/results`` covers
``alice/results/run1/a.csv``). The owner of a home (its first path component) and administrators
have every right. Someone who may not read a path is told it does not exist (404), so that the names
in other people's homes do not leak; someone who may read but not write gets a 403.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

from sqlalchemy import delete, or_, select

from explore.platform.accounts import Accounts, Principal
from explore.platform.db import Database
from explore.platform.errors import BadRequest, Forbidden, NotFound, TooLarge
from explore.platform.models import FilePermission
from explore.platform.paths import ancestors, check_name, is_within, normalise, owner_of, parent_of
from explore.platform.storage import AtomicWriter, Storage
from explore.sdk import WorkspaceFile

Action = Literal["read", "write", "delete", "share"]
ACTIONS: tuple[Action, ...] = ("read", "write", "delete", "share")


@dataclass(frozen=True)
class Grant:
    path: str
    kind: str  # user | group | public
    principal: str
    access: str  # read | write

    def as_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind, "principal": self.principal, "access": self.access}


@dataclass(frozen=True)
class Checked:
    """A file or folder that one user may read, with everything they may do with it: the result of one
    permission check (:meth:`Workspace.check`). The methods that take one do not check again, so that a
    request looks up the grants once."""

    user: Principal | None
    info: WorkspaceFile
    rights: frozenset[Action]

    @property
    def path(self) -> str:
        return self.info.path


class Workspace:
    """Files of every user, seen through their rights."""

    def __init__(self, db: Database, storage: Storage, accounts: Accounts, *, default_quota: int, max_upload: int,
                 usage_max_age: float = 30.0):
        self.db = db
        self.storage = storage
        self.accounts = accounts
        self.default_quota = default_quota
        self.max_upload = max_upload
        # bytes used per home, kept up to date by this process's writes and walked again after
        # ``usage_max_age`` seconds to take in what other processes (runs, the CLI) wrote meanwhile
        self.usage_max_age = usage_max_age
        self._usage: dict[str, tuple[int, float]] = {}
        self._changes: dict[str, int] = {}  # writes per home, so that a walk overtaken by one is not kept
        # bytes held per home by the uploads in progress in this process (their size so far, or the
        # size they announced): two uploads at once cannot both use the same space left
        self._held: dict[str, dict[object, int]] = {}
        self._usage_lock = threading.Lock()

    # ---- the permission check ---------------------------------------------------------------
    def grants_on(self, path: str) -> list[Grant]:
        """Grants on ``path`` and every folder above it."""
        with self.db.session() as s:
            rows = s.scalars(select(FilePermission).where(FilePermission.path.in_(ancestors(path))))
            return [Grant(r.path, r.principal_kind, r.principal, r.access) for r in rows]

    def rights(self, user: Principal | None, path: str) -> set[Action]:
        """What ``user`` (None: anonymous) may do with ``path`` (normalised)."""
        if not path:
            return {"read"} if user is not None else set()
        if user is not None and (user.is_admin or owner_of(path) == user.name):
            is_home = "/" not in path
            return {"read", "write", "share"} | (set() if is_home else {"delete"})
        read = write = False
        for g in self.grants_on(path):
            applies = g.kind == "public" or (
                user is not None
                and ((g.kind == "user" and g.principal == user.name) or (g.kind == "group" and g.principal in user.groups))
            )
            if not applies:
                continue
            if g.access == "write" and g.kind != "public" and user is not None:
                write = True
            read = True
        rights: set[Action] = set()
        if read or write:
            rights.add("read")
        if write:
            rights |= {"write"} | ({"delete"} if "/" in path else set())
        return rights

    def authorize(self, user: Principal | None, path: str, action: Action) -> str:
        """Normalise ``path`` and check that ``user`` may ``action`` it; returns the normalised path.

        Raises :class:`NotFound` where the user may not even read the path, :class:`Forbidden` where
        they may read it but not do ``action``.
        """
        path = normalise(path, allow_root=(action == "read"))
        rights = self.rights(user, path)
        if action in rights:
            return path
        if "read" not in rights:
            raise NotFound(f"no such file or folder: {path}")
        if action == "share":
            raise Forbidden(f"only the owner of {path} can change who may use it")
        if action == "delete" and "/" not in path:
            raise Forbidden("a home folder cannot be deleted or moved")
        raise Forbidden(f"you may read {path} but not {'change' if action == 'write' else action} it")

    # ---- homes and quotas -------------------------------------------------------------------
    def ensure_home(self, name: str) -> None:
        self.storage.makedirs(name)

    def quota(self, name: str) -> int:
        return self.accounts.quota_of(name, self.default_quota)

    def usage(self, name: str) -> int:
        """Bytes used in ``name``'s home: walked at most every ``usage_max_age`` seconds, and updated in
        between by each write, move and delete made through this workspace."""
        now = time.monotonic()
        with self._usage_lock:
            cached = self._usage.get(name)
            changes = self._changes.get(name, 0)
        if cached is not None and now - cached[1] < self.usage_max_age:
            return cached[0]
        used = self.storage.usage(name)
        with self._usage_lock:
            if self._changes.get(name, 0) == changes:
                self._usage[name] = (used, now)
        return used

    def _used_more(self, name: str, delta: int) -> None:
        with self._usage_lock:
            self._changes[name] = self._changes.get(name, 0) + 1
            if name in self._usage:
                used, when = self._usage[name]
                self._usage[name] = (max(0, used + delta), when)

    def _forget_usage(self, *names: str) -> None:
        with self._usage_lock:
            for name in names:
                self._changes[name] = self._changes.get(name, 0) + 1
                self._usage.pop(name, None)

    def space_left(self, name: str) -> int:
        return max(0, self.quota(name) - self.usage(name))

    # ---- reading ------------------------------------------------------------------------------
    def check(self, user: Principal | None, path: str) -> Checked:
        """``path`` (a file, a folder or the root) with ``user``'s rights on it, from one look-up of the
        grants. Raises :class:`NotFound` where the user may not read it, or it does not exist."""
        path = normalise(path, allow_root=True)
        rights = self.rights(user, path)
        if "read" not in rights:
            raise NotFound(f"no such file or folder: {path}")
        info = self.storage.info(path) if path else WorkspaceFile("", "", True, 0, 0.0)
        return Checked(user, info, frozenset(rights))

    def stat(self, user: Principal | None, path: str) -> WorkspaceFile:
        path = self.authorize(user, path, "read")
        if not path:
            return WorkspaceFile("", "", True, 0, 0.0)
        return self.storage.info(path)

    def listdir(self, user: Principal | None, path: str = "") -> list[WorkspaceFile]:
        """A folder's entries; the root lists the homes the user can read (their own; all for admins)."""
        path = self.authorize(user, path, "read")
        if path and not self.storage.isdir(path):
            if self.storage.exists(path):
                raise BadRequest(f"{path} is a file, not a folder")
            raise NotFound(f"no such folder: {path}")
        return self._entries(user, path)

    def entries(self, folder: Checked) -> list[WorkspaceFile]:
        """The entries of a folder that passed :meth:`check`."""
        if not folder.info.is_dir:
            raise BadRequest(f"{folder.path} is a file, not a folder")
        return self._entries(folder.user, folder.path)

    def _entries(self, user: Principal | None, path: str) -> list[WorkspaceFile]:
        if not path:
            assert user is not None
            if user.is_admin:
                return self.storage.listdir("")
            self.ensure_home(user.name)
            return [self.storage.info(user.name)]
        return self.storage.listdir(path)

    def read_range(self, file: Checked, start: int = 0, end: int | None = None, chunk: int | None = None) -> Iterator[bytes]:
        """The bytes ``start..end`` (inclusive, as in HTTP ranges) of a file that passed :meth:`check`."""
        if file.info.is_dir:
            raise BadRequest(f"{file.path} is a folder, not a file")
        if chunk is None:
            return self.storage.iter_bytes(file.path, start, end)
        return self.storage.iter_bytes(file.path, start, end, chunk)

    def open_local(self, file: Checked) -> IO[bytes] | None:
        """A file that passed :meth:`check`, opened on the local disk (None when the storage is remote)."""
        if file.info.is_dir:
            raise BadRequest(f"{file.path} is a folder, not a file")
        return self.storage.open_local(file.path)

    def open_read(self, user: Principal | None, path: str) -> IO[bytes]:
        path = self.authorize(user, path, "read")
        return self.storage.open_read(path)

    def iter_bytes(self, user: Principal | None, path: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        path = self.authorize(user, path, "read")
        return self.storage.iter_bytes(path, start, end)

    def read_bytes(self, user: Principal | None, path: str) -> bytes:
        return b"".join(self.iter_bytes(user, path))

    def local_path(self, user: Principal | None, path: str):
        path = self.authorize(user, path, "read")
        return self.storage.local_path(path)

    # ---- writing ------------------------------------------------------------------------------
    def mkdir(self, user: Principal | None, path: str) -> WorkspaceFile:
        path = normalise(path)
        for part in path.split("/")[1:]:
            check_name(part)
        self.authorize(user, parent_of(path) or path, "write")
        if not self.storage.isdir(parent_of(path) or path):
            raise NotFound(f"the folder {parent_of(path)} does not exist")
        self.storage.makedirs(path)
        return self.storage.info(path)

    def writer(self, user: Principal | None, path: str, *, expected_size: int | None = None) -> AtomicWriter:
        """An atomic writer for a new version of ``path``, limited by the upload size and the owner's
        quota (the space a replaced file frees counts)."""
        path = normalise(path)
        if "/" not in path:
            raise BadRequest("a file must be inside a home folder, e.g. 'alice/data.csv'")
        check_name(path.rsplit("/", 1)[1])
        self.authorize(user, path, "write")
        owner = owner_of(path)
        replaced = self.storage.info(path).size if self.storage.exists(path) and not self.storage.isdir(path) else 0
        if expected_size is not None and expected_size > self.max_upload:
            raise TooLarge(f"the file is {expected_size:,} bytes; the largest upload allowed is {self.max_upload:,} bytes")
        quota = self.quota(owner)
        claim = object()

        def hold(size: int, announced: bool) -> None:
            """Hold ``size`` bytes of the owner's space for this upload, or refuse (TooLarge)."""
            used = self.usage(owner)
            with self._usage_lock:
                held = self._held.setdefault(owner, {})
                others = sum(v for k, v in held.items() if k is not claim)
                limit = min(self.max_upload, max(0, quota - used - others) + replaced)
                if size > limit:
                    busy = f" ({others:,} bytes are held by other uploads in progress)" if others else ""
                    what = f"the file is {size:,} bytes but" if announced else f"{path}: the upload exceeds the space left:"
                    raise TooLarge(f"{what} only {limit:,} bytes are left in {owner}'s quota{busy}")
                held[claim] = max(size, held.get(claim, 0))

        def release() -> None:
            with self._usage_lock:
                held = self._held.get(owner, {})
                held.pop(claim, None)
                if not held:
                    self._held.pop(owner, None)

        hold(expected_size or 0, announced=True)
        try:
            return self.storage.writer(path, on_commit=lambda delta: self._used_more(owner, delta),
                                       on_grow=lambda size: hold(size, announced=False), on_close=release)
        except BaseException:
            release()
            raise

    def write_bytes(self, user: Principal | None, path: str, data: bytes) -> WorkspaceFile:
        with self.writer(user, path, expected_size=len(data)) as w:
            w.write(data)
        return self.storage.info(normalise(path))

    def move(self, user: Principal | None, src: str, dst: str) -> WorkspaceFile:
        src = self.authorize(user, src, "delete")
        dst = normalise(dst)
        if "/" not in dst:
            raise BadRequest("the destination must be inside a home folder")
        check_name(dst.rsplit("/", 1)[1])
        if is_within(dst, src):
            raise BadRequest(f"cannot move {src} into itself")
        self.authorize(user, parent_of(dst), "write")
        if owner_of(src) != owner_of(dst):
            size = self.storage.usage(src) if self.storage.isdir(src) else self.storage.info(src).size
            if size > self.space_left(owner_of(dst)):
                raise TooLarge(f"moving {src} needs {size:,} bytes; {owner_of(dst)}'s quota has less left")
        self.storage.move(src, dst)
        if owner_of(src) != owner_of(dst):
            self._forget_usage(owner_of(src), owner_of(dst))
        with self.db.session() as s:
            for row in s.scalars(select(FilePermission).where(
                    or_(FilePermission.path == src, FilePermission.path.startswith(src + "/", autoescape=True)))):
                row.path = dst + row.path[len(src):]
        return self.storage.info(dst)

    def delete(self, user: Principal | None, path: str) -> None:
        path = self.authorize(user, path, "delete")
        try:
            self.storage.delete(path)
        finally:
            self._forget_usage(owner_of(path))
        with self.db.session() as s:
            s.execute(delete(FilePermission).where(
                or_(FilePermission.path == path, FilePermission.path.startswith(path + "/", autoescape=True))))

    # ---- permissions ------------------------------------------------------------------------
    def get_permissions(self, user: Principal | None, path: str) -> dict:
        """Grants set on ``path`` itself and those it inherits from the folders above."""
        path = self.authorize(user, path, "read")
        if not self.storage.exists(path):
            raise NotFound(f"no such file or folder: {path}")
        own: dict = {"public": False, "users": {}, "groups": {}}
        inherited: list[dict] = []
        for g in self.grants_on(path):
            if g.path != path:
                inherited.append(g.as_dict())
                continue
            if g.kind == "public":
                own["public"] = True
            else:
                own[g.kind + "s"][g.principal] = g.access
        rights = sorted(self.rights(user, path))
        return {"path": path, "owner": owner_of(path), **own, "inherited": inherited, "your_rights": rights}

    def set_permissions(self, user: Principal | None, path: str, *, public: bool, users: dict[str, str],
                        groups: dict[str, str]) -> dict:
        """Replace the grants on ``path`` itself (what it inherits is unchanged)."""
        path = self.authorize(user, path, "share")
        if not self.storage.exists(path):
            raise NotFound(f"no such file or folder: {path}")
        for kind, entries in (("user", users), ("group", groups)):
            for name, access in entries.items():
                if access not in ("read", "write"):
                    raise BadRequest(f"access for {name!r} must be 'read' or 'write', not {access!r}")
                exists = self.accounts.exists(name) if kind == "user" else self.accounts.group_exists(name)
                if not exists:
                    raise BadRequest(f"no {kind} named {name!r}")
        with self.db.session() as s:
            s.execute(delete(FilePermission).where(FilePermission.path == path))
            if public:
                s.add(FilePermission(path=path, principal_kind="public", principal="", access="read"))
            for name, access in users.items():
                s.add(FilePermission(path=path, principal_kind="user", principal=name, access=access))
            for name, access in groups.items():
                s.add(FilePermission(path=path, principal_kind="group", principal=name, access=access))
        return self.get_permissions(user, path)

    def shared_with(self, user: Principal) -> list[dict]:
        """Paths others shared with ``user`` directly or through a group (public ones excluded)."""
        with self.db.session() as s:
            rows = s.scalars(select(FilePermission).where(or_(
                (FilePermission.principal_kind == "user") & (FilePermission.principal == user.name),
                (FilePermission.principal_kind == "group") & (FilePermission.principal.in_(list(user.groups) or [""])),
            )).order_by(FilePermission.path))
            out = []
            for r in rows:
                if owner_of(r.path) == user.name or not self.storage.exists(r.path):
                    continue
                info = self.storage.info(r.path)
                out.append({"path": r.path, "owner": owner_of(r.path), "access": r.access, "via": r.principal_kind,
                            "is_dir": info.is_dir, "size": info.size, "modified": info.modified})
            return out

    def public_paths(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(FilePermission.path).where(FilePermission.principal_kind == "public")))

