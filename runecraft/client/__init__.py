"""Python client of the controller's HTTP API."""

from __future__ import annotations

from runecraft.client._client import Client

__all__ = ["Client"]
