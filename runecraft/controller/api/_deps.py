"""What every route depends on: the controller's services (kept on `app.state`) and the
bearer-token checks. Routes take `ctx: Context`; routers are included with `ADMIN` or
`AGENT_OR_ADMIN` as their dependencies."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from runecraft import errors
from runecraft.controller import services

__all__ = [
    "ADMIN",
    "AGENT_OR_ADMIN",
    "MAX_WAIT_SECONDS",
    "Agent",
    "ApiContext",
    "Context",
    "read_upload",
]

MAX_WAIT_SECONDS = 30.0
"""Long polls (status `after`, action `wait`) return at the latest after this."""


@dataclass
class ApiContext:
    """What the routes need from the controller process: its identity and its services."""

    name: str
    uuid: str
    admin_token: str
    broker: str
    models: services.ModelService
    relations: services.RelationService
    actions: services.ActionService
    catalog: services.CatalogService
    clouds: services.CloudService
    bundles: services.BundleService
    status: services.StatusService
    settings: services.SettingsService
    secrets: services.SecretService
    resources: services.ResourceService
    verify_agent: Callable[[str, str], Awaitable[bool]]
    shutdown: Callable[[bool], Awaitable[None]]
    machines: services.MachineService | None = None
    """Enlisting and removing machines (absent in API-only test setups)."""
    logs: services.LogService | None = None
    bus_connected: Callable[[], bool] = lambda: True
    credentials: services.CredentialService | None = None
    """`credential-get` answers (absent in API-only test setups)."""


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


def _token(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise errors.PermissionDeniedError("missing bearer token")
    return authorization[len("Bearer ") :]


async def _admin(ctx: Context, authorization: Annotated[str | None, Header()] = None) -> None:
    if not hmac.compare_digest(_token(authorization), ctx.admin_token):
        raise errors.PermissionDeniedError("invalid credentials")


async def _agent_or_admin(
    ctx: Context, authorization: Annotated[str | None, Header()] = None
) -> None:
    token = _token(authorization)
    if hmac.compare_digest(token, ctx.admin_token):
        return
    agent, _, password = token.partition(":")
    if not await ctx.verify_agent(agent, password):
        raise errors.PermissionDeniedError("invalid credentials")


async def _agent(ctx: Context, authorization: Annotated[str | None, Header()] = None) -> str:
    """The calling agent's name (an agent's credential only)."""
    agent, _, password = _token(authorization).partition(":")
    if not password or not await ctx.verify_agent(agent, password):
        raise errors.PermissionDeniedError("invalid credentials")
    return agent


Agent = Annotated[str, Depends(_agent)]
"""The agent calling a route agents alone use."""

ADMIN = [Depends(_admin)]
"""The operator's routes: the admin token only."""
AGENT_OR_ADMIN = [Depends(_agent_or_admin)]
"""Downloads agents make (charm archives, resources): an agent's credentials or the admin's."""


async def read_upload(request: Request, limit: int, what: str) -> bytes:
    """An uploaded body, refused as soon as it grows past `limit` bytes (so an oversized
    upload is never held whole); errors call it `what` ("charm archive")."""
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise errors.InvalidSpecError(f"{what} exceeds {limit} bytes")
    return bytes(data)
