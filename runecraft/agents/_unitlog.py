"""The unit log (`unit.log` in the unit dir): hook output and `juju-log` lines.

Kept apart from the agent's own key-value log because it is the charm's log, the thing
`juju debug-log` shows: one record per line, `<time> <LEVEL> unit.<unit>.<source> <message>`,
a message of several lines (an ops traceback) continued on lines that start with a space
(`runecraft.schemas.logs.frame`, which parses them back); the machine agent ships it to the
controller.
A full disk never fails a hook for its output: lines wait in memory (bounded) until there
is room (`runecraft._logging.LineFile`).
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path

from runecraft import _logging
from runecraft.schemas.logs import LEVELS, frame

__all__ = ["LEVELS", "UnitLog"]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


class UnitLog:
    """Append-only writer of the unit log, each record whole in one write."""

    def __init__(self, path: Path, unit: str) -> None:
        self.path = path
        self.unit = unit
        lost = functools.partial(_logging.lost_lines_note, module=f"unit.{unit}.uniter")
        self._file = _logging.LineFile(path, lost)

    def write(self, level: str, source: str, message: str) -> None:
        """Append one record; cheap enough to be called for every `juju-log`."""
        self._file.write(frame(f"{_now()} {level} unit.{self.unit}.{source}", message))

    def flush(self) -> None:
        """Write lines a full disk held back, if there is room now."""
        self._file.flush()

    def close(self) -> None:
        """Close the file; a later `write` reopens it."""
        self._file.close()
