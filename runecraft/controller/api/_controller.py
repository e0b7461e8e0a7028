"""The controller itself: its identity, its health (unauthenticated) and its shutdown."""

from __future__ import annotations

from fastapi import APIRouter

from runecraft import __version__
from runecraft.controller import services
from runecraft.controller.api._deps import Context
from runecraft.schemas import api
from runecraft.schemas import secrets as sec

__all__ = ["public", "router", "users"]

router = APIRouter()
"""Superusers' routes."""
users = APIRouter()
"""Routes any user may call."""
public = APIRouter()
"""Routes anyone may call (include without an auth dependency)."""


@users.get("/v1/controller")
async def controller_info(ctx: Context) -> api.ControllerInfo:
    return api.ControllerInfo(
        name=ctx.name,
        uuid=ctx.uuid,
        version=__version__,
        agent_version=services.JUJU_VERSION,
        broker=ctx.broker,
    )


@public.get("/v1/health", response_model_exclude_none=True)
async def health(ctx: Context) -> api.Health:
    """`bus`: whether the controller's own bus client is connected; `broker`: the broker's
    state (`running`, `restarting` or `down`), with `broker_message` saying why when it is
    not running."""
    bus = "connected" if ctx.bus_connected() else "connecting"
    broker = ctx.broker_health()
    return api.Health(
        uuid=ctx.uuid, bus=bus, broker=broker.state.value, broker_message=broker.message or None
    )


@router.post("/v1/controller/secrets-key/rotate")
async def rotate_secrets_key(ctx: Context) -> sec.KeyRotation:
    """A new key seals every secret's content at rest; the old key is dropped after."""
    return await ctx.secrets.rotate_key()


@router.post("/v1/controller/shutdown")
async def shutdown(ctx: Context, destroy: bool = False) -> api.Stopping:
    await ctx.shutdown(destroy)
    return api.Stopping(stopping=True)
