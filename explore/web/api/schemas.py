"""Pydantic schemas of the REST API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from explore.sdk import Access


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class Me(BaseModel):
    name: str
    role: str
    groups: list[str]
    quota: int
    usage: int


class FileEntry(BaseModel):
    path: str
    name: str
    is_dir: bool
    size: int
    modified: float


class Listing(BaseModel):
    path: str
    is_dir: Literal[True] = True
    entries: list[FileEntry]
    rights: list[str]


class MoveIn(BaseModel):
    to: str = Field(description="the new path, e.g. 'alice/results/renamed.csv'")


class PermissionsIn(BaseModel):
    public: bool = False
    users: dict[str, Literal["read", "write"]] = Field(default_factory=dict)
    groups: dict[str, Literal["read", "write"]] = Field(default_factory=dict)


class AccessIn(BaseModel):
    level: Literal["private", "shared", "public"] = "private"
    users: list[str] = Field(default_factory=list)
    groups: list[str] = Field(default_factory=list)

    def to_access(self) -> Access:
        return Access(self.level, list(self.users), list(self.groups))


class RunIn(BaseModel):
    app: str
    params: dict[str, Any] = Field(default_factory=dict)


class AnnotationIn(BaseModel):
    app: str
    view: str = ""
    title: str
    description: str = ""
    object_ids: list[str] | None = None
    region: dict[str, Any] | None = None
    read: AccessIn = Field(default_factory=AccessIn)
    write: AccessIn = Field(default_factory=AccessIn)


class AnnotationPatch(BaseModel):
    title: str | None = None
    description: str | None = None
    view: str | None = None
    object_ids: list[str] | None = None
    region: dict[str, Any] | None = None
    read: AccessIn | None = None
    write: AccessIn | None = None


class SelectionIn(BaseModel):
    name: str
    app: str
    dataset: str
    ids: list[str | int]
    description: str = ""
    read: AccessIn = Field(default_factory=AccessIn)
    write: AccessIn = Field(default_factory=AccessIn)


class SelectionPatch(BaseModel):
    name: str | None = None
    description: str | None = None
    ids: list[str | int] | None = None
    read: AccessIn | None = None
    write: AccessIn | None = None


class SendIn(BaseModel):
    to_app: str


class UserIn(BaseModel):
    name: str
    password: str | None = None
    role: Literal["user", "admin"] = "user"
    full_name: str = ""
    email: str = ""
    quota: int | None = None


class UserPatch(BaseModel):
    role: Literal["user", "admin"] | None = None
    quota: int | None = None
    active: bool | None = None
    password: str | None = None
    full_name: str | None = None
    email: str | None = None


class GroupIn(BaseModel):
    name: str
    description: str = ""
    members: list[str] = Field(default_factory=list)
