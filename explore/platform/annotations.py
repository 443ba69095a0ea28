"""Annotations: a title and description attached to a visualisation of an app (and optionally to
selected objects or a region), readable and writable by whom their author says."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from explore.platform import sharing
from explore.platform.accounts import Principal
from explore.platform.db import Database, utcnow
from explore.platform.errors import BadRequest, Forbidden, NotFound, Unauthorized
from explore.platform.models import Annotation
from explore.sdk import Access, AnnotationRecord

MAX_OBJECTS = 100_000


class Annotations:
    def __init__(self, db: Database, accounts=None) -> None:
        self.db = db
        self.accounts = accounts

    def _record(self, row: Annotation, user: Principal | None) -> AnnotationRecord:
        return AnnotationRecord(
            id=row.id, app=row.app, view=row.view, title=row.title, description=row.description,
            author=row.author.name, object_ids=row.object_ids, region=row.region,
            read=sharing.load(row, "read"), write=sharing.load(row, "write"),
            created=row.created.isoformat(), updated=row.updated.isoformat(),
            can_write=sharing.can_write(user, row, row.author_id),
        )

    @staticmethod
    def _check(title: str, object_ids: Any, region: Any) -> None:
        if not title or not title.strip():
            raise BadRequest("an annotation needs a title")
        if len(title) > 300:
            raise BadRequest("an annotation title is limited to 300 characters")
        if object_ids is not None and len(object_ids) > MAX_OBJECTS:
            raise BadRequest(f"an annotation can name at most {MAX_OBJECTS:,} objects; save a selection instead")
        if region is not None and not isinstance(region, dict):
            raise BadRequest("region must be a JSON object (e.g. {'type': 'box', 'x': [..], 'y': [..]})")

    def create(self, user: Principal | None, app: str, view: str, title: str, description: str = "", *,
               object_ids: list[str] | None = None, region: dict | None = None,
               read: Access | None = None, write: Access | None = None) -> AnnotationRecord:
        if user is None:
            raise Unauthorized("sign in to annotate")
        self._check(title, object_ids, region)
        with self.db.session() as s:
            row = Annotation(author_id=user.id, app=app, view=view or "", title=title.strip(),
                             description=description or "",
                             object_ids=[str(i) for i in object_ids] if object_ids is not None else None,
                             region=region)
            sharing.store(row, "read", read or Access(), self.accounts)
            sharing.store(row, "write", write or Access(), self.accounts)
            s.add(row)
            s.flush()
            s.refresh(row)
            return self._record(row, user)

    def list(self, user: Principal | None, *, app: str | None = None, view: str | None = None) -> list[AnnotationRecord]:
        with self.db.session() as s:
            q = select(Annotation).order_by(Annotation.created.desc())
            if app:
                q = q.where(Annotation.app == app)
            if view:
                q = q.where(Annotation.view == view)
            return [self._record(r, user) for r in s.scalars(q) if sharing.can_read(user, r, r.author_id)]

    def _get(self, s, user: Principal | None, annotation_id: int) -> Annotation:
        row = s.get(Annotation, annotation_id)
        if row is None or not sharing.can_read(user, row, row.author_id):
            raise NotFound(f"no annotation {annotation_id}")
        return row

    def get(self, user: Principal | None, annotation_id: int) -> AnnotationRecord:
        with self.db.session() as s:
            return self._record(self._get(s, user, annotation_id), user)

    def update(self, user: Principal | None, annotation_id: int, **changes: Any) -> AnnotationRecord:
        with self.db.session() as s:
            row = self._get(s, user, annotation_id)
            if not sharing.can_write(user, row, row.author_id):
                raise Forbidden("you may read this annotation but not change it")
            is_author = user is not None and (user.id == row.author_id or user.is_admin)
            if ("read" in changes or "write" in changes) and not is_author:
                raise Forbidden("only the author can change who may read or write an annotation")
            self._check(changes.get("title", row.title), changes.get("object_ids", row.object_ids),
                        changes.get("region", row.region))
            for key in ("title", "description", "object_ids", "region", "view"):
                if key in changes and changes[key] is not None:
                    setattr(row, key, changes[key])
            for key in ("read", "write"):
                if changes.get(key) is not None:
                    sharing.store(row, key, changes[key], self.accounts)
            row.updated = utcnow()
            s.flush()
            return self._record(row, user)

    def delete(self, user: Principal | None, annotation_id: int) -> None:
        with self.db.session() as s:
            row = self._get(s, user, annotation_id)
            if not sharing.can_write(user, row, row.author_id):
                raise Forbidden("you may read this annotation but not delete it")
            s.delete(row)
