"""Read and write access of annotations and selections: private, shared with users and groups, or
public (every signed-in user)."""

from __future__ import annotations

from explore.platform.accounts import Principal
from explore.platform.errors import BadRequest
from explore.sdk import Access

LEVELS = ("private", "shared", "public")


def check_access(access: Access, accounts=None) -> Access:
    """A clean copy of ``access``; with ``accounts``, every named user and group must exist."""
    if access.level not in LEVELS:
        raise BadRequest(f"access level must be one of {', '.join(LEVELS)}, not {access.level!r}")
    if accounts is not None:
        for name in access.users:
            if not accounts.exists(name):
                raise BadRequest(f"no user named {name!r}")
        for name in access.groups:
            if not accounts.group_exists(name):
                raise BadRequest(f"no group named {name!r}")
    return Access(access.level, sorted(set(access.users)), sorted(set(access.groups)))


def store(row, prefix: str, access: Access, accounts=None) -> None:
    access = check_access(access, accounts)
    setattr(row, f"{prefix}_level", access.level)
    setattr(row, f"{prefix}_users", access.users)
    setattr(row, f"{prefix}_groups", access.groups)


def load(row, prefix: str) -> Access:
    return Access(getattr(row, f"{prefix}_level"), list(getattr(row, f"{prefix}_users") or []),
                  list(getattr(row, f"{prefix}_groups") or []))


def granted(user: Principal | None, owner_id: int, access: Access) -> bool:
    if user is None:
        return False
    if user.is_admin or user.id == owner_id:
        return True
    if access.level == "public":
        return True
    if access.level == "shared":
        return user.name in access.users or bool(user.groups & set(access.groups))
    return False


def can_read(user: Principal | None, row, owner_id: int) -> bool:
    return granted(user, owner_id, load(row, "read")) or granted(user, owner_id, load(row, "write"))


def can_write(user: Principal | None, row, owner_id: int) -> bool:
    return granted(user, owner_id, load(row, "write"))
