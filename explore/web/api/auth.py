"""Signing in: API tokens, UI session cookies, one-time sign-in links."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.platform.errors import BadRequest
from explore.web.api.schemas import Me, TokenOut
from explore.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    current_user,
    get_platform,
    sign_session,
    unsign_session,
)

router = APIRouter(tags=["accounts"])


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/auth/token", response_model=TokenOut, summary="Exchange a user name and password for an API token")
def token(username: Annotated[str, Form()], password: Annotated[str, Form()], request: Request,
          name: Annotated[str, Form()] = "api", platform: Platform = Depends(get_platform)) -> TokenOut:
    user = platform.accounts.authenticate(username, password, client=_client(request))
    secret = platform.accounts.issue_token(user.name, "api", name=name)
    return TokenOut(access_token=secret, expires_in=int(platform.settings.token_days * 86400))


def start_session(platform: Platform, user: Principal, response) -> None:
    """Set the signed session cookie and its CSRF companion on ``response``."""
    secret = platform.accounts.issue_token(user.name, "session")
    max_age = int(platform.settings.session_hours * 3600)
    secure = platform.settings.secure_cookies
    response.set_cookie(SESSION_COOKIE, sign_session(platform, secret), max_age=max_age, httponly=True,
                        samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf_token(platform, secret), max_age=max_age, httponly=False,
                        samesite="lax", secure=secure, path="/")


def _safe_next(target: str) -> str:
    # only local paths: never redirect to another site after signing in
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.post("/auth/login", summary="Sign in to the portal (sets the session cookie)")
async def login(request: Request, platform: Platform = Depends(get_platform)):
    if request.headers.get("content-type", "").startswith("application/json"):
        data = await request.json()
    else:
        data = dict(await request.form())
    username, password = str(data.get("username", "")), str(data.get("password", ""))
    target = _safe_next(str(data.get("next", "/") or "/"))
    wants_html = "text/html" in request.headers.get("accept", "")
    try:
        user = platform.accounts.authenticate(username, password, client=_client(request))
    except Exception as exc:
        if wants_html:
            from urllib.parse import quote

            return RedirectResponse(f"/login?error={quote(getattr(exc, 'message', str(exc)))}&next={quote(target)}",
                                    status_code=303)
        raise
    response = RedirectResponse(target, status_code=303) if wants_html else JSONResponse(
        {"name": user.name, "role": user.role})
    start_session(platform, user, response)
    return response


@router.post("/auth/logout", summary="Sign out of the portal")
@router.get("/auth/logout", include_in_schema=False)
def logout(request: Request, platform: Platform = Depends(get_platform)):
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        token = unsign_session(platform, value)
        if token:
            platform.accounts.revoke_token(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/signin/{secret}", include_in_schema=False)
def signin_link(secret: str, platform: Platform = Depends(get_platform)):
    """A one-time sign-in link (printed by the server on a first start): signs in, then asks for a password."""
    user = platform.accounts.redeem_signin(secret)
    response = RedirectResponse("/account?welcome=1", status_code=303)
    start_session(platform, user, response)
    return response


@router.get("/me", response_model=Me, summary="Who am I")
def me(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)) -> Me:
    return Me(name=user.name, role=user.role, groups=sorted(user.groups), quota=platform.workspace.quota(user.name),
              usage=platform.workspace.usage(user.name))


@router.post("/me/password", summary="Change my password")
def change_password(password: Annotated[str, Form()], current: Annotated[str, Form()] = "",
                    user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    row = platform.accounts.user_row(user.name)
    has_password = platform.accounts.has_password(user.name)
    if has_password:
        if not current:
            raise BadRequest("give your current password")
        platform.accounts.authenticate(user.name, current)
    platform.accounts.set_password(user.name, password)
    return {"name": row["name"], "message": "password changed; sign in again"}


@router.get("/me/tokens", summary="My API tokens")
def list_tokens(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.accounts.list_tokens(user.name)


@router.delete("/me/tokens/{token_id}", status_code=204, summary="Revoke one of my API tokens")
def revoke_token(token_id: int, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    platform.accounts.revoke_token_id(user.name, token_id)
