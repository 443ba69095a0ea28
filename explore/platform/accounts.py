"""Users, groups, passwords, API tokens, UI sessions and one-time sign-in links.

Passwords are stored as argon2 hashes, tokens only as their SHA-256. There is no default account:
the first administrator is created with ``explore users add NAME --admin`` or through the one-time
sign-in link that ``explore serve`` prints on a first start with no users.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload

from explore.platform.db import Database, utcnow
from explore.platform.errors import BadRequest, Conflict, NotFound, TooManyAttempts, Unauthorized
from explore.platform.models import Group, LoginFailure, Token, User
from explore.platform.paths import check_user_name

_hasher = PasswordHasher()
# a real hash of a random password, verified against when the user does not exist so that the time
# taken does not tell whether a user name exists
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 8
#: seconds a resolved token is remembered by this process: a token revoked, or a user deactivated or
#: moved between groups, by another process (the CLI) is seen within this time; by this one at once
TOKEN_MEMORY_SECONDS = 5.0
_F = TypeVar("_F", bound=Callable[..., Any])


def _changes_principals(method: _F) -> _F:
    """Forget the remembered tokens once ``method`` (a change to users, groups or tokens) is done."""

    @functools.wraps(method)
    def wrapper(self: Accounts, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            self._resolved.clear()

    return wrapper  # type: ignore[return-value]
ROLES = ("user", "admin")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The signed-in user as the rest of the platform sees it (detached from any DB session)."""

    id: int
    name: str
    role: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(user.id, user.name, user.role, frozenset(g.name for g in user.groups))


