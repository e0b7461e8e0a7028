"""The model's Juju-shaped status, now or (long-polled) once something changed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from runecraft.controller.api._deps import MAX_WAIT_SECONDS, Context

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models/{model}/status")
async def status(ctx: Context, model: str, after: int = -1, timeout: float = 0.0) -> JSONResponse:
    """Status now, or (with `after`) once anything changed past that generation.

    The document is plain JSON already: it skips FastAPI's encoder, which took as long
    as building it for a model of 10,000 units.
    """
    document = await ctx.status.status(
        model, after=after, timeout=min(max(timeout, 0.0), MAX_WAIT_SECONDS)
    )
    return JSONResponse(document)
