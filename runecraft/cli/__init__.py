"""The `rune` command line."""

from __future__ import annotations

import sys

# httpx imports its own command line (click, rich, pygments: ~30 ms of CPU) unless that
# import fails; `rune` never uses it, and pays for every command that talks to the API.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from runecraft.cli._app import cli, juju_main, main  # noqa: E402

__all__ = ["cli", "juju_main", "main"]
