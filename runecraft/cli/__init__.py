"""The `rune` command line."""

from __future__ import annotations

from runecraft.cli._app import cli, juju_main, main

__all__ = ["cli", "juju_main", "main"]
