"""Bundle routes: plan or apply a bundle in one request (one transaction), export a model.
Planning (`dry_run`) and exporting need read access to the model, applying write."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft.controller.api._deps import MODEL_READ, Caller, Context
from runecraft.schemas import api
from runecraft.schemas import bundle as schema

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/models/{model}/bundle")
async def apply_bundle(
    ctx: Context, caller: Caller, model: str, request: api.BundleRequest
) -> api.BundleResponse:
    """Plan the bundle against the model (`dry_run`), or plan and apply it in one
    transaction: all of it, or on any error nothing."""
    await ctx.users.check_model(caller, model, "read" if request.dry_run else "write")
    if not request.dry_run:
        for url in ctx.bundles.consumed_offers(request):
            await ctx.users.check_offer(caller, url, "consume")
    outcome = await ctx.bundles.apply(model, request)
    return api.BundleResponse(
        plan=outcome.plan.model_dump(mode="json"),
        view=outcome.view.model_dump(mode="json"),
        applied=outcome.applied,
        revision=(await ctx.catalog.model(model)).revision,
        machines={unit: str(machine) for unit, machine in outcome.machines.items()},
    )


@router.get("/v1/models/{model}/bundle", dependencies=[MODEL_READ])
async def export_bundle(ctx: Context, model: str) -> api.BundleExport:
    """The model as a bundle."""
    return api.BundleExport(bundle=schema.dump(await ctx.bundles.export(model)))
