"""Cross-model relations: offers of a model, and the offers it consumes (SAAS)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import MODEL_ADMIN, Caller, Context
from runecraft.schemas import api

__all__ = ["found", "router"]

router = APIRouter()
"""Routes under `/v1/models/{model}`."""
found = APIRouter()
"""`find-offers`: across the models the caller may read."""


def _offer_info(view: services.OfferView, access: str = "admin") -> api.OfferInfo:
    return api.OfferInfo(
        name=view.offer.name,
        access=access,
        url=view.url,
        application=view.offer.application,
        charm=view.charm,
        endpoints={k: api.OfferEndpointInfo(**v) for k, v in view.endpoints.items()},
        connections=[
            api.OfferConnectionInfo(
                source_model_uuid=link.model_uuid,
                relation_id=link.offer_relation_id,
                endpoint=link.endpoint,
            )
            for link in view.connections
        ],
    )


def _saas_info(saas: services.SaasView) -> api.SaasInfo:
    return api.SaasInfo(
        name=saas.name,
        url=saas.url,
        endpoints={k: api.OfferEndpointInfo(**v) for k, v in saas.endpoints.items()},
        life=saas.life,
    )


@router.get("/v1/models/{model}/offers")
async def list_offers(ctx: Context, model: str) -> list[api.OfferInfo]:
    return [_offer_info(v) for v in await ctx.relations.offers(model)]


@found.get("/v1/offers")
async def find_offers(
    ctx: Context,
    caller: Caller,
    model: Annotated[str | None, Query(min_length=1, max_length=63)] = None,
    offer: Annotated[str | None, Query(min_length=1, max_length=63)] = None,
    interface: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> list[api.OfferInfo]:
    """Juju's `find-offers`: the offers the caller may read (those of the models it may
    read, and those it was granted), with the access it has to each; `model`, `offer`
    (part of its name) and `interface` narrow them. A model named that the caller may
    neither read nor holds a grant in is refused as one that does not exist: nothing leaks."""
    found = await ctx.users.offer_levels(caller)
    visible = None if found is None else {*found[0], *(uuid for uuid, _ in found[1])}
    try:
        views = await ctx.relations.find_offers(
            model=model, offer=offer, interface=interface, visible=visible
        )
    except errors.NotFoundError:
        if found is not None and model is not None:
            await ctx.users.check_model(caller, model, "read")  # the refusal of a hidden one
        raise
    infos = []
    for view in views:
        level = (
            "admin"
            if found is None
            else services.offer_level(*found, view.offer.model_uuid, view.offer.name)
        )
        if level is None:
            continue
        users = await ctx.users.offer_users(caller, view.offer.model_uuid, view.offer.name, level)
        infos.append(_offer_info(view, level).model_copy(update={"users": users}))
    if not infos and found is not None and model is not None:
        await ctx.users.check_model(caller, model, "read")  # hidden: refused as missing
    return infos


@router.post("/v1/models/{model}/offers", status_code=201, dependencies=[MODEL_ADMIN])
async def offer(ctx: Context, model: str, request: api.OfferRequest) -> api.OfferInfo:
    view = await ctx.relations.offer(model, request.application, request.endpoints, request.name)
    return _offer_info(view)


@router.post("/v1/models/{model}/offers/remove", status_code=204, dependencies=[MODEL_ADMIN])
async def remove_offer(ctx: Context, model: str, request: api.RemoveOfferRequest) -> None:
    await ctx.relations.remove_offer(model, request.name, force=request.force)


@router.get("/v1/models/{model}/saas")
async def list_saas(ctx: Context, model: str) -> list[api.SaasInfo]:
    return [_saas_info(s) for s in await ctx.relations.saas(model)]


@router.post("/v1/models/{model}/saas", status_code=201)
async def consume(
    ctx: Context, caller: Caller, model: str, request: api.ConsumeRequest
) -> api.SaasInfo:
    """Consuming needs write access to this model and consume access to the offer (its
    own, or what access to its model gives)."""
    await ctx.users.check_offer(caller, request.url, "consume")
    return _saas_info(await ctx.relations.consume(model, request.url, request.alias))


@router.post("/v1/models/{model}/saas/remove", status_code=204)
async def remove_saas(ctx: Context, model: str, request: api.RemoveSaasRequest) -> None:
    await ctx.relations.remove_saas(model, request.name)
