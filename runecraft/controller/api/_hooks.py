"""The hooks a unit ran: `rune hooks` (newest first runs, oldest first), `rune show-hook`
and `rune replay` (one run with its environment and tool calls)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.api._deps import Context
from runecraft.schemas.hooks import HookRunDetail, HookRunSummary

__all__ = ["router"]

router = APIRouter()


def _hooks(ctx: Context) -> services.HookService:
    if ctx.hooks is None:
        raise errors.PermanentError("this controller keeps no hook runs")
    return ctx.hooks


@router.get("/v1/models/{model}/units/{application}/{number}/hooks")
async def hook_runs(
    ctx: Context,
    model: str,
    application: str,
    number: str,
    limit: Annotated[int, Query(ge=1, le=services.MAX_HOOK_RUNS)] = 20,
) -> list[HookRunSummary]:
    """The unit's newest `limit` hook runs, oldest first."""
    return await _hooks(ctx).runs(model, f"{application}/{number}", limit)


@router.get("/v1/models/{model}/units/{application}/{number}/hooks/{run_id}")
async def hook_run(
    ctx: Context,
    model: str,
    application: str,
    number: str,
    run_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> HookRunDetail:
    """One hook run of the unit, with its environment and tool calls."""
    return await _hooks(ctx).run(model, f"{application}/{number}", run_id)
