"""Bundle routes: plan or apply a bundle in one request (one transaction), export a model."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import api
from runecraft.schemas import bundle as schema

__all__ = ["bundle_routes"]


def bundle_routes(
    store: Store, hub: services.ChangeHub, models: services.ModelService
) -> APIRouter:
    bundles = services.BundleService(store, hub, models.check_substrates)
    router = APIRouter()

    @router.post("/v1/models/{model}/bundle")
    async def apply_bundle(model: str, request: api.BundleRequest) -> api.BundleResponse:
        """Plan the bundle against the model (`dry_run`), or plan and apply it in one
        transaction: all of it, or on any error nothing."""
        outcome = await bundles.apply(model, request)
        return api.BundleResponse(
            plan=outcome.plan.model_dump(mode="json"),
            view=outcome.view.model_dump(mode="json"),
            applied=outcome.applied,
            revision=(await store.model(model)).revision,
            machines={unit: str(machine) for unit, machine in outcome.machines.items()},
        )

    @router.get("/v1/models/{model}/bundle")
    async def export_bundle(model: str) -> api.BundleExport:
        """The model as a bundle."""
        return api.BundleExport(bundle=schema.dump(await bundles.export(model)))

    return router
