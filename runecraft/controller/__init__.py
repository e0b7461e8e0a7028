"""The controller: API, services, state, reconcilers, bus and providers in one process."""

from __future__ import annotations

from runecraft.controller._process import config_path, load_config, serve

__all__ = ["config_path", "load_config", "serve"]
