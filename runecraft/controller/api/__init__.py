"""The HTTP+JSON API (FastAPI): authentication, validation, error mapping. Routes call
services only; each area's routes are an `APIRouter` in its own module."""

from __future__ import annotations

from runecraft.controller.api._app import create_app
from runecraft.controller.api._deps import ApiContext

__all__ = ["ApiContext", "create_app"]
