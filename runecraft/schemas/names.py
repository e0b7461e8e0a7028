"""Juju's name rules as regular-expression fragments, shared by every parser of names."""

from __future__ import annotations

__all__ = ["APPLICATION", "unit_tag"]

APPLICATION = r"[a-z][a-z0-9]*(?:-[a-z0-9]*[a-z][a-z0-9]*)*"
"""An application name: lowercase words joined by hyphens; no segment is digits only (so
`app-0` is not an application name, and `unit-app-0` reads unambiguously as a unit tag)."""


def unit_tag(unit: str) -> str:
    """Juju's tag of a unit: `app/0` is `unit-app-0`."""
    return "unit-" + unit.replace("/", "-")
