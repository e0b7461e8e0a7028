"""Routes for Juju's `show-unit`, an application's deploy-time settings (constraints,
trust, base) and the model's constraints; show-unit is read from one model snapshot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas.constraints import (
    ApplicationSettings,
    ModelConstraints,
    SetApplicationSettings,
)

__all__ = ["juju_routes"]


def juju_routes(store: Store, hub: services.ChangeHub) -> APIRouter:
    """`GET …/units/{application}/{number}`; `GET`/`PATCH …/applications/{app}/settings`;
    `GET`/`PUT …/models/{model}/constraints`."""
    router = APIRouter()
    settings = services.SettingsService(store, hub)

    @router.get("/v1/models/{model}/units/{application}/{number}")
    async def show_unit(model: str, application: str, number: str) -> dict[str, Any]:
        record = await store.model(model)
        snapshot = await store.snapshot(record.uuid)
        return services.build_unit_info(snapshot, f"{application}/{number}")

    @router.get("/v1/models/{model}/applications/{application}/settings")
    async def get_settings(model: str, application: str) -> ApplicationSettings:
        return await settings.get(model, application)

    @router.patch("/v1/models/{model}/applications/{application}/settings")
    async def change_settings(
        model: str, application: str, request: SetApplicationSettings
    ) -> ApplicationSettings:
        return await settings.change(model, application, request)

    @router.get("/v1/models/{model}/constraints")
    async def model_constraints(model: str) -> dict[str, Any]:
        return await settings.model_constraints(model)

    @router.put("/v1/models/{model}/constraints")
    async def set_model_constraints(model: str, request: ModelConstraints) -> dict[str, Any]:
        return await settings.set_model_constraints(model, request)

    return router
