"""Administration: users and groups (administrators only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from explore.platform.accounts import Principal
from explore.platform.core import Platform
from explore.web.api.schemas import GroupIn, UserIn, UserPatch
from explore.web.deps import admin_user, current_user, get_platform

router = APIRouter(tags=["administration"])


@router.get("/users", summary="All users (administrators see details; others see names only)")
def list_users(user: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    users = platform.accounts.list_users()
    if user.is_admin:
        return users
    return [{"name": u["name"], "full_name": u["full_name"]} for u in users if u["active"]]


@router.post("/users", status_code=201, summary="Create a user")
def create_user(body: UserIn, _: Principal = Depends(admin_user), platform: Platform = Depends(get_platform)):
    platform.create_user(body.name, body.password, role=body.role, full_name=body.full_name, email=body.email,
                         quota=body.quota)
    return platform.accounts.user_row(body.name)


@router.patch("/users/{name}", summary="Change a user's role, quota, state or password")
def edit_user(name: str, body: UserPatch, _: Principal = Depends(admin_user),
              platform: Platform = Depends(get_platform)):
    platform.accounts.update_user(name, role=body.role, quota=body.quota, active=body.active,
                                  full_name=body.full_name, email=body.email)
    if body.password:
        platform.accounts.set_password(name, body.password)
    return platform.accounts.user_row(name)


@router.get("/groups", summary="All groups")
def list_groups(_: Principal = Depends(current_user), platform: Platform = Depends(get_platform)):
    return platform.accounts.list_groups()


@router.post("/groups", status_code=201, summary="Create a group")
def create_group(body: GroupIn, _: Principal = Depends(admin_user), platform: Platform = Depends(get_platform)):
    platform.accounts.create_group(body.name, body.description)
    for member in body.members:
        platform.accounts.add_member(body.name, member)
    return next(g for g in platform.accounts.list_groups() if g["name"] == body.name)


@router.put("/groups/{name}/members/{user}", status_code=204, summary="Add a user to a group")
def add_member(name: str, user: str, _: Principal = Depends(admin_user), platform: Platform = Depends(get_platform)):
    platform.accounts.add_member(name, user)
    return Response(status_code=204)


@router.delete("/groups/{name}/members/{user}", status_code=204, summary="Remove a user from a group")
def remove_member(name: str, user: str, _: Principal = Depends(admin_user),
                  platform: Platform = Depends(get_platform)):
    platform.accounts.remove_member(name, user)
    return Response(status_code=204)
