"""Annotations on visualisations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.web.api.schemas import AnnotationIn, AnnotationPatch
from explore.web.deps import current_user, get_platform

router = APIRouter(tags=["annotations"])


@router.get("/annotations", summary="Annotations I may read (of one app / view)")
def list_annotations(app: str | None = None, view: str | None = None, user: Principal = Depends(current_user),
                     platform: Platform = Depends(get_platform)):
    return platform.annotations.list(user, app=app, view=view)


@router.post("/annotations", status_code=201, summary="Annotate a visualisation")
def create(body: AnnotationIn, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.annotations.create(user, body.app, body.view, body.title, body.description,
                                       object_ids=body.object_ids, region=body.region,
                                       read=body.read.to_access(), write=body.write.to_access())


@router.get("/annotations/{annotation_id}", summary="One annotation")
def get(annotation_id: int, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.annotations.get(user, annotation_id)


@router.patch("/annotations/{annotation_id}", summary="Edit an annotation (write access needed)")
def edit(annotation_id: int, body: AnnotationPatch, user: Principal = Depends(current_user),
         platform: Platform = Depends(get_platform)):
    changes = body.model_dump(exclude_unset=True)
    for key in ("read", "write"):
        if getattr(body, key) is not None:
            changes[key] = getattr(body, key).to_access()
    return platform.annotations.update(user, annotation_id, **changes)


@router.delete("/annotations/{annotation_id}", status_code=204, summary="Delete an annotation (write access needed)")
def remove(annotation_id: int, user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    platform.annotations.delete(user, annotation_id)
    return Response(status_code=204)
