"""Stored unit logs: appended by batches from agents, read by `rune debug-log`.

Logs are not model state: appending moves no revision (so reconcilers and waiters do not
wake for them) and only the newest `keep` lines of a model are kept.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._store import Store
from runecraft.schemas import bus
from runecraft.schemas.logs import (
    EntityFilter,
    LogEntry,
    StatusHistoryEntry,
    parse_line,
    severity,
)

__all__ = ["LogQuery", "LogStore"]

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
    )


class LogStore:
    """Log lines of every model, on the controller's database."""

    def __init__(self, store: Store, keep: int = KEEP_LINES) -> None:
        self.store = store
        self.keep = keep
        self._since_prune = 0

    async def append(
        self, model_uuid: str, machine: int, batches: Sequence[bus.LogBatch]
    ) -> dict[str, int]:
        """Store the batches' new lines; returns the offset now held for each unit named.

        A batch for a unit that is not on `machine` is dropped (an agent speaks for its own
        units only); one that ends at or before the held offset is a duplicate.
        """
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        names = sorted({batch.unit for batch in batches})
        async with self.store.write() as tx:
            owned = {
                row.name: row.application
                for row in await tx.conn.execute(
                    sa.select(t.units.c.name, t.applications.c.name.label("application"))
                    .join(t.applications, t.applications.c.id == t.units.c.application_id)
                    .where(
                        t.units.c.model_uuid == model_uuid,
                        t.units.c.machine_number == machine,
                        t.units.c.name.in_(names),
                    )
                )
            }
            cursors: dict[str, int] = {
                row.unit: int(row.offset)
                for row in await tx.conn.execute(
                    sa.select(t.log_cursors.c.unit, t.log_cursors.c.offset).where(
                        t.log_cursors.c.model_uuid == model_uuid,
                        t.log_cursors.c.unit.in_(names),
                    )
                )
            }
            known = set(cursors)
            rows: list[dict[str, Any]] = []
            for batch in batches:
                if batch.unit not in owned:
                    continue
                held = cursors.get(batch.unit, 0)
                if batch.end <= held:
                    continue
                for line in batch.lines:
                    parsed = parse_line(line, batch.unit, now)
                    rows.append(
                        {
                            "model_uuid": model_uuid,
                            "unit": batch.unit,
                            "application": owned[batch.unit],
                            "machine": machine,
                            "at": parsed.at,
                            "level": parsed.level,
                            "severity": severity(parsed.level),
                            "module": parsed.module[:256],
                            "message": parsed.message,
                        }
                    )
                cursors[batch.unit] = batch.end
            if rows:
                await tx.conn.execute(sa.insert(t.log_entries), rows)
            for unit in owned:
                if unit not in cursors:
                    cursors[unit] = 0
                values = {"model_uuid": model_uuid, "unit": unit, "offset": cursors[unit]}
                if unit in known:
                    await tx.conn.execute(
                        sa.update(t.log_cursors)
                        .where(
                            t.log_cursors.c.model_uuid == model_uuid,
                            t.log_cursors.c.unit == unit,
                        )
                        .values(offset=cursors[unit])
                    )
                else:
                    await tx.conn.execute(sa.insert(t.log_cursors).values(**values))
            self._since_prune += len(rows)
            if self._since_prune >= PRUNE_EVERY:
                self._since_prune = 0
                newest = (
                    await tx.conn.execute(
                        sa.select(sa.func.max(t.log_entries.c.id)).where(
                            t.log_entries.c.model_uuid == model_uuid
                        )
                    )
                ).scalar_one_or_none()
                if newest is not None:
                    await tx.conn.execute(
                        sa.delete(t.log_entries).where(
                            t.log_entries.c.model_uuid == model_uuid,
                            t.log_entries.c.id <= newest - self.keep,
                        )
                    )
        return {unit: cursors[unit] for unit in owned}

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
