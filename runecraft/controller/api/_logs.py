"""Unit logs for `rune debug-log` (long-polled) and status history for `show-status-log`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import ApiContext, Context
from runecraft.schemas.logs import EntityFilter, LogPage, StatusHistoryEntry, parse_entity

__all__ = ["router"]

router = APIRouter()


def _entities(values: list[str]) -> EntityFilter:
    found = EntityFilter()
    for value in values:
        found |= parse_entity(value)
    return found


def _logs(ctx: ApiContext) -> services.LogService:
    if ctx.logs is None:
        raise errors.PermanentError("this controller keeps no logs")
    return ctx.logs


@router.get("/v1/models/{model}/logs")
async def read_logs(
    ctx: Context,
    model: str,
    include: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
    exclude: Annotated[list[str], Query()] = [],  # noqa: B006
    level: str = "TRACE",
    after: Annotated[int | None, Query(ge=0)] = None,
    last: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    wait: Annotated[float, Query(ge=0)] = 0.0,
) -> LogPage:
    query = services.LogQuery(include=_entities(include), exclude=_entities(exclude), level=level)
    return await _logs(ctx).read(model, query, after=after, last=last, limit=limit, wait=wait)


@router.get("/v1/models/{model}/status-log")
async def status_log(
    ctx: Context,
    model: str,
    entity: str,
    type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
) -> list[StatusHistoryEntry]:
    return await _logs(ctx).status_log(model, entity, type, limit)