class Accounts:
    """Everything about who is who."""

    def __init__(self, db: Database, *, session_hours: float = 12, token_days: float = 90, free_attempts: int = 5):
        self.db = db
        self.session_hours = session_hours
        self.token_days = token_days
        self.free_attempts = free_attempts
        # (token hash, kind) -> (user, monotonic time until which it may be used without a look-up)
        self._resolved: dict[tuple[str, str], tuple[Principal, float]] = {}

    # ---- users ----------------------------------------------------------------------------
    def count_users(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count(User.id))) or 0

    def create_user(
        self,
        name: str,
        password: str | None = None,
        *,
        role: str = "user",
        full_name: str = "",
        email: str = "",
        quota: int | None = None,
    ) -> Principal:
        check_user_name(name)
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if password is not None:
            self._check_password(password)
        with self.db.session() as s:
            if s.scalar(select(User).where(User.name == name)) or s.scalar(select(Group).where(Group.name == name)):
                raise Conflict(f"the name {name!r} is already taken")
            user = User(
                name=name,
                role=role,
                full_name=full_name,
                email=email,
                quota=quota,
                password_hash=_hasher.hash(password) if password is not None else None,
            )
            s.add(user)
            s.flush()
            return Principal.of(user)

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise BadRequest(f"a password needs at least {MIN_PASSWORD} characters")

    @_changes_principals
    def set_password(self, name: str, password: str) -> None:
        self._check_password(password)
        with self.db.session() as s:
            user = self._user(s, name)
            user.password_hash = _hasher.hash(password)
            # a new password ends every open UI session of that user
            s.execute(delete(Token).where(Token.user_id == user.id, Token.kind == "session"))

    @_changes_principals
    def update_user(self, name: str, *, role: str | None = None, quota: int | None = None, active: bool | None = None,
                    full_name: str | None = None, email: str | None = None) -> Principal:
        with self.db.session() as s:
            user = self._user(s, name)
            if role is not None:
                if role not in ROLES:
                    raise BadRequest(f"role must be one of {', '.join(ROLES)}")
                user.role = role
            if quota is not None:
                user.quota = quota if quota >= 0 else None
            if active is not None:
                user.active = active
            if full_name is not None:
                user.full_name = full_name
            if email is not None:
                user.email = email
            return Principal.of(user)

    @_changes_principals
    def delete_user(self, name: str) -> None:
        with self.db.session() as s:
            s.delete(self._user(s, name))

    def get(self, name: str) -> Principal:
        with self.db.session() as s:
            return Principal.of(self._user(s, name))

    def user_row(self, name: str) -> dict:
        with self.db.session() as s:
            u = self._user(s, name)
            return {
                "name": u.name, "full_name": u.full_name, "email": u.email, "role": u.role, "quota": u.quota,
                "active": u.active, "groups": sorted(g.name for g in u.groups), "created": u.created,
                "last_login": u.last_login,
            }

    def list_users(self) -> list[dict]:
        with self.db.session() as s:
            return [
                {"name": u.name, "full_name": u.full_name, "role": u.role, "active": u.active,
                 "groups": sorted(g.name for g in u.groups), "created": u.created, "last_login": u.last_login}
                for u in s.scalars(select(User).order_by(User.name))
            ]

    def exists(self, name: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(User.id).where(User.name == name)) is not None

    def has_password(self, name: str) -> bool:
        with self.db.session() as s:
            return bool(self._user(s, name).password_hash)

    def quota_of(self, name: str, default: int) -> int:
        with self.db.session() as s:
            q = s.scalar(select(User.quota).where(User.name == name))
            return default if q is None else q

    @staticmethod
    def _user(s: Session, name: str) -> User:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no user named {name!r}")
        return user

    # ---- groups ---------------------------------------------------------------------------
    def create_group(self, name: str, description: str = "") -> None:
        check_user_name(name)
        with self.db.session() as s:
            if s.scalar(select(Group).where(Group.name == name)) or s.scalar(select(User).where(User.name == name)):
                raise Conflict(f"the name {name!r} is already taken")
            s.add(Group(name=name, description=description))

    @_changes_principals
    def add_member(self, group: str, user: str) -> None:
        with self.db.session() as s:
            g = self._group(s, group)
            u = self._user(s, user)
            if u not in g.members:
                g.members.append(u)

    @_changes_principals
    def remove_member(self, group: str, user: str) -> None:
        with self.db.session() as s:
            g = self._group(s, group)
            u = self._user(s, user)
            if u in g.members:
                g.members.remove(u)

    def list_groups(self) -> list[dict]:
        with self.db.session() as s:
            return [
                {"name": g.name, "description": g.description, "members": sorted(m.name for m in g.members)}
                for g in s.scalars(select(Group).order_by(Group.name))
            ]

    def group_exists(self, name: str) -> bool:
        with self.db.session() as s:
            return s.scalar(select(Group.id).where(Group.name == name)) is not None

    @_changes_principals
    def delete_group(self, name: str) -> None:
        with self.db.session() as s:
            s.delete(self._group(s, name))

    @staticmethod
    def _group(s: Session, name: str) -> Group:
        group = s.scalar(select(Group).where(Group.name == name))
        if group is None:
            raise NotFound(f"no group named {name!r}")
        return group

    # ---- passwords and throttling -------------------------------------------------------------
    def delay_for(self, failures: int) -> float:
        """Seconds a client must wait after ``failures`` failed sign-ins: none for the first few,
        then doubling from one second up to fifteen minutes."""
        extra = failures - self.free_attempts
        return 0.0 if extra < 0 else float(min(2**extra, 900))

    def authenticate(self, name: str, password: str, *, client: str = "") -> Principal:
        """The user if ``password`` is right; :class:`Unauthorized` if not; :class:`TooManyAttempts`
        while a wait is imposed after repeated failures for that name."""
        key = (name or "").lower()[:200]
        now = utcnow()
        with self.db.session() as s:
            failure = s.get(LoginFailure, key)
            if failure is not None:
                wait = self.delay_for(failure.count) - (now - failure.last).total_seconds()
                if wait > 0:
                    raise TooManyAttempts(
                        f"too many failed sign-ins for {name!r}: try again in {math.ceil(wait)} s", retry_after=wait
                    )
            user = s.scalar(select(User).where(User.name == name))
            ok = False
            try:
                ok = _hasher.verify(user.password_hash if user is not None and user.password_hash else _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok or user is None or not user.active or not user.password_hash:
                if failure is None:
                    failure = LoginFailure(key=key, count=0)
                    s.add(failure)
                failure.count += 1
                failure.last = now
                s.commit()
                raise Unauthorized("wrong user name or password")
            if failure is not None:
                s.delete(failure)
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.last_login = now
            return Principal.of(user)

    # ---- tokens ---------------------------------------------------------------------------
    def issue_token(self, user: str, kind: str = "api", *, name: str = "", hours: float | None = None) -> str:
        """A new secret of ``kind`` (api | session | signin) for ``user``; only its hash is stored."""
        if hours is None:
            hours = {"api": self.token_days * 24, "session": self.session_hours, "signin": 24}[kind]
        secret = secrets.token_urlsafe(32)
        with self.db.session() as s:
            u = self._user(s, user)
            s.add(Token(user_id=u.id, kind=kind, token_hash=hash_token(secret), name=name,
                        expires=utcnow() + dt.timedelta(hours=hours)))
        return secret

    def remembered_token(self, secret: str, kind: str = "api") -> Principal | None:
        """The user of a token resolved in the last :data:`TOKEN_MEMORY_SECONDS` (no database
        look-up: the server answers it on the event loop), or None."""
        if not secret:
            return None
        found = self._resolved.get((hash_token(secret), kind))
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def resolve_token(self, secret: str, kind: str = "api") -> Principal:
        """The user a live token of ``kind`` belongs to, or :class:`Unauthorized`."""
        if not secret:
            raise Unauthorized("no credentials")
        now = utcnow()
        with self.db.session() as s:
            # this runs on every request: the user comes joined, the group names in one more query, and
            # not the other members of those groups (which the groups' relationship would load by default)
            token = s.scalar(select(Token)
                             .options(joinedload(Token.user).selectinload(User.groups).lazyload(Group.members))
                             .where(Token.token_hash == hash_token(secret), Token.kind == kind))
            if token is None or (token.expires is not None and token.expires < now) or not token.user.active:
                raise Unauthorized("the token is invalid or has expired")
            if token.last_used is None or (now - token.last_used).total_seconds() > 60:
                token.last_used = now
            principal = Principal.of(token.user)
            remember = TOKEN_MEMORY_SECONDS
            if token.expires is not None:
                remember = min(remember, (token.expires - now).total_seconds())
            if kind != "signin" and remember > 0:
                if len(self._resolved) > 10_000:
                    self._resolved.clear()
                self._resolved[(token.token_hash, kind)] = (principal, time.monotonic() + remember)
            return principal

    @_changes_principals
    def revoke_token(self, secret: str) -> None:
        with self.db.session() as s:
            s.execute(delete(Token).where(Token.token_hash == hash_token(secret)))

    def list_tokens(self, user: str) -> list[dict]:
        with self.db.session() as s:
            u = self._user(s, user)
            rows = s.scalars(select(Token).where(Token.user_id == u.id, Token.kind == "api").order_by(Token.created))
            return [{"id": t.id, "name": t.name, "created": t.created, "expires": t.expires, "last_used": t.last_used}
                    for t in rows]

    @_changes_principals
    def revoke_token_id(self, user: str, token_id: int) -> None:
        with self.db.session() as s:
            u = self._user(s, user)
            found = s.execute(delete(Token).where(Token.id == token_id, Token.user_id == u.id, Token.kind == "api"))
            if not found.rowcount:
                raise NotFound(f"no token {token_id}")

    def redeem_signin(self, secret: str) -> Principal:
        """Use a one-time sign-in link: valid once, then gone."""
        user = self.resolve_token(secret, "signin")
        self.revoke_token(secret)
        return user
