"""The ASGI application: the REST API under ``/api/v1`` (OpenAPI at ``/api/docs``), the map tiles,
and the Panel pages of the portal, all in one process."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from importlib.util import find_spec

from fastapi import FastAPI

from explore import __version__
from explore.platform.core import Platform
from explore.settings import Settings
from explore.web import errors
from explore.web.api import admin, annotations, apps, auth, files, runs, selections

log = logging.getLogger(__name__)
API = "/api/v1"


def create_app(settings: Settings | None = None, *, platform: Platform | None = None, scheduler: bool = True,
               ui: bool = True) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings, platform
        Give one: the platform is built from the settings when not given.
    scheduler
        Execute queued runs from this process (the server does; tests of the API alone may not).
    ui
        Mount the Panel pages of the portal.
    """
    platform = platform or Platform(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if scheduler:
            platform.start_scheduler()
        try:
            yield
        finally:
            if scheduler and platform.scheduler is not None:
                platform.scheduler.close()
                platform.scheduler = None

    app = FastAPI(
        title="EXPLORE",
        version=__version__,
        description="Find data on the stars of the Milky Way and on the Moon, run Scientific Data Applications "
        "next to it, keep results in a personal workspace.",
        docs_url="/api/docs",
        redoc_url="/api/redoc",
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.platform = platform
    errors.install(app)
    for module in (auth, files, apps, runs, annotations, selections, admin):
        app.include_router(module.router, prefix=API)
    if find_spec("explore.web.api.products") is not None:
        from explore.web.api import products

        app.include_router(products.router, prefix=API)
    if find_spec("explore.web.tiles") is not None:
        from explore.web import tiles

        app.include_router(tiles.router)
    if ui:
        from explore.web.ui import mount

        mount(app, platform)
    return app


def server_config(app, *, host: str, port: int, **options):
    """The uvicorn configuration ``explore serve`` runs ``app`` with: uvicorn's httptools protocol taught
    zero-copy file sends (:mod:`explore.web.zerocopy`), or uvicorn's choice where httptools is missing."""
    import uvicorn

    try:
        from explore.web.zerocopy import ZeroCopyHttpToolsProtocol
    except ImportError:  # no httptools: h11, and downloads stream through the event loop
        return uvicorn.Config(app, host=host, port=port, **options)
    return uvicorn.Config(app, host=host, port=port, http=ZeroCopyHttpToolsProtocol, **options)
