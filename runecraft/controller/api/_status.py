"""The model's Juju-shaped status, now or (long-polled) once something changed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from runecraft.controller.api._deps import MAX_WAIT_SECONDS, Context
from runecraft.schemas.status import StatusDocument

__all__ = ["router"]

router = APIRouter()


@router.get("/v1/models/{model}/status", response_model=StatusDocument)
async def status(ctx: Context, model: str, after: int = -1, timeout: float = 0.0) -> Response:
    """Status now, or (with `after`) once anything changed past that generation.

    The service sends JSON text: it skips FastAPI's encoder, which took as long as
    building the document for a model of 10,000 units, and it is sent again unchanged
    while nothing it shows moved. `StatusDocument` only declares it: an answer returned
    as a `Response` is never validated.
    """
    body = await ctx.status.status_json(
        model, after=after, timeout=min(max(timeout, 0.0), MAX_WAIT_SECONDS)
    )
    return Response(body, media_type="application/json")
