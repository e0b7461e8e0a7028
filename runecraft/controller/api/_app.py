"""The controller API: wires the routers of each area to the controller's services, each
with the access it needs (see `_deps`). Every error leaves as `{"error": {code, message}}`
with the HTTP status of its class, so clients re-raise the same `RunecraftError`."""

from __future__ import annotations

import errno
import functools
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runecraft import __version__, errors
from runecraft.controller import services
from runecraft.controller.api import (
    _actions,
    _applications,
    _audit,
    _bundles,
    _charms,
    _clouds,
    _controller,
    _credentials,
    _juju,
    _keys,
    _logs,
    _machines,
    _models,
    _relations,
    _resources,
    _secrets,
    _status,
    _users,
)
from runecraft.controller.api._deps import DOWNLOAD, MODEL, SUPERUSER, USER, ApiContext
from runecraft.schemas import api, problems

__all__ = ["create_app", "status_of"]

_STATUS = {
    errors.InvalidSpecError: 400,
    errors.UsageError: 400,
    errors.PermissionDeniedError: 403,
    errors.NotFoundError: 404,
    errors.TaskTargetNotFoundError: 404,
    errors.ConflictError: 409,
    errors.TemporaryError: 503,
    errors.UnavailableError: 503,
    errors.PermanentError: 500,
}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": api.ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid request: bad input, nothing changed"),
        (403, "Permission denied: missing or wrong credentials"),
        (404, "Not found: the model, application, unit, … named does not exist"),
        (409, "Conflict: the request contradicts what is stored"),
        (500, "Permanent error: will not succeed by retrying"),
        (503, "Temporary error: retry later"),
    )
}
"""Every route may answer these, each as `{"error": {code, message}}` (documented on all)."""


def status_of(exc: errors.RunecraftError) -> int:
    """The HTTP status an error answers with (its class's; 500 for one not listed)."""
    return next((code for cls, code in _STATUS.items() if type(exc) is cls), 500)


def _error(exc: errors.RunecraftError) -> JSONResponse:
    status = status_of(exc)
    body = api.ErrorBody(error=api.ErrorDetail(code=exc.code, message=exc.message))
    return JSONResponse(body.model_dump(), status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        location = problems.location(err, skip=("body", "query"))
        parts.append(f"{location or 'request'}: {problems.reason(err)}")
    return "invalid request: " + "; ".join(parts)


async def _runecraft_error(request: Request, exc: errors.RunecraftError) -> JSONResponse:
    request.state.error_code = exc.code  # for the audit log
    return _error(exc)


_HTTP_CODES = {
    404: errors.NotFoundError,
    403: errors.PermissionDeniedError,
    409: errors.ConflictError,
    503: errors.TemporaryError,
}


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own refusals (no such route, a body it cannot parse, a method the route
    lacks) in the one error shape, with their status."""
    cls = _HTTP_CODES.get(exc.status_code, errors.InvalidSpecError)
    error = cls(str(exc.detail))
    request.state.error_code = error.code
    body = api.ErrorBody(error=api.ErrorDetail(code=error.code, message=error.message))
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


_DISK_FAULTS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}
"""A file the controller writes itself (an upload, a key file) meeting a full disk: 503."""


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A failure no part meant to raise still answers in the one error shape (a 500 whose
    message names it, or a 503 for a full or read-only disk), never a bare text page.
    Starlette raises it on afterwards, so the server logs its traceback."""
    error: errors.RunecraftError
    if isinstance(exc, OSError) and exc.errno in _DISK_FAULTS:
        where = f" ({exc.filename})" if exc.filename else ""
        error = errors.UnavailableError(
            f"the controller cannot write its files: {_DISK_FAULTS[exc.errno]}{where}"
        )
    else:
        error = errors.RunecraftError(f"internal error: {type(exc).__name__}: {exc}"[:1000])
    request.state.error_code = error.code
    return _error(error)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    return await _runecraft_error(request, errors.InvalidSpecError(_validation_message(exc)))


def _document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document as the API answers: invalid requests are 400 with an error body
    (`_invalid`), never FastAPI's 422, which is left out."""
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, routes=app.routes, servers=app.servers
        )
        for path in document.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = document
    return app.openapi_schema


def create_app(ctx: ApiContext, audit: services.AuditService | None = None) -> FastAPI:
    """The app over `ctx` (kept on `app.state`, where the routes' dependencies read it);
    with `audit`, every mutating call is recorded in the audit log."""
    app = FastAPI(title="Runecraft controller", version=__version__, responses=ERROR_RESPONSES)
    app.openapi = functools.partial(_document, app)  # type: ignore[method-assign]
    app.state.context = ctx
    app.state.audit = audit
    if audit is not None:
        app.add_middleware(_audit.AuditMiddleware, audit=audit)
    app.exception_handler(errors.RunecraftError)(_runecraft_error)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.exception_handler(Exception)(_unexpected)
    app.include_router(_controller.public)
    app.include_router(_users.public)
    app.include_router(_controller.router, dependencies=SUPERUSER)
    app.include_router(_controller.users, dependencies=USER)
    app.include_router(_users.router, dependencies=USER)
    app.include_router(_models.router, dependencies=USER)
    app.include_router(_clouds.router, dependencies=SUPERUSER)
    app.include_router(_charms.router, dependencies=USER)
    app.include_router(_charms.downloads, dependencies=DOWNLOAD)
    app.include_router(_applications.router, dependencies=MODEL)
    app.include_router(_relations.router, dependencies=MODEL)
    app.include_router(_actions.router, dependencies=MODEL)
    app.include_router(_status.router, dependencies=MODEL)
    app.include_router(_bundles.router, dependencies=USER)  # a plan needs read only
    app.include_router(_juju.router, dependencies=MODEL)
    app.include_router(_logs.router, dependencies=MODEL)
    app.include_router(_machines.router, dependencies=MODEL)
    app.include_router(_secrets.router, dependencies=MODEL)
    app.include_router(_audit.router, dependencies=SUPERUSER)
    app.include_router(_resources.router, dependencies=USER)
    app.include_router(_resources.downloads, dependencies=DOWNLOAD)
    app.include_router(_credentials.router)  # agents only: the route names its caller
    app.include_router(_keys.router, dependencies=MODEL)
    app.include_router(_keys.defaults, dependencies=SUPERUSER)
    return app
