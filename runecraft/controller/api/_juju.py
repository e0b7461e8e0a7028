"""Routes for Juju's `show-unit`, an application's deploy-time settings (constraints,
trust, base) and the model's constraints; show-unit is read from one model snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller.api._deps import Context
from runecraft.controller.api._openapi import declares
from runecraft.schemas.constraints import (
    ApplicationSettings,
    ModelConstraints,
    SetApplicationSettings,
)
from runecraft.schemas.status import UnitInfo

__all__ = ["router"]

router = APIRouter()
"""`GET …/units/{application}/{number}`; `GET`/`PATCH …/applications/{app}/settings`;
`GET`/`PUT …/models/{model}/constraints`."""


@router.get("/v1/models/{model}/units/{application}/{number}", **declares(dict[str, UnitInfo]))
async def show_unit(ctx: Context, model: str, application: str, number: str) -> dict[str, Any]:
    return await ctx.status.show_unit(model, f"{application}/{number}")


@router.get("/v1/models/{model}/applications/{application}/settings")
async def get_settings(ctx: Context, model: str, application: str) -> ApplicationSettings:
    return await ctx.settings.get(model, application)


@router.patch("/v1/models/{model}/applications/{application}/settings")
async def change_settings(
    ctx: Context, model: str, application: str, request: SetApplicationSettings
) -> ApplicationSettings:
    return await ctx.settings.change(model, application, request)


@router.get("/v1/models/{model}/constraints")
async def model_constraints(ctx: Context, model: str) -> dict[str, Any]:
    return await ctx.settings.model_constraints(model)


@router.put("/v1/models/{model}/constraints")
async def set_model_constraints(
    ctx: Context, model: str, request: ModelConstraints
) -> dict[str, Any]:
    return await ctx.settings.set_model_constraints(model, request)
