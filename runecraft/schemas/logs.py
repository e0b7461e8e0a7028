"""Unit log records as `rune debug-log` sees them, and the pure rules that select them.

A unit log line (written by the agent, see `runecraft.agents._unitlog`) reads
`<YYYY-MM-DD HH:MM:SS> <LEVEL> unit.<unit>.<source> <message>`; the controller stores it
parsed so that filters by level and entity run in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from runecraft import errors
from runecraft.schemas.names import APPLICATION

__all__ = [
    "LEVELS",
    "EntityFilter",
    "LogEntry",
    "LogPage",
    "ParsedLine",
    "StatusHistoryEntry",
    "parse_entity",
    "parse_line",
    "severity",
]

LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""Juju's log levels, lowest first."""

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([A-Z]+) (\S+) ?(.*)$")
_UNIT_TAG = re.compile(rf"^unit-({APPLICATION})-(\d+)$")
_UNIT = re.compile(rf"^{APPLICATION}/\d+$")
_APP = re.compile(f"^{APPLICATION}$")
_MACHINE = re.compile(r"^(?:machine-)?(\d+)$")


def severity(level: str) -> int:
    """The rank of a level name (case-insensitive); WARN is WARNING as in Juju."""
    name = level.upper()
    name = "WARNING" if name == "WARN" else name
    if name not in LEVELS:
        raise errors.InvalidSpecError(
            f'invalid log level "{level}": expected one of {", ".join(LEVELS)}'
        )
    return LEVELS.index(name)


@dataclass(frozen=True)
class ParsedLine:
    at: str
    level: str
    module: str
    message: str


def parse_line(line: str, unit: str, fallback_at: str) -> ParsedLine:
    """Split a unit log line; anything else is kept whole as an INFO message."""
    match = _LINE.match(line)
    if match is None or match.group(2) not in LEVELS:
        return ParsedLine(fallback_at, "INFO", f"unit.{unit}", line)
    at, level, module, message = match.groups()
    return ParsedLine(at, level, module, message)


@dataclass(frozen=True)
class EntityFilter:
    """The entities one `--include`/`--exclude` value names."""

    units: frozenset[str] = frozenset()
    applications: frozenset[str] = frozenset()
    machines: frozenset[int] = frozenset()

    def __or__(self, other: EntityFilter) -> EntityFilter:
        return EntityFilter(
            self.units | other.units,
            self.applications | other.applications,
            self.machines | other.machines,
        )

    @property
    def empty(self) -> bool:
        return not (self.units or self.applications or self.machines)


def parse_entity(value: str) -> EntityFilter:
    """`unit-app-0`, `app/0`, `app`, `machine-0` or `0`, as `juju debug-log` accepts them."""
    if tag := _UNIT_TAG.match(value):
        return EntityFilter(units=frozenset({f"{tag.group(1)}/{tag.group(2)}"}))
    if _UNIT.match(value):
        return EntityFilter(units=frozenset({value}))
    if machine := _MACHINE.match(value):
        return EntityFilter(machines=frozenset({int(machine.group(1))}))
    if _APP.match(value):
        return EntityFilter(applications=frozenset({value}))
    raise errors.InvalidSpecError(
        f'invalid entity "{value}": expected a unit (app/0 or unit-app-0), an application '
        "or a machine (machine-0)"
    )


class LogEntry(BaseModel):
    """One stored log line."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    unit: str
    machine: int
    timestamp: str
    level: str
    module: str
    message: str


class LogPage(BaseModel):
    """Lines in id order, and the id to ask after for the next ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: list[LogEntry]
    last: int


class StatusHistoryEntry(BaseModel):
    """One status an entity had (`show-status-log`); `type` is Juju's status kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    status: str
    message: str
    since: str
