"""Models: list, add, show, destroy, and model config. A user lists only the models it may
read; the creator of a model is its admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import MODEL_ADMIN, MODEL_READ, MODEL_WRITE, Caller, Context
from runecraft.controller.api._openapi import declares
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()

MODEL_CONFIG = declares(dict[str, api.ModelConfigEntry])


@router.get("/v1/models")
async def list_models(ctx: Context, caller: Caller) -> list[api.ModelInfo]:
    visible = await ctx.users.visible_models(caller)
    return [m for m in await ctx.catalog.models() if visible is None or m.uuid in visible]


@router.post("/v1/models", status_code=201)
async def add_model(ctx: Context, caller: Caller, request: api.AddModelRequest) -> api.ModelInfo:
    await ctx.users.check_controller(caller, "add-model")
    if not caller.superuser and not ctx.clouds.registry.is_builtin(request.cloud):
        # An added cloud holds the credential it was added with, which a trusted charm's
        # `credential-get` hands out: models there are for those who hold it (Juju asks
        # for the cloud's own access, which Runecraft does not grant yet).
        raise errors.PermissionDeniedError(
            f'permission denied: a model on cloud "{request.cloud}" (added with its '
            f'credential) needs superuser access; user "{caller.name}" has {caller.access}'
        )
    model = await ctx.models.add_model(request.name, request.cloud, request.config)
    await ctx.users.model_added(model.uuid, caller)
    return services.model_info(model)


@router.get("/v1/models/{model}", dependencies=[MODEL_READ])
async def show_model(ctx: Context, model: str) -> api.ModelInfo:
    return await ctx.catalog.model(model)


@router.delete("/v1/models/{model}", dependencies=[MODEL_ADMIN])
async def destroy_model(ctx: Context, model: str, force: bool = False) -> api.ModelRemoval:
    await ctx.models.destroy_model(model, force=force)
    return api.ModelRemoval(model=model, life="dying")


@router.get("/v1/models/{model}/config", dependencies=[MODEL_READ], **MODEL_CONFIG)
async def get_model_config(ctx: Context, model: str) -> dict[str, Any]:
    return await ctx.models.get_model_config(model)


@router.patch("/v1/models/{model}/config", dependencies=[MODEL_WRITE], **MODEL_CONFIG)
async def set_model_config(
    ctx: Context, model: str, request: api.ModelConfigRequest
) -> dict[str, Any]:
    return await ctx.models.set_model_config(model, request.values, request.reset)
