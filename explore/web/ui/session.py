"""The :class:`explore.sdk.Session` an app's interactive view receives: the platform seen by one user."""

from __future__ import annotations

import contextlib
import io
import pathlib
from collections.abc import Iterator, Sequence
from typing import IO, Any
from urllib.parse import urlencode

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import ExploreError, Forbidden, NotFound
from explore.sdk import Access, AnnotationRecord, SelectionRecord, WorkspaceFile


def _as_builtin(exc: ExploreError) -> Exception:
    """Platform errors as the built-in exceptions the Session protocol promises."""
    if isinstance(exc, NotFound):
        return FileNotFoundError(exc.message)
    if isinstance(exc, Forbidden):
        return PermissionError(exc.message)
    return exc


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (NotFound, Forbidden) as exc:
        raise _as_builtin(exc) from None


class PlatformSession:
    """One user's session in one app."""

    def __init__(self, platform: Platform, user: Principal, app_id: str,
                 incoming_selection: SelectionRecord | None = None) -> None:
        self.platform = platform
        self.principal = user
        self.user = user.name
        self.app_id = app_id
        self.incoming_selection = incoming_selection

    # ---- workspace ------------------------------------------------------------------------------
    def home(self) -> str:
        return self.user

    def listdir(self, path: str = "") -> list[WorkspaceFile]:
        with _translated():
            return self.platform.workspace.listdir(self.principal, path or self.user)

    @contextlib.contextmanager
    def open(self, path: str, mode: str = "rb") -> Iterator[IO[bytes]]:
        if mode not in ("rb", "wb"):
            raise ValueError("mode must be 'rb' or 'wb'")
        with _translated():
            if mode == "rb":
                with self.platform.workspace.open_read(self.principal, path) as fh:
                    yield fh
                return
            buffer = io.BytesIO()
            yield buffer
            self.platform.workspace.write_bytes(self.principal, path, buffer.getvalue())

    def read_bytes(self, path: str) -> bytes:
        with _translated():
            return self.platform.workspace.read_bytes(self.principal, path)

    def makedirs(self, path: str) -> str:
        """Create a folder (and the folders above it) where the user may write; returns its path."""
        from explore.platform.paths import normalise

        parts = normalise(path).split("/")
        with _translated():
            for i in range(2, len(parts) + 1):
                sub = "/".join(parts[:i])
                if not self.platform.workspace.storage.isdir(sub):
                    self.platform.workspace.mkdir(self.principal, sub)
        return "/".join(parts)

    def write_bytes(self, path: str, data: bytes) -> str:
        with _translated():
            return self.platform.workspace.write_bytes(self.principal, path, data).path

    def local_path(self, path: str) -> pathlib.Path:
        with _translated():
            local = self.platform.workspace.local_path(self.principal, path)
        if local is None:
            raise NotImplementedError("the workspace is remote: read the bytes with read_bytes()")
        return local

    # ---- annotations ------------------------------------------------------------------------------
    def annotations(self, view: str | None = None) -> list[AnnotationRecord]:
        return self.platform.annotations.list(self.principal, app=self.app_id, view=view)

    def annotate(self, view: str, title: str, description: str = "", *, object_ids: Sequence[str] | None = None,
                 region: dict[str, Any] | None = None, read: Access | None = None,
                 write: Access | None = None) -> AnnotationRecord:
        return self.platform.annotations.create(
            self.principal, self.app_id, view, title, description,
            object_ids=list(object_ids) if object_ids is not None else None, region=region, read=read, write=write)

    def update_annotation(self, annotation_id: int, **changes: Any) -> AnnotationRecord:
        with _translated():
            return self.platform.annotations.update(self.principal, annotation_id, **changes)

    def delete_annotation(self, annotation_id: int) -> None:
        with _translated():
            self.platform.annotations.delete(self.principal, annotation_id)

    # ---- selections ------------------------------------------------------------------------------
    def save_selection(self, name: str, dataset: str, ids: Sequence[str], *, description: str = "",
                       read: Access | None = None) -> SelectionRecord:
        return self.platform.selections.save(self.principal, name, self.app_id, dataset, list(ids),
                                             description=description, read=read)

    def selections(self, dataset: str | None = None) -> list[SelectionRecord]:
        out = []
        for info in self.platform.selections.list(self.principal, dataset=dataset):
            out.append(SelectionRecord(id=info["id"], name=info["name"], app=info["app"], dataset=info["dataset"],
                                       owner=info["owner"], ids=[], description=info["description"],
                                       created=info["created"]))
        return out

    def load_selection(self, selection_id: int) -> SelectionRecord:
        with _translated():
            return self.platform.selections.get(self.principal, selection_id)

    def send_selection(self, selection_id: int, to_app: str) -> str:
        with _translated():
            self.platform.selections.info(self.principal, selection_id)
            app = self.platform.catalogue.get(to_app)
        return f"/apps/{app.id}/open?{urlencode({'selection': selection_id})}"

    def users(self) -> list[str]:
        """Names of the active users, for sharing dialogs."""
        return [u["name"] for u in self.platform.accounts.list_users() if u["active"]]

    def groups(self) -> list[str]:
        return [g["name"] for g in self.platform.accounts.list_groups()]
