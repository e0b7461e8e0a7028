"""Python client of the controller's HTTP API: `Client` (httpx, async) for every call, and
`_wire.get` (the standard library) for the reads a command repeats every second."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runecraft.client._client import Client

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    """`Client` loads (with httpx and the schemas) when first named: `_wire` alone does not."""
    if name == "Client":
        from runecraft.client._client import Client  # noqa: PLC0415

        return Client
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
