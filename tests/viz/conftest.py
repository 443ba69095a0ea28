"""An in-memory Session for the viz tests: it keeps every call, stores annotations and selections, and
checks write access the way the platform does (author or a writer named in ``write``)."""

from __future__ import annotations

import dataclasses
import io
import pathlib
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest

from explore.sdk import Access, AnnotationRecord, SelectionRecord, WorkspaceFile


class FakeSession:
    """Implements :class:`explore.sdk.Session` in memory for one user."""

    def __init__(self, user: str = "alice", app_id: str = "sdisco", groups: Sequence[str] = ()) -> None:
        self.user = user
        self.app_id = app_id
        self.groups = list(groups)
        self.incoming_selection: SelectionRecord | None = None
        self.files: dict[str, bytes] = {}
        self.calls: list[tuple[str, tuple, dict]] = []
        self._annotations: dict[int, AnnotationRecord] = {}
        self._selections: dict[int, SelectionRecord] = {}
        self._next = 1

    def _log(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def calls_to(self, name: str) -> list[tuple[tuple, dict]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def _new_id(self) -> int:
        self._next += 1
        return self._next - 1

    # workspace
    def home(self) -> str:
        return self.user

    def write_bytes(self, path: str, data: bytes) -> str:
        self._log("write_bytes", path, data)
        if ".." in path.split("/"):
            raise PermissionError(f"{path!r} leaves the workspace")
        self.files[path] = bytes(data)
        return path

    def read_bytes(self, path: str) -> bytes:
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    @contextmanager
    def open(self, path: str, mode: str = "rb"):
        yield io.BytesIO(self.read_bytes(path))

    def listdir(self, path: str = "") -> list[WorkspaceFile]:
        prefix = path.rstrip("/") + "/" if path else ""
        return [WorkspaceFile(p, p.rsplit("/", 1)[-1], False, len(d), 0.0)
                for p, d in self.files.items() if p.startswith(prefix)]

    def local_path(self, path: str) -> pathlib.Path:
        raise NotImplementedError

    # annotations
    def _can_write(self, record: AnnotationRecord) -> bool:
        w = record.write
        return (record.author == self.user or w.level == "public"
                or (w.level == "shared" and (self.user in w.users or set(self.groups) & set(w.groups))))

    def add_foreign_annotation(self, **fields: Any) -> AnnotationRecord:
        """An annotation by someone else (to test what a reader without write access sees)."""
        defaults = dict(app=self.app_id, view="umap", title="theirs", description="", author="bob",
                        object_ids=None, region=None, read=Access("public"), write=Access("private"),
                        created="2024-01-01T00:00:00", updated="2024-01-01T00:00:00")
        record = AnnotationRecord(id=self._new_id(), **{**defaults, **fields})
        record.can_write = self._can_write(record)
        self._annotations[record.id] = record
        return record

    def annotations(self, view: str | None = None) -> list[AnnotationRecord]:
        self._log("annotations", view)
        return [dataclasses.replace(a) for a in self._annotations.values()
                if a.app == self.app_id and (view is None or a.view == view)]

    def annotate(self, view: str, title: str, description: str = "", *, object_ids=None, region=None,
                 read: Access | None = None, write: Access | None = None) -> AnnotationRecord:
        self._log("annotate", view, title, description, object_ids=object_ids, region=region, read=read, write=write)
        record = AnnotationRecord(
            id=self._new_id(), app=self.app_id, view=view, title=title, description=description,
            author=self.user, object_ids=list(object_ids) if object_ids is not None else None, region=region,
            read=read or Access(), write=write or Access(), created="now", updated="now", can_write=True)
        self._annotations[record.id] = record
        return dataclasses.replace(record)

    def update_annotation(self, annotation_id: int, **changes: Any) -> AnnotationRecord:
        self._log("update_annotation", annotation_id, **changes)
        record = self._annotations[annotation_id]
        if not self._can_write(record):
            raise PermissionError("you may read this annotation but not change it")
        if ("read" in changes or "write" in changes) and record.author != self.user:
            raise PermissionError("only the author can change who may read or write an annotation")
        for key, value in changes.items():
            if value is not None:
                setattr(record, key, value)
        record.updated = "later"
        return dataclasses.replace(record)

    def delete_annotation(self, annotation_id: int) -> None:
        self._log("delete_annotation", annotation_id)
        if not self._can_write(self._annotations[annotation_id]):
            raise PermissionError("you may read this annotation but not delete it")
        del self._annotations[annotation_id]

    # selections
    def save_selection(self, name: str, dataset: str, ids: Sequence[str], *, description: str = "",
                       read: Access | None = None) -> SelectionRecord:
        self._log("save_selection", name, dataset, list(ids), description=description, read=read)
        record = SelectionRecord(id=self._new_id(), name=name, app=self.app_id, dataset=dataset,
                                 owner=self.user, ids=list(ids), description=description, created="now")
        self._selections[record.id] = record
        return record

    def selections(self, dataset: str | None = None) -> list[SelectionRecord]:
        self._log("selections", dataset)
        return [s for s in self._selections.values() if dataset is None or s.dataset == dataset]

    def send_selection(self, selection_id: int, to_app: str) -> str:
        self._log("send_selection", selection_id, to_app)
        if selection_id not in self._selections:
            raise FileNotFoundError(f"no selection {selection_id}")
        return f"/apps/{to_app}?selection={selection_id}"


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def grid_table() -> pd.DataFrame:
    """A 10 x 10 grid of points at integer coordinates: ``x = i % 10``, ``y = i // 10``, id ``"s<i>"``."""
    i = np.arange(100)
    return pd.DataFrame({"id": [f"s{k}" for k in i], "x": (i % 10).astype(float), "y": (i // 10).astype(float),
                         "mag": np.linspace(10, 20, 100)})
