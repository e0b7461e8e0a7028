"""Requests, Pebble's response envelope, its errors and the route table.

Every reply has Pebble's envelope (`type`, `status-code`, `status`, `result`, `change`), with
`Content-Type: application/json` exactly: ops refuses any other media type.
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

__all__ = [
    "Handler",
    "PebbleError",
    "Request",
    "Response",
    "Router",
    "async_response",
    "error_response",
    "sync_response",
]


class PebbleError(Exception):
    """A request fails: HTTP `status`, Pebble's `message` and optional `kind`/`value`."""

    def __init__(
        self, status: int, message: str, kind: str | None = None, value: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.value = value


@dataclass(frozen=True, kw_only=True)
class Request:
    """One HTTP request as the handlers see it (the body already read and de-chunked)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes = b""
    uid: int | None = None
    """The caller's uid from SO_PEERCRED (None over TCP)."""
    params: dict[str, str] = field(default_factory=dict)
    """Values of the `{name}` parts of the route pattern."""

    @property
    def admin(self) -> bool:
        """Pebble's default access: root and the daemon's own uid are admin."""
        return self.uid is not None and self.uid in (0, os.getuid())

    def arg(self, name: str, default: str = "") -> str:
        """The last value of a query parameter."""
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        """All values of a list parameter, repeated or comma-separated (Pebble takes both)."""
        return [v for value in self.query.get(name, []) for v in value.split(",") if v]

    def json(self) -> Any:
        """The body as JSON, or a 400 naming what is wrong."""
        try:
            return json.loads(self.body or b"null")
        except ValueError as exc:
            raise PebbleError(400, f"cannot decode request body: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object (JSON nulls kept, treat them as absent)."""
        body = self.json()
        if not isinstance(body, dict):
            raise PebbleError(400, "cannot decode request body: expected a JSON object")
        return body


@dataclass(frozen=True, kw_only=True)
class Response:
    """A reply: status, headers and body (JSON envelopes, or a raw body such as multipart)."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _envelope(kind: str, status: int, result: Any, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": kind,
        "status-code": status,
        "status": HTTPStatus(status).phrase,
    }
    if result is not None:
        body["result"] = result
    body.update(extra)
    return Response(status=status, body=json.dumps(body).encode())


def sync_response(result: Any, status: int = 200) -> Response:
    """A `sync` reply (`/v1/health` is sync with 502 when unhealthy)."""
    return _envelope("sync", status, result)


def async_response(change_id: str, result: Any = None) -> Response:
    """An `async` 202 reply naming the change that does the work."""
    return _envelope("async", 202, result, change=change_id)


def error_response(error: PebbleError) -> Response:
    """An `error` reply: `result = {message, kind?, value?}`."""
    result: dict[str, Any] = {"message": error.message}
    if error.kind:
        result["kind"] = error.kind
    if error.value is not None:
        result["value"] = error.value
    return _envelope("error", error.status, result)


logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    methods: dict[str, Handler]
    user: frozenset[str]
    """Methods any local user may call; the others need admin (`open` routes: everyone)."""
    open: bool


class Router:
    """Pebble's API table: path patterns with `{name}` parts, per-method handlers and access.

    Access follows Pebble's defaults: `open` routes (system-info, health) for anyone;
    methods in `user` for any local caller; the rest for admin callers only (401
    `access denied` otherwise).
    """

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(
        self,
        path: str,
        methods: dict[str, Handler],
        *,
        user: tuple[str, ...] = (),
        open: bool = False,
    ) -> None:
        """Serve `path` (`/v1/changes/{id}/wait`) with one handler per method."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self._routes.append(_Route(re.compile(rf"^{regex}\Z"), methods, frozenset(user), open))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool, bool]:
        """The handler for a request, its path params, and (open, user-allowed)."""
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            handler = route.methods.get(method)
            if handler is None:
                raise PebbleError(405, f'method "{method}" not allowed')
            params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
            return handler, params, route.open, method in route.user
        raise PebbleError(404, "invalid API endpoint requested")

    async def dispatch(self, request: Request) -> Response:
        """Route, check access, run; every `PebbleError` becomes its error envelope, and
        anything else a 500 (a client always gets a reply it can read, never a dropped
        connection)."""
        try:
            handler, params, is_open, user_ok = self.resolve(request.method, request.path)
            if not is_open and not request.admin and not (user_ok and request.uid is not None):
                raise PebbleError(401, "access denied", kind="login-required")
            routed = Request(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body,
                uid=request.uid,
                params=params,
            )
            return await handler(routed)
        except PebbleError as exc:
            return error_response(exc)
        except Exception as exc:  # a handler's bug must not drop the reply
            logger.exception("cannot serve %s %s", request.method, request.path)
            return error_response(PebbleError(500, f"internal error: {exc}"))
