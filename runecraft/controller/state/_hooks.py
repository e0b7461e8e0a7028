"""Hook runs: the record of each hook a unit agent ran, kept per unit (newest
`KEEP_PER_UNIT`), read by `rune hooks`, `show-hook` and `replay`.

Runs are written in the agents' batched transactions (`HookRuns.record`): each agent may
record runs of the units on its own machine only, a repeat of a stored run (an agent
resends its newest after a reconnect) is ignored, and each unit's oldest runs beyond the
bound are pruned in the same transaction. A run is not model state: storing one moves no
revision. Reads always name the model, so no unit sees another model's runs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, Session
from runecraft.schemas import bus
from runecraft.schemas import hooks as hook_schema

__all__ = ["HookRunReads", "HookRuns"]

_SUMMARY = (
    t.hook_runs.c.id,
    t.hook_runs.c.unit,
    t.hook_runs.c.hook,
    t.hook_runs.c.started,
    t.hook_runs.c.duration,
    t.hook_runs.c.exit_code,
    t.hook_runs.c.outcome,
    t.hook_runs.c.cause,
)

_PARAM = "run_"
"""Prefix of the parameters that carry a run's columns (apart from those of the select)."""


@functools.cache
def _insert_owned(dialect: str) -> Any:
    """INSERT INTO hook_runs SELECT <the run's values> FROM units WHERE <the run's unit is on
    the sending machine> ON CONFLICT DO NOTHING, for `dialect` (executed with one set of
    parameters per run)."""
    runs, units = t.hook_runs, t.units
    columns = [c for c in runs.c if c.name != "model_uuid"]
    owned = sa.select(
        sa.bindparam("model_uuid", type_=runs.c.model_uuid.type),
        *(sa.bindparam(_PARAM + c.name, type_=c.type) for c in columns),
    ).where(
        units.c.model_uuid == sa.bindparam("model_uuid"),
        units.c.machine_number == sa.bindparam("machine"),
        units.c.name == sa.bindparam(_PARAM + "unit"),
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(runs)
        .from_select([runs.c.model_uuid, *columns], owned)
        .on_conflict_do_nothing(index_elements=list(runs.primary_key))
    )


class HookRuns(Repository):
    """Hook runs written by agents, in a write transaction."""

    def __init__(self, session: Session, keep: int = hook_schema.KEEP_PER_UNIT) -> None:
        self._session = session
        self.keep = keep

    async def record(self, runs: Sequence[tuple[str, int, bus.HookRun]]) -> None:
        """Store runs sent by agents as (model uuid, machine number, run): only those of a
        unit on that machine and not stored yet; then prune each unit's oldest beyond
        `keep`. One statement stores the batch: each run is inserted from a select of its
        unit on that machine, and a stored run's key makes it a conflict that does nothing
        (no reads first: this runs once per batch of agent messages)."""
        # By sender too: another machine's run of the same unit and id (inserting nothing)
        # must not replace the one of the unit's own machine.
        rows: dict[tuple[str, int, str, int], dict[str, Any]] = {}
        for model_uuid, machine, run in runs:
            values = run.model_dump(mode="json", exclude={"kind"})
            rows[(model_uuid, machine, run.unit, run.id)] = {
                "model_uuid": model_uuid,
                "machine": machine,
                **{_PARAM + name: value for name, value in values.items()},
            }
        if not rows:
            return
        await self._conn.execute(_insert_owned(self._conn.dialect.name), list(rows.values()))
        # A unit whose runs so far number at most `keep` (agents count them from 1) has
        # nothing to prune: a deploy's hooks add no DELETE per batch.
        over = {(model_uuid, unit) for model_uuid, _, unit, run_id in rows if run_id > self.keep}
        if over:
            await self._prune(sorted(over))

    async def _prune(self, units: Sequence[tuple[str, str]]) -> None:
        """One statement for every unit of the batch: each keeps its newest `keep` runs."""
        runs, newer = t.hook_runs, t.hook_runs.alias("newer")
        newest = (
            sa.select(sa.func.max(newer.c.id))
            .where(newer.c.model_uuid == runs.c.model_uuid, newer.c.unit == runs.c.unit)
            .scalar_subquery()
        )
        await self._conn.execute(
            sa.delete(runs).where(
                sa.tuple_(runs.c.model_uuid, runs.c.unit).in_(list(units)),
                runs.c.id <= newest - self.keep,
            )
        )


class HookRunReads:
    """Reads of stored hook runs (outside any write transaction)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list(
        self, model_uuid: str, unit: str, limit: int
    ) -> list[hook_schema.HookRunSummary]:
        """The newest `limit` runs of `unit`, oldest first."""
        runs = t.hook_runs
        query = (
            sa.select(*_SUMMARY)
            .where(runs.c.model_uuid == model_uuid, runs.c.unit == unit)
            .order_by(runs.c.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = list(await conn.execute(query))
        return [hook_schema.HookRunSummary.model_validate(dict(r._mapping)) for r in reversed(rows)]

    async def get(
        self, model_uuid: str, unit: str, run_id: int
    ) -> hook_schema.HookRunDetail | None:
        """One run with its environment and tool calls (None: not stored)."""
        runs = t.hook_runs
        query = sa.select(runs).where(
            runs.c.model_uuid == model_uuid, runs.c.unit == unit, runs.c.id == run_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        values.pop("model_uuid")
        return hook_schema.HookRunDetail.model_validate(values)

    async def known(self, model_uuid: str, unit: str) -> bool:
        """Whether `unit` is in the model, or was (a removed unit's runs outlive it)."""
        runs, units = t.hook_runs, t.units
        ran = sa.select(runs.c.id).where(runs.c.model_uuid == model_uuid, runs.c.unit == unit)
        alive = sa.select(units.c.id).where(units.c.model_uuid == model_uuid, units.c.name == unit)
        async with self._engine.connect() as conn:
            for query in (alive, ran):
                if (await conn.execute(query.limit(1))).first() is not None:
                    return True
        return False
