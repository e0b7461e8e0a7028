"""Unit log records as `rune debug-log` sees them, and the pure rules that select them.

A unit log line (written by the agent, see `runecraft.agents._unitlog`) reads
`<YYYY-MM-DD HH:MM:SS> <LEVEL> unit.<unit>.<source> <message>`; a machine agent's own log
has the same shape with a Python module in place of the source. The controller stores lines
parsed, under the entity that wrote them (`unit-app-0`, `machine-0`, `controller-0`), so that
filters by level and entity run in the database.

A message of several lines (a traceback) is one record: its first line follows the header
and every further line is written after `CONTINUATION` (a space, so the file still reads like
Juju's, the traceback indented by one column). No record's first line starts with a space
(a timestamp starts it), so a message line that looks like a record of its own stays in its
record; `records` puts such lines back together, `frame` writes them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from runecraft import errors
from runecraft.schemas.names import APPLICATION

__all__ = [
    "CONTROLLER_ENTITY",
    "CONTROLLER_MODEL",
    "LEVELS",
    "EntityFilter",
    "LogEntry",
    "LogPage",
    "ParsedLine",
    "StatusHistoryEntry",
    "frame",
    "parse_entity",
    "parse_line",
    "records",
    "severity",
]

LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
"""Juju's log levels, lowest first."""

CONTROLLER_MODEL = "controller"
"""The model name under which `debug-log -m controller` reads the controller's own log, as in
Juju; no user model may take it."""

CONTROLLER_ENTITY = "controller-0"
"""The entity of lines the controller itself logged."""

CONTINUATION = " "
"""What starts each line of a record after its first in a log file."""

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([A-Z]+) (\S+) ?(.*?)\n?\Z", re.DOTALL)
_UNIT_TAG = re.compile(rf"^unit-({APPLICATION})-(\d+)\Z")
_UNIT = re.compile(rf"^{APPLICATION}/\d+\Z")
_APP = re.compile(rf"^{APPLICATION}\Z")
_MACHINE = re.compile(r"^(?:machine-)?(\d+)\Z")


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


def frame(head: str, message: str) -> str:
    """The lines of one record (`head`, then `message`) as a log file holds them: every line
    of the message after its first starts with `CONTINUATION`."""
    lines = message.replace("\r\n", "\n").rstrip("\n").split("\n")
    return f"{head} {lines[0]}" + "".join(f"\n{CONTINUATION}{x}" for x in lines[1:])


def records(lines: Iterable[str]) -> list[str]:
    """Lines of a log file put back together as the records `frame` wrote: a line starting
    with `CONTINUATION` belongs to the record before it (one first in `lines`, whose record
    started in an earlier read, stands alone)."""
    found: list[str] = []
    for line in lines:
        if found and line.startswith(CONTINUATION):
            found[-1] += "\n" + line[len(CONTINUATION) :]
        else:
            found.append(line)
    return found


def parse_line(line: str, fallback_module: str, fallback_at: str) -> ParsedLine:
    """Split a log record (one line, or several from `records`); anything else is kept
    whole as an INFO message."""
    match = _LINE.match(line)
    if match is None or match.group(2) not in LEVELS:
        return ParsedLine(fallback_at, "INFO", fallback_module, line)
    at, level, module, message = match.groups()
    return ParsedLine(at, level, module, message)


@dataclass(frozen=True)
class EntityFilter:
    """The entities one `--include`/`--exclude` value names (`entities`: by their tag)."""

    units: frozenset[str] = frozenset()
    applications: frozenset[str] = frozenset()
    machines: frozenset[int] = frozenset()
    entities: frozenset[str] = frozenset()

    def __or__(self, other: EntityFilter) -> EntityFilter:
        return EntityFilter(
            self.units | other.units,
            self.applications | other.applications,
            self.machines | other.machines,
            self.entities | other.entities,
        )

    @property
    def empty(self) -> bool:
        return not (self.units or self.applications or self.machines or self.entities)


def parse_entity(value: str) -> EntityFilter:
    """`unit-app-0`, `app/0`, `app`, `machine-0`, `0` or `controller-0`, as `juju debug-log`
    accepts them."""
    if value == CONTROLLER_ENTITY:
        return EntityFilter(entities=frozenset({value}))
    if tag := _UNIT_TAG.match(value):
        return EntityFilter(units=frozenset({f"{tag.group(1)}/{tag.group(2)}"}))
    if _UNIT.match(value):
        return EntityFilter(units=frozenset({value}))
    if machine := _MACHINE.match(value):
        return EntityFilter(machines=frozenset({int(machine.group(1))}))
    if _APP.match(value):
        return EntityFilter(applications=frozenset({value}))
    raise errors.InvalidSpecError(
        f'invalid entity "{value}": expected a unit (app/0 or unit-app-0), an application, '
        "a machine (machine-0) or controller-0"
    )


class LogEntry(BaseModel):
    """One stored log line; `unit` is empty when a machine agent or the controller wrote it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    entity: str
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
