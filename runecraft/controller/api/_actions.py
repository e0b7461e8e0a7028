"""Actions: queue one on units, read one (optionally waiting for it to finish). Running an
action needs write access to the model; `rune exec` (an arbitrary command) admin, as in
Juju."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from runecraft.controller import services
from runecraft.controller.api._deps import MAX_WAIT_SECONDS, Caller, Context
from runecraft.schemas import api
from runecraft.schemas import exec as exec_schema

__all__ = ["router"]

router = APIRouter()


@router.post("/v1/models/{model}/actions", status_code=201)
async def run_action(
    ctx: Context, caller: Caller, model: str, request: api.RunActionRequest
) -> api.ActionsResponse:
    if request.action == exec_schema.JUJU_EXEC:
        await ctx.users.check_model(caller, model, "admin")
    records = await ctx.actions.run(model, request.units, request.action, request.params)
    return api.ActionsResponse(actions=[services.action_info(r) for r in records])


@router.get("/v1/models/{model}/applications/{application}/actions")
async def charm_actions(ctx: Context, model: str, application: str) -> dict[str, Any]:
    """The actions of the application's charm, each as its parameters' JSON schema."""
    return await ctx.actions.charm_actions(model, application)


@router.get("/v1/models/{model}/actions/{action_id}")
async def show_action(
    ctx: Context, model: str, action_id: str, wait: float = 0.0
) -> api.ActionInfo:
    """The action; with `wait` (seconds), once it finished or when the wait is over."""
    if wait > 0:
        record = await ctx.actions.wait(model, action_id, min(wait, MAX_WAIT_SECONDS))
    else:
        record = await ctx.actions.get(model, action_id)
    return services.action_info(record)
