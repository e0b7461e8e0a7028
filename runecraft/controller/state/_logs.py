"""Stored logs: unit and machine-agent logs appended by batches from agents, the controller's
own lines appended as it logs them; read by `rune debug-log`.

Logs are not model state: appending moves no revision (so reconcilers and waiters do not
wake for them) and only the newest `keep` lines of a model are kept. The controller's own
log is kept under the model uuid `controller` (`debug-log -m controller`); a line about a
model goes to that model's log as well.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft._logging import LogLine
from runecraft.controller.state import _tables as t
from runecraft.controller.state._store import Store
from runecraft.schemas import bus, sequencing
from runecraft.schemas.logs import (
    CONTROLLER_ENTITY,
    CONTROLLER_MODEL,
    LEVELS,
    EntityFilter,
    LogEntry,
    StatusHistoryEntry,
    parse_line,
    records,
    severity,
)
from runecraft.schemas.names import unit_tag

__all__ = ["Appended", "LogQuery", "LogStore", "RefusedBatch"]

KEEP_LINES = 200_000
PRUNE_EVERY = 5_000


@dataclass(frozen=True)
class LogQuery:
    """Which lines to read (an empty include matches everything)."""

    include: EntityFilter = field(default_factory=EntityFilter)
    exclude: EntityFilter = field(default_factory=EntityFilter)
    level: str = "TRACE"


def _entity_clause(entities: EntityFilter) -> Any:
    return sa.or_(
        t.log_entries.c.unit.in_(sorted(entities.units)),
        t.log_entries.c.application.in_(sorted(entities.applications)),
        t.log_entries.c.machine.in_(sorted(entities.machines)),
        t.log_entries.c.entity.in_(sorted(entities.entities)),
    )


async def _owned_sources(
    conn: AsyncConnection, model_uuid: str, machine: int, names: Sequence[str]
) -> tuple[dict[str, str], dict[str, sequencing.LogCursor]]:
    """Of the sources named, those the machine's agent speaks for, with their application
    (`""` for the agent's own log); and the cursors held for them. One read: the machine's
    units named, each with its cursor if any, and the cursor of the agent's own log."""
    units, apps, cursors = t.units, t.applications, t.log_cursors
    itself = f"machine-{machine}"
    held = sa.and_(cursors.c.model_uuid == units.c.model_uuid, cursors.c.unit == units.c.name)
    query: Any = (
        sa.select(
            units.c.name.label("source"),
            apps.c.name.label("application"),
            cursors.c.offset,
            cursors.c.generation,
        )
        .select_from(units.join(apps, apps.c.id == units.c.application_id).outerjoin(cursors, held))
        .where(
            units.c.model_uuid == model_uuid,
            units.c.machine_number == machine,
            units.c.name.in_(names),
        )
    )
    if itself in names:
        query = sa.union_all(
            query,
            sa.select(cursors.c.unit, sa.literal(""), cursors.c.offset, cursors.c.generation).where(
                cursors.c.model_uuid == model_uuid, cursors.c.unit == itself
            ),
        )
    owned: dict[str, str] = {itself: ""} if itself in names else {}
    known: dict[str, sequencing.LogCursor] = {}
    for row in await conn.execute(query):
        owned[row.source] = row.application
        if row.offset is not None:
            known[row.source] = sequencing.LogCursor(int(row.generation), int(row.offset))
    return owned, known


@dataclass(frozen=True)
class RefusedBatch:
    """A log batch from the future: not stored, the cursor held."""

    source: str
    generation: int
    offset: int
    end: int
    cursor: sequencing.LogCursor


def _new_rows(
    model_uuid: str,
    machine: int,
    batches: Sequence[bus.LogBatch],
    owned: dict[str, str],
    cursors: dict[str, sequencing.LogCursor],
    now: str,
    refused: list[RefusedBatch],
) -> list[dict[str, Any]]:
    """The rows of the batches' new lines; moves `cursors` past them. A batch from a source
    not owned adds nothing; for the others, `sequencing.log_verdict` decides (one from the
    future goes to `refused`)."""
    itself = f"machine-{machine}"
    rows: list[dict[str, Any]] = []
    for batch in batches:
        source = batch.source
        if source not in owned:
            continue
        cursor = cursors.get(source, sequencing.LogCursor())
        verdict = sequencing.log_verdict(cursor, batch.generation, batch.offset, batch.end)
        if verdict is sequencing.LogVerdict.FUTURE:
            refused.append(RefusedBatch(source, batch.generation, batch.offset, batch.end, cursor))
        if verdict not in (sequencing.LogVerdict.APPEND, sequencing.LogVerdict.RESTART):
            continue
        is_unit = source != itself
        entity = unit_tag(source) if is_unit else source
        fallback = f"unit.{source}" if is_unit else source
        for record in records(batch.lines):
            parsed = parse_line(record, fallback, now)
            rows.append(
                {
                    "model_uuid": model_uuid,
                    "entity": entity,
                    "unit": source if is_unit else "",
                    "application": owned[source],
                    "machine": machine,
                    "at": parsed.at,
                    "level": parsed.level,
                    "severity": severity(parsed.level),
                    "module": parsed.module[:256],
                    "message": parsed.message,
                }
            )
        cursors[source] = sequencing.LogCursor(batch.generation, batch.end)
    return rows


async def _save_cursors(
    conn: AsyncConnection, model_uuid: str, cursors: dict[str, sequencing.LogCursor]
) -> None:
    """Insert or move the cursors given, in one statement."""
    if not cursors:
        return
    table = t.log_cursors
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    upsert = insert(table)
    upsert = upsert.on_conflict_do_update(
        index_elements=list(table.primary_key),
        set_={name: upsert.excluded[name] for name in ("offset", "generation")},
    )
    rows = [
        {"model_uuid": model_uuid, "unit": source, "offset": c.offset, "generation": c.generation}
        for source, c in sorted(cursors.items())
    ]
    await conn.execute(upsert, rows)


@dataclass(frozen=True)
class Appended:
    """What `LogStore.append` did: the cursor now held per source named (what the agent is
    told), and the batches refused."""

    held: dict[str, sequencing.LogCursor]
    refused: list[RefusedBatch]


class LogStore:
    """Log lines of every model, on the controller's database."""

    def __init__(self, store: Store, keep: int = KEEP_LINES) -> None:
        self.store = store
        self.keep = keep
        self._since_prune = 0

    async def append(
        self, model_uuid: str, machine: int, batches: Sequence[bus.LogBatch]
    ) -> Appended:
        """Store the batches' new lines; returns the cursor now held for each source named.

        A batch for a unit that is not on `machine`, or for another machine, is dropped (an
        agent speaks for itself and its own units only); the others are judged by
        `sequencing.log_verdict` against the held cursor.
        """
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        names = sorted({batch.source for batch in batches})
        refused: list[RefusedBatch] = []
        async with self.store.write() as tx:
            owned, known = await _owned_sources(tx.conn, model_uuid, machine, names)
            cursors = dict(known)
            rows = _new_rows(model_uuid, machine, batches, owned, cursors, now, refused)
            await self._insert(tx.conn, rows)
            for source in owned:
                cursors.setdefault(source, sequencing.LogCursor())
            moved = {s: c for s, c in cursors.items() if s in owned and known.get(s) != c}
            await _save_cursors(tx.conn, model_uuid, moved)
        return Appended({source: cursors[source] for source in owned}, refused)

    async def append_controller(self, lines: Sequence[LogLine]) -> None:
        """Store lines the controller logged: all in its own log, each also in the log of
        the model it names (by name; a line naming no stored model stays in its own)."""
        names = sorted({line.model for line in lines if line.model})
        async with self.store.write() as tx:
            uuids = {
                row.name: row.uuid
                for row in await tx.conn.execute(
                    sa.select(t.models.c.name, t.models.c.uuid).where(t.models.c.name.in_(names))
                )
            }
            rows: list[dict[str, Any]] = []
            for line in lines:
                level = line.level if line.level in LEVELS else "INFO"
                row = {
                    "entity": CONTROLLER_ENTITY,
                    "unit": "",
                    "application": "",
                    "machine": -1,
                    "at": line.at,
                    "level": level,
                    "severity": severity(level),
                    "module": line.module[:256],
                    "message": line.message,
                }
                rows.append({"model_uuid": CONTROLLER_MODEL, **row})
                if line.model in uuids:
                    rows.append({"model_uuid": uuids[line.model], **row})
            await self._insert(tx.conn, rows)

    async def _insert(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        """Insert rows (one statement) and, every `PRUNE_EVERY` rows, drop the lines of
        their models beyond the newest `keep`."""
        if not rows:
            return
        await conn.execute(sa.insert(t.log_entries), rows)
        self._since_prune += len(rows)
        if self._since_prune < PRUNE_EVERY:
            return
        self._since_prune = 0
        for model_uuid in sorted({row["model_uuid"] for row in rows}):
            newest = (
                await conn.execute(
                    sa.select(sa.func.max(t.log_entries.c.id)).where(
                        t.log_entries.c.model_uuid == model_uuid
                    )
                )
            ).scalar_one_or_none()
            if newest is not None:
                await conn.execute(
                    sa.delete(t.log_entries).where(
                        t.log_entries.c.model_uuid == model_uuid,
                        t.log_entries.c.id <= newest - self.keep,
                    )
                )

    async def status_history(
        self, model_uuid: str, entity: str, kinds: Sequence[str], limit: int
    ) -> list[StatusHistoryEntry]:
        """The `limit` newest statuses of `entity` of the given kinds, oldest first."""
        history = t.status_history
        select = (
            sa.select(history)
            .where(
                history.c.model_uuid == model_uuid,
                history.c.entity == entity,
                history.c.kind.in_(list(kinds)),
            )
            .order_by(history.c.id.desc())
            .limit(limit)
        )
        async with self.store.engine.connect() as conn:
            rows = list(await conn.execute(select))
        return [
            StatusHistoryEntry(
                type=row.kind,
                status=row.status,
                message=row.message,
                since=datetime.datetime.fromtimestamp(row.since, datetime.UTC).isoformat(),
            )
            for row in reversed(rows)
        ]

    async def newest(self, model_uuid: str) -> int:
        """The id of the model's newest line (0 when none): where tailing starts."""
        async with self.store.engine.connect() as conn:
            newest = (
                await conn.execute(
                    sa.select(sa.func.max(t.log_entries.c.id)).where(
                        t.log_entries.c.model_uuid == model_uuid
                    )
                )
            ).scalar_one_or_none()
        return int(newest or 0)

    async def read(
        self,
        model_uuid: str,
        query: LogQuery,
        *,
        after: int | None,
        last: int | None,
        limit: int,
    ) -> list[LogEntry]:
        """Lines with id > `after` in id order; with `after` None, the `last` newest ones
        (all of them when `last` is None too)."""
        where = [
            t.log_entries.c.model_uuid == model_uuid,
            t.log_entries.c.severity >= severity(query.level),
        ]
        if not query.include.empty:
            where.append(_entity_clause(query.include))
        if not query.exclude.empty:
            where.append(sa.not_(_entity_clause(query.exclude)))
        select = sa.select(t.log_entries).where(*where)
        if after is not None:
            select = select.where(t.log_entries.c.id > after).order_by(t.log_entries.c.id)
            select = select.limit(limit)
        elif last is not None:
            select = select.order_by(t.log_entries.c.id.desc()).limit(min(last, limit))
        else:
            select = select.order_by(t.log_entries.c.id).limit(limit)
        async with self.store.engine.connect() as conn:
            rows = list(await conn.execute(select))
        entries = [
            LogEntry(
                id=row.id,
                # Lines stored before entities were kept are all unit lines.
                entity=row.entity or unit_tag(row.unit),
                unit=row.unit,
                machine=row.machine,
                timestamp=row.at,
                level=row.level,
                module=row.module,
                message=row.message,
            )
            for row in rows
        ]
        return sorted(entries, key=lambda entry: entry.id)
