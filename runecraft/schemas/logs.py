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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from runecraft import errors
from runecraft.schemas.names import APPLICATION

__all__ = [
    "CONTROLLER_ENTITY",
    "CONTROLLER_MODEL",
    "DEFAULT_LOGGING_CONFIG",
    "LEVELS",
    "EntityFilter",
    "LogEntry",
    "LogPage",
    "ParsedLine",
    "StatusHistoryEntry",
    "frame",
    "parse_entity",
    "parse_line",
    "parse_logging_config",
    "records",
    "severity",
    "unit_log_level",
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


DEFAULT_LOGGING_CONFIG = "<root>=INFO"
"""Juju's default model `logging-config`: `juju-log` below INFO is dropped by the agent."""
_ROOT = "<root>"
_MODULE = re.compile(r"^[A-Za-z0-9_/-]+(\.[A-Za-z0-9_/-]+)*\Z")


def parse_logging_config(text: str) -> dict[str, str]:
    """Juju's (loggo's) `logging-config`: `<root>=INFO;unit=DEBUG;unit.app/0=TRACE`
    (`;` between entries, a bare level is the root's) as {module: LEVEL}; a bad
    entry raises naming it, so a bad value is refused before it is stored."""
    found: dict[str, str] = {}
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        module, sep, level = entry.partition("=")
        module, level = (module.strip(), level.strip()) if sep else (_ROOT, module.strip())
        if module != _ROOT and not _MODULE.match(module):
            raise errors.InvalidSpecError(f'invalid module "{module}" in "{entry}"')
        try:
            found[module] = LEVELS[severity(level)]
        except errors.InvalidSpecError as exc:
            raise errors.InvalidSpecError(f'{exc} in "{entry}"') from exc
    return found


def unit_log_level(config: Mapping[str, str], unit: str) -> str:
    """The lowest level of `juju-log` the unit keeps: the most specific of the modules
    `unit.<unit>.juju-log`, `unit.<unit>`, `unit`, `<root>` that is set (loggo's rule: a
    module inherits its parent's level); INFO when none is."""
    parts = ["unit", unit, "juju-log"]
    for end in range(len(parts), 0, -1):
        level = config.get(".".join(parts[:end]))
        if level is not None:
            return level
    return config.get(_ROOT, "INFO")


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
