"""The Juju release whose contracts (CLI, hook tools, status shapes) Runecraft honours."""

from __future__ import annotations

__all__ = ["JUJU_VERSION"]

JUJU_VERSION = "3.6.12"
"""Reported as agent and CLI versions (`juju version`, `status`, `show-model`)."""
