"""The controller: API, services, state, reconcilers, bus and providers in one process."""

from __future__ import annotations

from runecraft.controller._config import config_path, load_config

__all__ = ["config_path", "load_config"]
