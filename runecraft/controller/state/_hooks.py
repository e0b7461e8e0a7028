"""Hook runs: the record of each hook a unit agent ran, kept per unit (newest
`KEEP_PER_UNIT`), read by `rune hooks`, `show-hook` and `replay`.

Runs are written in the agents' batched transactions (`HookRuns.record`): each agent may
record runs of the units on its own machine only, a repeat of a stored run (an agent
resends its newest after a reconnect) is ignored, and each unit's oldest runs beyond the
bound are pruned in the same transaction. A run is not model state: storing one moves no
revision. Reads always name the model, so no unit sees another model's runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
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

_Key = tuple[str, int]
"""(model uuid, machine number): where an agent's runs come from."""


class HookRuns(Repository):
    """Hook runs written by agents, in a write transaction."""

    def __init__(self, session: Session, keep: int = hook_schema.KEEP_PER_UNIT) -> None:
        self._session = session
        self.keep = keep

    async def record(self, runs: Sequence[tuple[str, int, bus.HookRun]]) -> int:
        """Store runs sent by agents as (model uuid, machine number, run): only those of a
        unit on that machine and not stored yet; then prune each unit's oldest beyond
        `keep`. Returns how many were stored."""
        by_machine: dict[_Key, list[bus.HookRun]] = defaultdict(list)
        for model_uuid, machine, run in runs:
            by_machine[(model_uuid, machine)].append(run)
        rows: list[dict[str, Any]] = []
        for (model_uuid, machine), sent in by_machine.items():
            rows += await self._new_rows(model_uuid, machine, sent)
        if not rows:
            return 0
        await self._conn.execute(sa.insert(t.hook_runs), rows)
        # A unit whose runs so far number at most `keep` (agents count them from 1) has
        # nothing to prune: a deploy's hooks add no DELETE per batch.
        over = {(row["model_uuid"], row["unit"]) for row in rows if row["id"] > self.keep}
        if over:
            await self._prune(sorted(over))
        return len(rows)

    async def _new_rows(
        self, model_uuid: str, machine: int, sent: Sequence[bus.HookRun]
    ) -> list[dict[str, Any]]:
        names = sorted({run.unit for run in sent})
        owned = set(
            (
                await self._conn.execute(
                    sa.select(t.units.c.name).where(
                        t.units.c.model_uuid == model_uuid,
                        t.units.c.machine_number == machine,
                        t.units.c.name.in_(names),
                    )
                )
            ).scalars()
        )
        stored = {
            (row.unit, row.id)
            for row in await self._conn.execute(
                sa.select(t.hook_runs.c.unit, t.hook_runs.c.id).where(
                    t.hook_runs.c.model_uuid == model_uuid,
                    t.hook_runs.c.unit.in_(sorted(owned)),
                    t.hook_runs.c.id.in_(sorted({run.id for run in sent})),
                )
            )
        }
        rows: dict[tuple[str, int], dict[str, Any]] = {}
        for run in sent:
            key = (run.unit, run.id)
            if run.unit in owned and key not in stored:
                rows[key] = {
                    "model_uuid": model_uuid,
                    **run.model_dump(mode="json", exclude={"kind"}),
                }
        return list(rows.values())

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
