"""The `rune` command line."""

from __future__ import annotations

from runecraft.cli._app import cli, main

__all__ = ["cli", "main"]
