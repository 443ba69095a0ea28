"""Named selections: save, share, send to another app."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Response

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.web.api.schemas import SelectionIn, SelectionPatch, SendIn
from explore.web.deps import current_user, get_platform

router = APIRouter(tags=["selections"])


@router.get("/selections", summary="Selections I may read")
def list_selections(app: str | None = None, dataset: str | None = None, user: Principal = Depends(current_user),
                    platform: Platform = Depends(get_platform)):
    return platform.selections.list(user, app=app, dataset=dataset)


@router.post("/selections", status_code=201, summary="Save a named selection of object ids")
def create(body: SelectionIn, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    rec = platform.selections.save(user, body.name, body.app, body.dataset, body.ids, description=body.description,
                                   read=body.read.to_access(), write=body.write.to_access())
    return platform.selections.info(user, rec.id)


@router.get("/selections/{selection_id}", summary="One selection, with its ids")
def get(selection_id: int, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    info = platform.selections.info(user, selection_id)
    return {**info, "ids": platform.selections.get(user, selection_id).ids}


@router.patch("/selections/{selection_id}", summary="Rename, re-describe, replace the ids or re-share a selection")
def edit(selection_id: int, body: SelectionPatch, user: Principal = Depends(current_user),
         platform: Platform = Depends(get_platform)):
    return platform.selections.update(user, selection_id, name=body.name, description=body.description,
                                      ids=body.ids, read=body.read.to_access() if body.read else None,
                                      write=body.write.to_access() if body.write else None)


@router.delete("/selections/{selection_id}", status_code=204, summary="Delete a selection")
def remove(selection_id: int, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    platform.selections.delete(user, selection_id)
    return Response(status_code=204)


@router.post("/selections/{selection_id}/send", summary="Send a selection to another app: the URL that opens it")
def send(selection_id: int, body: SendIn, user: Principal = Depends(current_user),
         platform: Platform = Depends(get_platform)):
    platform.selections.info(user, selection_id)
    app = platform.catalogue.get(body.to_app)
    return {"url": f"/apps/{app.id}/open?{urlencode({'selection': selection_id})}", "app": app.id}
