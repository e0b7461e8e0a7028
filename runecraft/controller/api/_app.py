"""The controller API: wires the routers of each area to the controller's services, each
with the access it needs (see `_deps`). Every error leaves as `{"error": {code, message}}`
(`ErrorBody`) with the HTTP status of its class (`_openapi.ERROR_STATUS`), so clients
re-raise the same `RunecraftError`."""

from __future__ import annotations

import errno
import functools
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from runecraft import _tracing, errors
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
    _hooks,
    _juju,
    _keys,
    _logs,
    _machines,
    _metrics,
    _models,
    _offers,
    _openapi,
    _relations,
    _resources,
    _secrets,
    _status,
    _traced,
    _users,
)
from runecraft.controller.api._deps import DOWNLOAD, MODEL, SUPERUSER, USER, ApiContext
from runecraft.controller.api._openapi import status_of
from runecraft.schemas import api, problems

__all__ = ["create_app", "openapi_document", "status_of"]


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


def create_app(ctx: ApiContext | None, audit: services.AuditService | None = None) -> FastAPI:
    """The app over `ctx` (kept on `app.state`, where the routes' dependencies read it);
    with `audit`, every mutating call is recorded in the audit log. Without `ctx`, an app
    that only describes itself (`openapi_document`)."""
    app = FastAPI(title=_openapi.TITLE, version=_openapi.API_VERSION)
    app.openapi = functools.partial(_openapi.cached_document, app)  # type: ignore[method-assign]
    app.state.context = ctx
    app.state.audit = audit
    if audit is not None:
        app.add_middleware(_audit.AuditMiddleware, audit=audit)
    if _tracing.enabled():  # outermost: the span covers the audit record too
        app.add_middleware(_traced.TracedRequests)
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
    app.include_router(_offers.router, dependencies=MODEL)
    app.include_router(_offers.found, dependencies=USER)
    app.include_router(_actions.router, dependencies=MODEL)
    app.include_router(_status.router, dependencies=MODEL)
    app.include_router(_bundles.router, dependencies=USER)  # a plan needs read only
    app.include_router(_juju.router, dependencies=MODEL)
    app.include_router(_logs.router, dependencies=MODEL)
    app.include_router(_hooks.router, dependencies=MODEL)
    app.include_router(_machines.router, dependencies=MODEL)
    app.include_router(_secrets.router, dependencies=MODEL)
    app.include_router(_audit.router, dependencies=SUPERUSER)
    app.include_router(_metrics.router, dependencies=SUPERUSER)
    app.include_router(_resources.router, dependencies=USER)
    app.include_router(_resources.downloads, dependencies=DOWNLOAD)
    app.include_router(_credentials.router)  # agents only: the route names its caller
    app.include_router(_keys.router, dependencies=MODEL)
    app.include_router(_keys.defaults, dependencies=SUPERUSER)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the API serves (`GET /openapi.json`), made without a
    controller: what `docs/openapi.json` holds."""
    return _openapi.build_document(create_app(None))
