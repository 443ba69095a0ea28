"""FastAPI dependencies: the platform, and who is asking.

A request is authenticated by an API bearer token (``Authorization: Bearer ...``) or by the signed UI
session cookie. Cookie-authenticated requests that change something must carry the CSRF token
(header ``X-CSRF-Token``) that was set beside the session cookie.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import Forbidden, Unauthorized

SESSION_COOKIE = "explore_session"
CSRF_COOKIE = "explore_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


# Dependencies that do no I/O are ``async``: FastAPI runs a synchronous one in its thread pool, a hop
# per dependency per request that costs more than the dependency itself.


async def get_platform(request: Request) -> Platform:
    return request.app.state.platform


def _serializer(platform: Platform) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(platform.settings.signing_key, salt="explore-session")


def sign_session(platform: Platform, token: str) -> str:
    return _serializer(platform).dumps(token)


def unsign_session(platform: Platform, value: str) -> str | None:
    try:
        return _serializer(platform).loads(value, max_age=int(platform.settings.session_hours * 3600))
    except BadSignature:
        return None


def csrf_token(platform: Platform, session_token: str) -> str:
    """The CSRF token belonging to a session (an HMAC of it: nothing to store)."""
    return hmac.new(platform.settings.signing_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def session_user(platform: Platform, cookie_value: str | None) -> tuple[Principal, str] | None:
    """The user of a signed session cookie value, with the session token; None if invalid."""
    if not cookie_value:
        return None
    token = unsign_session(platform, cookie_value)
    if not token:
        return None
    try:
        return platform.accounts.resolve_token(token, "session"), token
    except Unauthorized:
        return None


async def optional_user(request: Request, platform: Platform = Depends(get_platform)) -> Principal | None:
    """The user a request is from (None: anonymous). A token resolved in the last few seconds is
    answered here, on the event loop; otherwise the database look-up runs in the thread pool."""
    accounts = platform.accounts
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, secret = auth.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthorized("use 'Authorization: Bearer <token>' (get one from POST /api/v1/auth/token)")
        return accounts.remembered_token(secret, "api") or await run_in_threadpool(accounts.resolve_token, secret, "api")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    token = unsign_session(platform, cookie)
    if not token:
        return None
    user = accounts.remembered_token(token, "session")
    if user is None:
        try:
            user = await run_in_threadpool(accounts.resolve_token, token, "session")
        except Unauthorized:
            return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if not sent or not hmac.compare_digest(str(sent), csrf_token(platform, token)):
            raise Forbidden("missing or wrong CSRF token: reload the page and try again")
    return user


async def current_user(user: Principal | None = Depends(optional_user)) -> Principal:
    if user is None:
        raise Unauthorized("sign in first: POST /api/v1/auth/token with your user name and password")
    return user


async def admin_user(user: Principal = Depends(current_user)) -> Principal:
    if not user.is_admin:
        raise Forbidden("this needs an administrator")
    return user
