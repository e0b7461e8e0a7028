"""Models: list, add, show, destroy, and model config. A user lists only the models it may
read; the creator of a model is its admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.api._deps import MODEL_ADMIN, MODEL_READ, MODEL_WRITE, Caller, Context
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models")
async def list_models(ctx: Context, caller: Caller) -> list[api.ModelInfo]:
    visible = await ctx.users.visible_models(caller)
    return [m for m in await ctx.catalog.models() if visible is None or m.uuid in visible]


@router.post("/v1/models", status_code=201)
async def add_model(ctx: Context, caller: Caller, request: api.AddModelRequest) -> api.ModelInfo:
    await ctx.users.check_controller(caller, "add-model")
    model = await ctx.models.add_model(request.name, request.cloud, request.config)
    await ctx.users.model_added(model.uuid, caller)
    return services.model_info(model)


@router.get("/v1/models/{model}", dependencies=[MODEL_READ])
async def show_model(ctx: Context, model: str) -> api.ModelInfo:
    return await ctx.catalog.model(model)


@router.delete("/v1/models/{model}", dependencies=[MODEL_ADMIN])
async def destroy_model(ctx: Context, model: str) -> dict[str, str]:
    await ctx.models.destroy_model(model)
    return {"model": model, "life": "dying"}


@router.get("/v1/models/{model}/config", dependencies=[MODEL_READ])
async def get_model_config(ctx: Context, model: str) -> dict[str, Any]:
    return await ctx.models.get_model_config(model)


@router.patch("/v1/models/{model}/config", dependencies=[MODEL_WRITE])
async def set_model_config(
    ctx: Context, model: str, request: api.ModelConfigRequest
) -> dict[str, Any]:
    return await ctx.models.set_model_config(model, request.values, request.reset)
