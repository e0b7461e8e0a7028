"""`/metrics`: the controller's Prometheus metrics, for superusers (a bearer token).

Like Juju's controller metrics endpoint it needs credentials: it names every model, charm
and machine agent of the controller. Configure the scraper with the admin token as its
bearer token (`authorization: {credentials: <token>}` in a Prometheus scrape config).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from runecraft import errors
from runecraft.controller.api._deps import Context

__all__ = ["router"]

router = APIRouter()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": (
                "Prometheus text exposition format: reconcile pass, database statement "
                "and hook durations (histograms), bus traffic, queue depths, connected "
                "agents and units by status"
            ),
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    summary="Prometheus metrics",
)
async def metrics(ctx: Context) -> Response:
    """The controller's metrics and its machine agents', merged (superusers only)."""
    if ctx.metrics is None:
        raise errors.NotFoundError("this controller serves no metrics")
    body = await ctx.metrics.exposition()
    return Response(body, media_type=ctx.metrics.content_type)
