"""Relations: list, integrate, remove."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.api._deps import Context
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models/{model}/relations")
async def list_relations(ctx: Context, model: str) -> list[api.RelationInfo]:
    return [services.relation_info(r, eps) for r, eps in await ctx.relations.relations(model)]


@router.post("/v1/models/{model}/relations", status_code=201)
async def integrate(ctx: Context, model: str, request: api.IntegrateRequest) -> api.RelationInfo:
    relation, endpoints = await ctx.relations.integrate(model, *request.endpoints)
    return services.relation_info(relation, endpoints)


@router.post("/v1/models/{model}/relations/remove")
async def remove_relation(
    ctx: Context, model: str, request: api.RemoveRelationRequest
) -> api.RelationRemoval:
    relation = await ctx.relations.remove_relation(model, request.endpoints)
    return api.RelationRemoval(id=relation.id, key=relation.key, life="dying")
