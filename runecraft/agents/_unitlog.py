"""The unit log (`unit.log` in the unit dir): hook output and `juju-log` lines.

Kept apart from the agent's own structlog stream because it is the charm's log, the thing
`juju debug-log` shows: one line per record, `<time> <LEVEL> unit.<unit>.<source> <message>`
(parsed by `runecraft.schemas.logs`); the machine agent ships it to the controller.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import IO

from runecraft.schemas.logs import LEVELS

__all__ = ["LEVELS", "UnitLog"]


class UnitLog:
    """Append-only, line-buffered writer of the unit log."""

    def __init__(self, path: Path, unit: str) -> None:
        self.path = path
        self.unit = unit
        self._file: IO[str] | None = None

    def write(self, level: str, source: str, message: str) -> None:
        """Append one record; cheap enough to be called for every `juju-log`."""
        if self._file is None:
            self._file = self.path.open("a", encoding="utf-8", errors="replace", buffering=1)
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        self._file.write(f"{now} {level} unit.{self.unit}.{source} {message}\n")

    def close(self) -> None:
        """Close the file; a later `write` reopens it."""
        if self._file is not None:
            self._file.close()
            self._file = None
