"""An in-memory :class:`explore.sdk.Session` for tests of app views (no platform, no database)."""

from __future__ import annotations

import contextlib
import dataclasses
import io

from explore.sdk import Access, AnnotationRecord, SelectionRecord, WorkspaceFile


class FakeSession:
    """A :class:`explore.sdk.Session` in memory: files, annotations and selections of one user."""

    def __init__(self, files: dict[str, bytes], user: str = "alice", app_id: str = "sphot") -> None:
        self.user = user
        self.app_id = app_id
        self.incoming_selection: SelectionRecord | None = None
        self.files = dict(files)
        self.notes: list[AnnotationRecord] = []

    def home(self) -> str:
        return self.user

    def listdir(self, path: str = "") -> list[WorkspaceFile]:
        prefix = path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)}
        if not names:
            raise FileNotFoundError(path)
        out = []
        for name in sorted(names):
            full = prefix + name
            is_dir = full not in self.files
            out.append(WorkspaceFile(full, name, is_dir, 0 if is_dir else len(self.files[full]), 0.0))
        return out

    def read_bytes(self, path: str) -> bytes:
        return self.files[path]

    @contextlib.contextmanager
    def open(self, path: str, mode: str = "rb"):
        yield io.BytesIO(self.files[path])

    def write_bytes(self, path: str, data: bytes) -> str:
        self.files[path] = bytes(data)
        return path

    def local_path(self, path: str):
        raise NotImplementedError

    def annotations(self, view: str | None = None) -> list[AnnotationRecord]:
        return [dataclasses.replace(a) for a in self.notes if view is None or a.view == view]

    def annotate(self, view, title, description="", *, object_ids=None, region=None, read=None, write=None):
        record = AnnotationRecord(len(self.notes) + 1, self.app_id, view, title, description, self.user,
                                  list(object_ids) if object_ids is not None else None, region,
                                  read or Access(), write or Access(), "now", "now", True)  # fmt: skip
        self.notes.append(record)
        return record

    def save_selection(self, name, dataset, ids, *, description="", read=None):
        return SelectionRecord(1, name, self.app_id, dataset, self.user, list(ids), description)

    def selections(self, dataset=None):
        return []

    def send_selection(self, selection_id, to_app):
        return f"/apps/{to_app}?selection={selection_id}"
