"""The portal's pages (Panel, mounted in the FastAPI application)."""

from __future__ import annotations

from fastapi import FastAPI

from explore.platform.core import Platform


def mount(app: FastAPI, platform: Platform) -> None:
    """Add the portal's pages to ``app``."""
    from explore.web.ui import pages

    pages.mount(app, platform)
