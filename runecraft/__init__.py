"""Runecraft: a model-driven operations engine that runs Juju charms unmodified.

The package is split by product part (see DESIGN.md): `schemas` (pure pydantic models),
`charms` (load, validate and pack charms), `bus` (the MQTT edge shared by controller and
agents), `controller`, `agents`, `client`, `cli` and `testing`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
