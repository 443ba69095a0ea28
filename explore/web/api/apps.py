"""The app catalogue."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from explore.platform.core import Platform
from explore.web.deps import get_platform

router = APIRouter(tags=["apps"])


@router.get("/apps", summary="The installed Scientific Data Applications")
def list_apps(body: str | None = None, platform: Platform = Depends(get_platform)):
    return [cls.metadata() for cls in platform.catalogue.list(body)]


@router.get("/apps/{app_id}", summary="One app: metadata and the JSON schema of its batch parameters")
def get_app(app_id: str, platform: Platform = Depends(get_platform)):
    return platform.catalogue.describe(app_id)
