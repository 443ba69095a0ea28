"""Named selections: sets of object ids of one app dataset that a user saves, shares and sends to
another app (the selection bus behind linked views)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence

from sqlalchemy import select

from explore.platform import sharing
from explore.platform.accounts import Principal
from explore.platform.db import Database, utcnow
from explore.platform.errors import BadRequest, Forbidden, NotFound, Unauthorized
from explore.platform.models import Selection
from explore.sdk import Access, SelectionRecord

MAX_IDS = 50_000_000


def pack_ids(ids: Sequence) -> bytes:
    return zlib.compress(json.dumps([str(i) for i in ids], separators=(",", ":")).encode(), 6)


def unpack_ids(blob: bytes) -> list[str]:
    return json.loads(zlib.decompress(blob))


class Selections:
    def __init__(self, db: Database, accounts=None) -> None:
        self.db = db
        self.accounts = accounts

    def _record(self, row: Selection, *, with_ids: bool = True) -> SelectionRecord:
        return SelectionRecord(id=row.id, name=row.name, app=row.app, dataset=row.dataset, owner=row.owner.name,
                               ids=unpack_ids(row.ids_blob) if with_ids else [], description=row.description,
                               created=row.created.isoformat())

    def summary(self, row: Selection, user: Principal | None) -> dict:
        return {"id": row.id, "name": row.name, "app": row.app, "dataset": row.dataset, "owner": row.owner.name,
                "count": row.count, "description": row.description, "created": row.created.isoformat(),
                "read": sharing.load(row, "read").__dict__, "write": sharing.load(row, "write").__dict__,
                "can_write": sharing.can_write(user, row, row.owner_id)}

    def save(self, user: Principal | None, name: str, app: str, dataset: str, ids: Sequence, *,
             description: str = "", read: Access | None = None, write: Access | None = None) -> SelectionRecord:
        if user is None:
            raise Unauthorized("sign in to save a selection")
        if not name or not name.strip():
            raise BadRequest("a selection needs a name")
        if not dataset:
            raise BadRequest("a selection belongs to a dataset: name it")
        if len(ids) > MAX_IDS:
            raise BadRequest(f"a selection holds at most {MAX_IDS:,} ids")
        with self.db.session() as s:
            row = Selection(owner_id=user.id, name=name.strip(), app=app, dataset=dataset, description=description,
                            count=len(ids), ids_blob=pack_ids(ids))
            sharing.store(row, "read", read or Access(), self.accounts)
            sharing.store(row, "write", write or Access(), self.accounts)
            s.add(row)
            s.flush()
            s.refresh(row)
            return self._record(row)

    def list(self, user: Principal | None, *, app: str | None = None, dataset: str | None = None) -> list[dict]:
        with self.db.session() as s:
            q = select(Selection).order_by(Selection.created.desc())
            if app:
                q = q.where(Selection.app == app)
            if dataset:
                q = q.where(Selection.dataset == dataset)
            return [self.summary(r, user) for r in s.scalars(q) if sharing.can_read(user, r, r.owner_id)]

    def _get(self, s, user: Principal | None, selection_id: int) -> Selection:
        row = s.get(Selection, selection_id)
        if row is None or not sharing.can_read(user, row, row.owner_id):
            raise NotFound(f"no selection {selection_id}")
        return row

    def get(self, user: Principal | None, selection_id: int) -> SelectionRecord:
        with self.db.session() as s:
            return self._record(self._get(s, user, selection_id))

    def info(self, user: Principal | None, selection_id: int) -> dict:
        with self.db.session() as s:
            return self.summary(self._get(s, user, selection_id), user)

    def update(self, user: Principal | None, selection_id: int, *, name: str | None = None,
               description: str | None = None, ids: Sequence | None = None,
               read: Access | None = None, write: Access | None = None) -> dict:
        with self.db.session() as s:
            row = self._get(s, user, selection_id)
            if not sharing.can_write(user, row, row.owner_id):
                raise Forbidden("you may read this selection but not change it")
            if (read or write) and not (user and (user.id == row.owner_id or user.is_admin)):
                raise Forbidden("only the owner can change who may use a selection")
            if name is not None:
                if not name.strip():
                    raise BadRequest("a selection needs a name")
                row.name = name.strip()
            if description is not None:
                row.description = description
            if ids is not None:
                row.ids_blob = pack_ids(ids)
                row.count = len(ids)
            if read is not None:
                sharing.store(row, "read", read, self.accounts)
            if write is not None:
                sharing.store(row, "write", write, self.accounts)
            row.updated = utcnow()
            s.flush()
            return self.summary(row, user)

    def delete(self, user: Principal | None, selection_id: int) -> None:
        with self.db.session() as s:
            row = self._get(s, user, selection_id)
            if not sharing.can_write(user, row, row.owner_id):
                raise Forbidden("you may read this selection but not delete it")
            s.delete(row)
