"""Applications and their units: deploy, scale, remove, config, refresh, resolve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller.api._deps import Context
from runecraft.controller.api._openapi import declares
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()
APP = "/v1/models/{model}/applications/{application}"


@router.post("/v1/models/{model}/applications", status_code=201)
async def deploy(ctx: Context, model: str, request: api.DeployRequest) -> api.UnitsResponse:
    placed = await ctx.models.deploy(model, request)
    return api.UnitsResponse.placed(placed)


@router.delete(APP)
async def remove_application(
    ctx: Context, model: str, application: str, force: bool = False, no_wait: bool = False
) -> api.ApplicationRemoval:
    await ctx.models.remove_application(model, application, force=force, no_wait=no_wait)
    return api.ApplicationRemoval(application=application, life="dying")


@router.post(APP + "/units")
async def add_units(
    ctx: Context, model: str, application: str, request: api.AddUnitsRequest
) -> api.UnitsResponse:
    placed = await ctx.models.add_units(model, application, request)
    return api.UnitsResponse.placed(placed)


@router.post(APP + "/scale")
async def scale(
    ctx: Context, model: str, application: str, request: api.ScaleRequest
) -> api.ScaleResponse:
    scaled = await ctx.models.scale(model, application, scale=request.scale, change=request.change)
    return api.ScaleResponse(
        application=application,
        scale=scaled.scale,
        added=list(scaled.added),
        removed=scaled.removed,
    )


@router.post("/v1/models/{model}/units/remove")
async def remove_units(
    ctx: Context, model: str, request: api.RemoveUnitsRequest
) -> api.UnitsResponse:
    await ctx.models.remove_units(
        model, request.units, force=request.force, no_wait=request.no_wait
    )
    return api.UnitsResponse(units=request.units)


@router.get(APP + "/config", **declares(api.ApplicationConfig))
async def get_config(ctx: Context, model: str, application: str) -> dict[str, Any]:
    return await ctx.models.get_config(model, application)


@router.patch(APP + "/config")
async def set_config(
    ctx: Context, model: str, application: str, request: api.ConfigRequest
) -> dict[str, Any]:
    return await ctx.models.set_config(model, application, request.values, request.reset)


@router.post(APP + "/refresh")
async def refresh(
    ctx: Context, model: str, application: str, request: api.RefreshRequest
) -> api.RefreshResponse:
    record = await ctx.models.refresh(model, application, request.charm_sha256, request.origin)
    return api.RefreshResponse(
        application=record.name,
        charm=await ctx.catalog.charm_name(record.charm_sha256),
        revision=record.charm_revision
        if record.origin_revision is None
        else record.origin_revision,
    )


@router.post("/v1/models/{model}/units/resolve")
async def resolve(ctx: Context, model: str, request: api.ResolveRequest) -> api.UnitsResponse:
    await ctx.models.resolve(model, request.units, retry=not request.no_retry)
    return api.UnitsResponse(units=request.units)
