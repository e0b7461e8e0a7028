"""Stored logs: unit and machine-agent logs appended by batches from agents, the controller's
own lines appended as it logs them; read by `rune debug-log`.

Logs are not model state: appending moves no revision (so reconcilers and waiters do not
wake for them) and only the newest `keep` lines of a model are kept. The controller's own
log is kept under the model uuid `controller` (`debug-log -m controller`); a line about a
model goes to that model's log as well.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping, Sequence
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


_Machine = tuple[str, int]
"""(model uuid, machine number): an agent, as the sources it speaks for are found."""


@functools.cache
def _sources_read() -> Any:
    """The read of `_owned_sources`, built once (the lists it looks for are its expanding
    parameters `machines`, `names` and `selves`): the units named on the machines, each
    with its cursor if any, and the cursors of the agents' own logs."""
    units, apps, cursors = t.units, t.applications, t.log_cursors
    held = sa.and_(cursors.c.model_uuid == units.c.model_uuid, cursors.c.unit == units.c.name)
    return sa.union_all(
        sa.select(
            units.c.model_uuid,
            units.c.machine_number.label("machine"),
            units.c.name.label("source"),
            apps.c.name.label("application"),
            cursors.c.offset,
            cursors.c.generation,
        )
        .select_from(units.join(apps, apps.c.id == units.c.application_id).outerjoin(cursors, held))
        .where(
            sa.tuple_(units.c.model_uuid, units.c.machine_number).in_(
                sa.bindparam("machines", expanding=True)
            ),
            units.c.name.in_(sa.bindparam("names", expanding=True)),
        ),
        sa.select(
            cursors.c.model_uuid,
            sa.literal(-1),
            cursors.c.unit,
            sa.literal(""),
            cursors.c.offset,
            cursors.c.generation,
        ).where(
            sa.tuple_(cursors.c.model_uuid, cursors.c.unit).in_(
                sa.bindparam("selves", expanding=True)
            )
        ),
    )


async def _owned_sources(
    conn: AsyncConnection, named: Mapping[_Machine, Sequence[str]]
) -> dict[_Machine, tuple[dict[str, str], dict[str, sequencing.LogCursor]]]:
    """For each machine, of the sources named, those its agent speaks for, with their
    application (`""` for the agent's own log); and the cursors held for them. One read for
    every machine (`_sources_read`)."""
    selves = {
        (uuid, f"machine-{number}"): number
        for (uuid, number), names in named.items()
        if f"machine-{number}" in names
    }
    parameters = {
        "machines": sorted(named),
        "names": sorted({name for names in named.values() for name in names}),
        "selves": sorted(selves),
    }
    found: dict[_Machine, tuple[dict[str, str], dict[str, sequencing.LogCursor]]] = {
        machine: ({}, {}) for machine in named
    }
    for (uuid, itself), number in selves.items():
        found[(uuid, number)][0][itself] = ""
    for row in await conn.execute(_sources_read(), parameters):
        number = row.machine if row.machine != -1 else selves[(row.model_uuid, row.source)]
        machine = (row.model_uuid, number)
        if machine not in found or row.source not in named[machine]:
            continue  # a unit named by another of the machines in the read
        owned, known = found[machine]
        owned[row.source] = row.application
        if row.offset is not None:
            known[row.source] = sequencing.LogCursor(int(row.generation), int(row.offset))
    return found


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
            # PostgreSQL's text holds no NUL: one (a charm printed binary) would fail the
            # insert of every agent's batch stored in this transaction, again at each resend.
            parsed = parse_line(record.replace("\x00", "\ufffd"), fallback, now)
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


@functools.cache
def _cursor_upsert(dialect: str) -> Any:
    """INSERT INTO log_cursors ... ON CONFLICT DO UPDATE for `dialect`, built once."""
    table = t.log_cursors
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(table)
    return upsert.on_conflict_do_update(
        index_elements=list(table.primary_key),
        set_={name: upsert.excluded[name] for name in ("offset", "generation")},
    )


async def _save_cursors(
    conn: AsyncConnection, moved: Sequence[tuple[str, str, sequencing.LogCursor]]
) -> None:
    """Insert or move the cursors given as (model uuid, source, cursor), in one statement."""
    if not moved:
        return
    rows = [
        {"model_uuid": uuid, "unit": source, "offset": c.offset, "generation": c.generation}
        for uuid, source, c in sorted(moved)
    ]
    await conn.execute(_cursor_upsert(conn.dialect.name), rows)


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
        """`append_all` of one agent's batches."""
        return (await self.append_all({(model_uuid, machine): batches}))[(model_uuid, machine)]

    async def append_all(
        self, sent: Mapping[tuple[str, int], Sequence[bus.LogBatch]]
    ) -> dict[tuple[str, int], Appended]:
        """Store the new lines of batches sent by agents, by (model uuid, machine number);
        returns for each machine the cursor now held for each source named. All in one
        transaction of three statements however many agents sent (the sources owned and
        their cursors read at once, the lines inserted, the cursors moved saved).

        A batch for a unit that is not on its machine, or for another machine, is dropped
        (an agent speaks for itself and its own units only); the others are judged by
        `sequencing.log_verdict` against the held cursor.
        """
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        named = {machine: sorted({b.source for b in batches}) for machine, batches in sent.items()}
        appended: dict[tuple[str, int], Appended] = {}
        async with self.store.write() as tx:
            found = await _owned_sources(tx.conn, named)
            rows: list[dict[str, Any]] = []
            moved: list[tuple[str, str, sequencing.LogCursor]] = []
            for (model_uuid, machine), batches in sent.items():
                owned, known = found[(model_uuid, machine)]
                cursors = dict(known)
                refused: list[RefusedBatch] = []
                rows += _new_rows(model_uuid, machine, batches, owned, cursors, now, refused)
                held = {source: cursors.get(source, sequencing.LogCursor()) for source in owned}
                moved += [(model_uuid, s, c) for s, c in held.items() if known.get(s) != c]
                appended[(model_uuid, machine)] = Appended(held, refused)
            await self._insert(tx.conn, rows)
            await _save_cursors(tx.conn, moved)
        return appended

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
