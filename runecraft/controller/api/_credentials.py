"""What agents alone ask: `credential-get`'s cloud spec."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft import errors
from runecraft.controller.api._deps import Agent, Context
from runecraft.controller.api._openapi import declares
from runecraft.schemas import api

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/agent/credential", **declares(api.CloudSpec))
async def credential(ctx: Context, agent: Agent, unit: str) -> dict[str, Any]:
    if ctx.credentials is None:
        raise errors.PermissionDeniedError("cannot access cloud credentials: permission denied")
    return await ctx.credentials.for_unit(agent, unit)
