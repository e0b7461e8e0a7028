"""A span per API request while tracing is on (`runecraft._tracing`), continuing the
caller's W3C `traceparent` header: the service calls, and the reconciler pass a change
wakes, are its children."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from runecraft import _tracing

__all__ = ["TracedRequests"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_NAMED = ("model", "application", "unit")
"""Path parameters that become attributes (`runecraft.model`, …)."""


class TracedRequests:
    """ASGI middleware: the span is named by the route once routing found it
    (`PATCH /v1/models/{model}/applications/{application}/config`)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = next(
            (v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"traceparent"),
            None,
        )
        method = scope.get("method", "")
        attributes = {"http.request.method": method, "url.path": scope.get("path", "")}

        async def answered(message: Message) -> None:
            if message["type"] == "http.response.start":
                _tracing.set_attributes({"http.response.status_code": message["status"]})
            await send(message)

        with _tracing.span(
            f"{method} {scope.get('path', '')}", parent=parent, attributes=attributes
        ):
            try:
                await self.app(scope, receive, answered)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if isinstance(route, str):
                    _tracing.rename(f"{method} {route}")
                    _tracing.set_attributes({"http.route": route})
                params = scope.get("path_params") or {}
                _tracing.set_attributes(
                    {f"runecraft.{k}": str(params[k]) for k in _NAMED if k in params}
                )
