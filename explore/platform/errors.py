"""Platform exceptions. Each names the problem in words a scientist understands; the web layer maps
each class to its HTTP status and the CLI prints the message."""

from __future__ import annotations


class ExploreError(Exception):
    """Base of every error the platform raises on purpose."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ExploreError):
    status = 400


class InvalidParams(ExploreError):
    """Parameters that do not validate against an app's ``Params``; ``errors`` are pydantic's."""

    status = 422

    def __init__(self, message: str, errors: list | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class Unauthorized(ExploreError):
    status = 401


class Forbidden(ExploreError):
    status = 403


class NotFound(ExploreError):
    status = 404


class Conflict(ExploreError):
    status = 409


class TooLarge(ExploreError):
    """A single upload over the size limit, or a write that would exceed the user's quota."""

    status = 413


class TooManyAttempts(ExploreError):
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageFull(ExploreError):
    status = 507
