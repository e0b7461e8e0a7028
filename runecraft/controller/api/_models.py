"""Models: list, add, show, destroy, and model config."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.api._deps import Context
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models")
async def list_models(ctx: Context) -> list[api.ModelInfo]:
    return await ctx.catalog.models()


@router.post("/v1/models", status_code=201)
async def add_model(ctx: Context, request: api.AddModelRequest) -> api.ModelInfo:
    return services.model_info(
        await ctx.models.add_model(request.name, request.cloud, request.config)
    )


@router.get("/v1/models/{model}")
async def show_model(ctx: Context, model: str) -> api.ModelInfo:
    return await ctx.catalog.model(model)


@router.delete("/v1/models/{model}")
async def destroy_model(ctx: Context, model: str) -> dict[str, str]:
    await ctx.models.destroy_model(model)
    return {"model": model, "life": "dying"}


@router.get("/v1/models/{model}/config")
async def get_model_config(ctx: Context, model: str) -> dict[str, Any]:
    return await ctx.models.get_model_config(model)


@router.patch("/v1/models/{model}/config")
async def set_model_config(
    ctx: Context, model: str, request: api.ModelConfigRequest
) -> dict[str, Any]:
    return await ctx.models.set_model_config(model, request.values, request.reset)
