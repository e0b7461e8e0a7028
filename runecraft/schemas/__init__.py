"""Pure data models shared by every part of Runecraft; nothing of ours is imported here.

One module per boundary, imported as modules (`from runecraft.schemas import bus`):
`charm` (metadata.yaml, config.yaml, actions.yaml, charmcraft.yaml), `bundle` (bundles and
overlays), `bus` (messages between the controller and agents), `agent` (a machine agent's
config file), `controller` (a controller's config file), `api` (HTTP requests and
responses) and `duration` (Go-style durations).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["agent", "api", "bundle", "bus", "charm", "controller", "duration"]


def __getattr__(name: str) -> ModuleType:
    """Each module loads when first named: the CLI pays only for the schemas it uses."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
