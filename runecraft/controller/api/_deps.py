"""What every route depends on: the controller's services (kept on `app.state`), the caller
(`Caller`, a user or an agent) and the access each route needs. Routes take `ctx: Context`;
routers are included with `SUPERUSER`, `USER`, `MODEL` or `DOWNLOAD` as their dependencies,
and routes that need more name it (`MODEL_ADMIN`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runecraft import errors
from runecraft.controller import services
from runecraft.schemas.controller import BrokerHealth

__all__ = [
    "BEARER",
    "DOWNLOAD",
    "MAX_WAIT_SECONDS",
    "MODEL",
    "MODEL_ADMIN",
    "MODEL_READ",
    "MODEL_WRITE",
    "SUPERUSER",
    "USER",
    "Agent",
    "ApiContext",
    "Caller",
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
    users: services.UserService
    verify_agent: Callable[[str, str], Awaitable[bool]]
    shutdown: Callable[[bool], Awaitable[None]]
    machines: services.MachineService | None = None
    """Enlisting and removing machines (absent in API-only test setups)."""
    logs: services.LogService | None = None
    metrics: services.MetricsService | None = None
    """`/metrics` (absent in API-only test setups, which answer it 404)."""
    bus_connected: Callable[[], bool] = lambda: True
    broker_health: Callable[[], BrokerHealth] = BrokerHealth
    """The broker's state (running, restarting, down) and why."""
    credentials: services.CredentialService | None = None
    """`credential-get` answers (absent in API-only test setups)."""
    hooks: services.HookService | None = None
    """The hook runs agents recorded (absent in API-only test setups)."""
    ssh_keys: services.AuthorizedKeyService | None = None
    """Models' authorized SSH keys (absent in API-only test setups)."""


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(_context)]


BEARER = HTTPBearer(
    auto_error=False,  # a missing credential is our 403 permission-denied, not a 401
    description="A user's token (`rune login`), or a machine agent's `agent:password`.",
)
"""The one security scheme: `Authorization: Bearer …` (the OpenAPI document names it on
every operation that authenticates its caller)."""


async def _principal(
    request: Request,
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> services.Principal:
    """The caller: a user (a bearer token) or an agent (`agent:password`). Kept on
    `request.state.principal` as `"user:<name>"` or `"agent:<agent-name>"`."""
    if credentials is None:
        raise errors.PermissionDeniedError("missing bearer token")
    token = credentials.credentials
    if ":" in token:  # tokens are URL-safe base64: only agent credentials hold a colon
        agent, _, password = token.partition(":")
        if not password or not await ctx.verify_agent(agent, password):
            raise errors.PermissionDeniedError("invalid credentials")
        principal = await ctx.users.agent(agent)
    else:
        principal = await ctx.users.authenticate(token)
    request.state.principal = str(principal)
    return principal


Caller = Annotated[services.Principal, Depends(_principal)]
"""Whoever called, authenticated (FastAPI resolves it once per request)."""


async def _user(ctx: Context, caller: Caller) -> None:
    ctx.users.check_user(caller)


async def _superuser(ctx: Context, caller: Caller) -> None:
    await ctx.users.check_controller(caller, "superuser")


def _model_level(request: Request) -> str:
    return "read" if request.method in ("GET", "HEAD") else "write"


async def _model_access(request: Request, ctx: Context, caller: Caller, model: str) -> None:
    await ctx.users.check_model(caller, model, _model_level(request))


async def _model_read(ctx: Context, caller: Caller, model: str) -> None:
    await ctx.users.check_model(caller, model, "read")


async def _model_write(ctx: Context, caller: Caller, model: str) -> None:
    await ctx.users.check_model(caller, model, "write")


async def _model_admin(ctx: Context, caller: Caller, model: str) -> None:
    await ctx.users.check_model(caller, model, "admin")


async def _agent(caller: Caller) -> str:
    """The calling agent's name (an agent's credential only)."""
    if caller.kind != "agent":
        raise errors.PermissionDeniedError("permission denied: this route is for agents only")
    return caller.name


Agent = Annotated[str, Depends(_agent)]
"""The agent calling a route agents alone use."""

USER = [Depends(_user)]
"""Any user (not an agent); the route checks the rest."""
SUPERUSER = [Depends(_superuser)]
"""Controller-wide routes: superusers only."""
MODEL = [Depends(_model_access)]
"""Routes under `/v1/models/{model}`: reading (GET) needs read access to the model,
anything else write access. Routes that need more add `MODEL_ADMIN`."""
MODEL_READ = Depends(_model_read)
MODEL_WRITE = Depends(_model_write)
MODEL_ADMIN = Depends(_model_admin)
"""Destroying a model, revealing its secrets: admin access to the model."""
DOWNLOAD = [Depends(_principal)]
"""Downloads (charm archives, resources): agents and users; the route checks that the
caller's models use what it asks for."""


async def read_upload(request: Request, limit: int, what: str) -> bytes:
    """An uploaded body, refused as soon as it grows past `limit` bytes (so an oversized
    upload is never held whole); errors call it `what` ("charm archive")."""
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            raise errors.InvalidSpecError(f"{what} exceeds {limit} bytes")
    return bytes(data)
