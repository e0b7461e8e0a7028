"""What a handler sees of a websocket, and the reply that asks the server for one.

A handler that serves a websocket (exec's `/v1/tasks/{id}/websocket/{name}`) checks the
request like any other and returns an `Upgrade`; the server then answers `101 Switching
Protocols` and hands the connection to `Upgrade.accept`. Until `accept` returns the
websocket stays open. The framing lives in `_server` (wsproto); handlers only see this
protocol, so they never touch the HTTP machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from runecraft.agents.pebble import _http

__all__ = ["Upgrade", "WebSocket", "upgrade"]


class WebSocket(Protocol):
    """One accepted websocket (RFC 6455): whole messages in, whole messages out."""

    async def receive(self) -> bytes | str | None:
        """The next message (binary as bytes, text as str); None once the peer is gone."""
        ...

    async def send(self, message: bytes | str) -> None:
        """Send one message; quietly does nothing once the connection is closed."""
        ...

    async def close(self) -> None:
        """Send a close frame (if still open) and drop the connection."""
        ...

    @property
    def abnormal(self) -> bool:
        """The peer went away without a close frame (RFC 6455 code 1006)."""
        ...


@dataclass(frozen=True, kw_only=True)
class Upgrade(_http.Response):
    """Switch this request to a websocket served by `accept` (the server sends the 101)."""

    accept: Callable[[WebSocket], Awaitable[None]]


def upgrade(accept: Callable[[WebSocket], Awaitable[None]]) -> Upgrade:
    """The reply to a websocket request the handler accepts."""
    return Upgrade(status=101, body=b"", accept=accept)
