"""Every error is a JSON body ``{"error": kind, "message": text}`` with the right status."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from explore.platform.errors import ExploreError, InvalidParams, TooManyAttempts, Unauthorized

log = logging.getLogger(__name__)


def error_body(kind: str, message: str, **extra) -> dict:
    return {"error": kind, "message": message, **extra}


def install(app: FastAPI) -> None:
    @app.exception_handler(ExploreError)
    async def _explore_error(request: Request, exc: ExploreError):
        extra = {"errors": exc.errors} if isinstance(exc, InvalidParams) else {}
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(math.ceil(exc.retry_after))
        if isinstance(exc, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(error_body(type(exc).__name__, exc.message, **extra), status_code=exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"]} for e in exc.errors()]
        text = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse(error_body("InvalidRequest", f"invalid request: {text}", errors=errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"nothing at {request.url.path}"
        return JSONResponse(error_body(kind, message), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(PermissionError)
    async def _perm(request: Request, exc: PermissionError):
        return JSONResponse(error_body("Forbidden", str(exc)), status_code=403)

    @app.exception_handler(FileNotFoundError)
    async def _nf(request: Request, exc: FileNotFoundError):
        return JSONResponse(error_body("NotFound", str(exc)), status_code=404)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("InternalError", "an internal error occurred; it has been logged"),
                            status_code=500)
