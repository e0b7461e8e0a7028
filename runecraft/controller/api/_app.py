"""Routes of the controller API. Every error leaves as `{"error": {code, message}}` with
the HTTP status of its class, so clients re-raise the same `RunecraftError`."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from runecraft import __version__, errors
from runecraft.controller import services
from runecraft.controller.api import _bundles, _juju, _logs, _machines, _resources, _secrets
from runecraft.controller.state import ActionRecord, EndpointRecord, RelationRecord, Store
from runecraft.schemas import api

__all__ = ["ApiContext", "create_app"]

logger = structlog.get_logger(__name__)

_STATUS = {
    errors.InvalidSpecError: 400,
    errors.UsageError: 400,
    errors.PermissionDeniedError: 403,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.TemporaryError: 503,
    errors.PermanentError: 500,
}

MAX_CHARM_BYTES = 512 * 1024 * 1024


@dataclass
class ApiContext:
    """What the routes need from the controller process."""

    name: str
    uuid: str
    admin_token: str
    broker: str
    store: Store
    models: services.ModelService
    relations: services.RelationService
    actions: services.ActionService
    hub: services.ChangeHub
    status: Callable[[str], Awaitable[dict[str, Any]]]
    verify_agent: Callable[[str, str], Awaitable[bool]]
    shutdown: Callable[[bool], Awaitable[None]]
    machines: services.MachineService | None = None
    logs: services.LogService | None = None
    bus_connected: Callable[[], bool] = lambda: True
    """Enlisting and removing machines (absent in API-only test setups)."""


def _error(exc: errors.RunecraftError) -> JSONResponse:
    status = next((code for cls, code in _STATUS.items() if type(exc) is cls), 500)
    body = api.ErrorBody(error=api.ErrorDetail(code=exc.code, message=exc.message))
    return JSONResponse(body.model_dump(), status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        location = ".".join(str(p) for p in err.get("loc", ()) if p not in {"body", "query"})
        parts.append(f"{location or 'request'}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _relation_info(relation: RelationRecord, endpoints: list[EndpointRecord]) -> api.RelationInfo:
    return api.RelationInfo(
        id=relation.id,
        key=relation.key,
        life=relation.life,
        interface=endpoints[0].interface if endpoints else "",
        endpoints=[
            api.RelationEndpointInfo(
                application=e.application,
                endpoint=e.endpoint,
                role=e.role,
                interface=e.interface,
                scope=e.scope,
                limit=e.relation_limit,
            )
            for e in endpoints
        ],
    )


def _action_info(record: ActionRecord) -> api.ActionInfo:
    return api.ActionInfo(
        id=str(record.id),
        unit=record.unit,
        name=record.name,
        params=record.params,
        status=record.status,
        message=record.message,
        results=record.results,
        log=[api.ActionLogEntry.model_validate(entry) for entry in record.log],
        enqueued=record.enqueued,
        started=record.started,
        completed=record.completed,
    )


MAX_WAIT_SECONDS = 30.0
"""Long polls (status `after`, action `wait`) return at the latest after this."""


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(title="Runecraft controller", version=__version__)

    @app.exception_handler(errors.RunecraftError)
    async def _runecraft_error(_: Request, exc: errors.RunecraftError) -> JSONResponse:
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(errors.InvalidSpecError(_validation_message(exc)))

    def _token(authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise errors.PermissionDeniedError("missing bearer token")
        return authorization[len("Bearer ") :]

    async def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        if not hmac.compare_digest(_token(authorization), ctx.admin_token):
            raise errors.PermissionDeniedError("invalid credentials")

    async def agent_or_admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = _token(authorization)
        if hmac.compare_digest(token, ctx.admin_token):
            return
        agent, _, password = token.partition(":")
        if not await ctx.verify_agent(agent, password):
            raise errors.PermissionDeniedError("invalid credentials")

    admin_only = Depends(admin)

    @app.get("/v1/controller", dependencies=[admin_only])
    async def controller_info() -> api.ControllerInfo:
        return api.ControllerInfo(
            name=ctx.name,
            uuid=ctx.uuid,
            version=__version__,
            agent_version=services.JUJU_VERSION,
            broker=ctx.broker,
        )

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        bus = "connected" if ctx.bus_connected() else "connecting"
        return {"status": "ok", "uuid": ctx.uuid, "bus": bus}

    @app.post("/v1/controller/shutdown", dependencies=[admin_only])
    async def shutdown(destroy: bool = False) -> dict[str, bool]:
        await ctx.shutdown(destroy)
        return {"stopping": True}

    @app.get("/v1/models", dependencies=[admin_only])
    async def list_models() -> list[api.ModelInfo]:
        return [
            api.ModelInfo(name=m.name, uuid=m.uuid, cloud=m.cloud, life=m.life, revision=m.revision)
            for m in await ctx.store.models()
        ]

    @app.post("/v1/models", dependencies=[admin_only], status_code=201)
    async def add_model(request: api.AddModelRequest) -> api.ModelInfo:
        m = await ctx.models.add_model(request.name, request.cloud, request.config)
        return api.ModelInfo(
            name=m.name, uuid=m.uuid, cloud=m.cloud, life=m.life, revision=m.revision
        )

    @app.get("/v1/models/{model}", dependencies=[admin_only])
    async def show_model(model: str) -> api.ModelInfo:
        m = await ctx.store.model(model)
        return api.ModelInfo(
            name=m.name, uuid=m.uuid, cloud=m.cloud, life=m.life, revision=m.revision
        )

    @app.delete("/v1/models/{model}", dependencies=[admin_only])
    async def destroy_model(model: str) -> dict[str, str]:
        await ctx.models.destroy_model(model)
        return {"model": model, "life": "dying"}

    @app.post("/v1/charms", dependencies=[admin_only], status_code=201)
    async def upload_charm(request: Request) -> api.CharmInfo:
        data = bytearray()
        async for chunk in request.stream():
            data.extend(chunk)
            if len(data) > MAX_CHARM_BYTES:
                raise errors.InvalidSpecError(f"charm archive exceeds {MAX_CHARM_BYTES} bytes")
        record = await ctx.models.upload_charm(bytes(data))
        return api.CharmInfo(sha256=record.sha256, name=record.name, size=record.size)

    @app.get("/v1/charms/{sha256}/archive", dependencies=[Depends(agent_or_admin)])
    async def charm_archive(sha256: str) -> Response:
        return Response(await ctx.store.charm_blob(sha256), media_type="application/zip")

    @app.post("/v1/models/{model}/applications", dependencies=[admin_only], status_code=201)
    async def deploy(model: str, request: api.DeployRequest) -> api.UnitsResponse:
        placed = await ctx.models.deploy(model, request)
        return api.UnitsResponse.placed(placed)

    @app.delete("/v1/models/{model}/applications/{application}", dependencies=[admin_only])
    async def remove_application(model: str, application: str) -> dict[str, str]:
        await ctx.models.remove_application(model, application)
        return {"application": application, "life": "dying"}

    @app.post("/v1/models/{model}/applications/{application}/units", dependencies=[admin_only])
    async def add_units(
        model: str, application: str, request: api.AddUnitsRequest
    ) -> api.UnitsResponse:
        placed = await ctx.models.add_units(model, application, request)
        return api.UnitsResponse.placed(placed)

    @app.post("/v1/models/{model}/units/remove", dependencies=[admin_only])
    async def remove_units(model: str, request: api.RemoveUnitsRequest) -> api.UnitsResponse:
        await ctx.models.remove_units(model, request.units)
        return api.UnitsResponse(units=request.units)

    @app.get("/v1/models/{model}/applications/{application}/config", dependencies=[admin_only])
    async def get_config(model: str, application: str) -> dict[str, Any]:
        return await ctx.models.get_config(model, application)

    @app.patch("/v1/models/{model}/applications/{application}/config", dependencies=[admin_only])
    async def set_config(
        model: str, application: str, request: api.ConfigRequest
    ) -> dict[str, Any]:
        return await ctx.models.set_config(model, application, request.values, request.reset)

    @app.post("/v1/models/{model}/applications/{application}/refresh", dependencies=[admin_only])
    async def refresh(
        model: str, application: str, request: api.RefreshRequest
    ) -> api.RefreshResponse:
        record = await ctx.models.refresh(model, application, request.charm_sha256)
        charm = await ctx.store.charm(record.charm_sha256)
        return api.RefreshResponse(
            application=record.name, charm=charm.name, revision=record.charm_revision
        )

    @app.post("/v1/models/{model}/units/resolve", dependencies=[admin_only])
    async def resolve(model: str, request: api.ResolveRequest) -> api.UnitsResponse:
        await ctx.models.resolve(model, request.units, retry=not request.no_retry)
        return api.UnitsResponse(units=request.units)

    @app.get("/v1/models/{model}/config", dependencies=[admin_only])
    async def get_model_config(model: str) -> dict[str, Any]:
        return await ctx.models.get_model_config(model)

    @app.patch("/v1/models/{model}/config", dependencies=[admin_only])
    async def set_model_config(model: str, request: api.ModelConfigRequest) -> dict[str, Any]:
        return await ctx.models.set_model_config(model, request.values, request.reset)

    # --- relations ---------------------------------------------------------------------

    @app.get("/v1/models/{model}/relations", dependencies=[admin_only])
    async def list_relations(model: str) -> list[api.RelationInfo]:
        return [_relation_info(r, eps) for r, eps in await ctx.relations.relations(model)]

    @app.post("/v1/models/{model}/relations", dependencies=[admin_only], status_code=201)
    async def integrate(model: str, request: api.IntegrateRequest) -> api.RelationInfo:
        relation, endpoints = await ctx.relations.integrate(model, *request.endpoints)
        return _relation_info(relation, endpoints)

    @app.post("/v1/models/{model}/relations/remove", dependencies=[admin_only])
    async def remove_relation(model: str, request: api.RemoveRelationRequest) -> dict[str, Any]:
        relation = await ctx.relations.remove_relation(model, request.endpoints)
        return {"id": relation.id, "key": relation.key, "life": "dying"}

    # --- actions -----------------------------------------------------------------------

    @app.post("/v1/models/{model}/actions", dependencies=[admin_only], status_code=201)
    async def run_action(model: str, request: api.RunActionRequest) -> api.ActionsResponse:
        records = await ctx.actions.run(model, request.units, request.action, request.params)
        return api.ActionsResponse(actions=[_action_info(r) for r in records])

    @app.get("/v1/models/{model}/actions/{action_id}", dependencies=[admin_only])
    async def show_action(model: str, action_id: str, wait: float = 0.0) -> api.ActionInfo:
        """The action; with `wait` (seconds), once it finished or when the wait is over."""
        if wait > 0:
            record = await ctx.actions.wait(model, action_id, min(wait, MAX_WAIT_SECONDS))
        else:
            record = await ctx.actions.get(model, action_id)
        return _action_info(record)

    @app.get("/v1/models/{model}/status", dependencies=[admin_only])
    async def status(model: str, after: int = -1, timeout: float = 0.0) -> JSONResponse:
        """Status now, or (with `after`) once anything changed past that generation.

        The document is plain JSON already: it skips FastAPI's encoder, which took as long
        as building it for a model of 10,000 units.
        """
        if after >= 0:
            await ctx.hub.wait_after(after, min(max(timeout, 0.0), MAX_WAIT_SECONDS))
        generation = ctx.hub.generation
        document = await ctx.status(model)
        document["model"]["generation"] = generation
        return JSONResponse(document)

    app.include_router(_juju.juju_routes(ctx.store, ctx.hub), dependencies=[admin_only])
    app.include_router(
        _bundles.bundle_routes(ctx.store, ctx.hub, ctx.models), dependencies=[admin_only]
    )
    if ctx.logs is not None:
        app.include_router(_logs.log_routes(ctx.logs), dependencies=[admin_only])
    app.include_router(_machines.machine_routes(ctx.machines), dependencies=[admin_only])
    app.include_router(_secrets.secret_routes(ctx.store, ctx.hub), dependencies=[admin_only])
    app.include_router(_resources.resource_routes(ctx.store, ctx.hub), dependencies=[admin_only])
    app.include_router(
        _resources.resource_download_routes(ctx.store, ctx.hub),
        dependencies=[Depends(agent_or_admin)],
    )
    return app
