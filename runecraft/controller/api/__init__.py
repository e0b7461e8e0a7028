"""The HTTP+JSON API (FastAPI): authentication, validation, error mapping."""

from __future__ import annotations

from runecraft.controller.api._app import ApiContext, create_app

__all__ = ["ApiContext", "create_app"]
