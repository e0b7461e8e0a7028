"""The audit log: every mutating call (POST, PUT, PATCH, DELETE) is recorded by
`AuditMiddleware` with who made it (`request.state.principal`, set by authentication),
the method, route template and model, and the outcome; `GET /v1/audit` reads it back.

The entry is written when the answer starts, before the caller sees it, so a call the
caller saw succeed is in the log. Only the answer's status and the error code the error
handlers leave in `request.state.error_code` are read: request bodies (secret content,
passwords) are never looked at, let alone stored.
"""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runecraft import _retry, errors
from runecraft.controller import services
from runecraft.schemas.audit import ANONYMOUS, MAX_AUDIT_LIMIT, AuditPage

__all__ = ["MUTATING", "AuditMiddleware", "router"]

logger = structlog.get_logger(__name__)

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

router = APIRouter()


def _audit(request: Request) -> services.AuditService:
    audit: services.AuditService | None = getattr(request.app.state, "audit", None)
    if audit is None:
        raise errors.NotFoundError("this controller keeps no audit log")
    return audit


@router.get("/v1/audit")
async def audit_log(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_LIMIT)] = 50,
    model: str | None = None,
) -> AuditPage:
    """The newest entries, oldest first (of one model's routes with `model`)."""
    return await _audit(request).entries(limit=limit, model=model)


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else str(scope.get("path", ""))


class AuditMiddleware:
    """Records each mutating call's outcome in the audit log (pure ASGI: streamed
    answers pass through untouched)."""

    def __init__(self, app: ASGIApp, audit: services.AuditService) -> None:
        self.app = app
        self.audit = audit
        self._outage = _retry.Outage("cannot write the audit log while the database is down")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING:
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        recorded = False

        async def record(status: int) -> None:
            nonlocal recorded
            recorded = True
            principal = state.get("principal")
            params = scope.get("path_params") or {}
            model = params.get("model")
            try:
                await self.audit.record(
                    principal=principal if isinstance(principal, str) else ANONYMOUS,
                    method=scope["method"],
                    route=_route(scope),
                    model=model if isinstance(model, str) else None,
                    status=status,
                    error=str(state.get("error_code") or ""),
                )
            except errors.UnavailableError as exc:  # once per outage, not once per call
                self._outage.failed(exc)
                return
            except Exception as exc:  # the call (maybe committed) must still be answered
                logger.error("cannot write the audit log", error=str(exc) or repr(exc))
                return
            self._outage.recovered()

        async def audited_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and scope.get("route") is None:
                # No route matched: nothing was called, and an anonymous flood of made-up
                # paths must not grow the log (or hold the store's write lock).
                recorded = True
            if message["type"] == "http.response.start" and not recorded:
                await record(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception:
            if not recorded:
                state.setdefault("error_code", "internal")
                await record(500)
            raise
