"""Clouds: list, show, add (a Kubernetes cloud from a kubeconfig), update, give a
credential, remove."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft.controller.api._deps import Context
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/clouds")
async def list_clouds(ctx: Context) -> list[api.CloudInfo]:
    return ctx.clouds.list()


@router.get("/v1/clouds/{name}")
async def show_cloud(ctx: Context, name: str) -> api.CloudInfo:
    return ctx.clouds.show(name)


@router.post("/v1/clouds", status_code=201)
async def add_cloud(ctx: Context, request: api.AddCloudRequest) -> api.CloudInfo:
    return await ctx.clouds.add(request)


@router.put("/v1/clouds/{name}")
async def update_cloud(ctx: Context, name: str, request: api.UpdateCloudRequest) -> api.CloudInfo:
    return await ctx.clouds.update(name, request)


@router.put("/v1/clouds/{name}/credential")
async def set_cloud_credential(
    ctx: Context, name: str, request: api.CloudCredentialRequest
) -> api.CloudInfo:
    return await ctx.clouds.set_credential(name, request)


@router.delete("/v1/clouds/{name}")
async def remove_cloud(ctx: Context, name: str) -> api.CloudRemoved:
    await ctx.clouds.remove(name)
    return api.CloudRemoved(cloud=name)
