"""Machines of a model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import MachineRecord

__all__ = ["Machines"]


class Machines(Repository):
    """Machines of the transaction's model (by model and number, for agent writes)."""

    async def get(self, number: int) -> MachineRecord:
        return record(MachineRecord, await self._named(t.machines, "number", number, "machine"))

    async def all(self) -> list[MachineRecord]:
        """Every machine of the model, by number."""
        rows = await self._conn.execute(
            sa.select(t.machines)
            .where(t.machines.c.model_uuid == self._session.model_uuid)
            .order_by(t.machines.c.number)
        )
        return [record(MachineRecord, r) for r in rows]

    async def insert(self, **values: Any) -> MachineRecord:
        """A new machine numbered on from the model's counter; `values` override the
        defaults (an enlisted machine comes with its enlistment and credential)."""
        model_uuid = self._session.model_uuid
        number = await self._session.bump(t.models.c.next_machine)
        now = time.time()
        result = await self._conn.execute(
            sa.insert(t.machines)
            .values(
                model_uuid=model_uuid,
                number=number,
                life="alive",
                agent=f"machine-{number}.{model_uuid}",
                status="pending",
                status_message="",
                status_since=now,
                hostname="",
                address="",
                retry_count=0,
                created=now,
            )
            .values(**values)
            .returning(t.machines)
        )
        self._session.changed(f"machine-{number}", "added")
        return record(MachineRecord, result.one())

    async def update(self, machine: MachineRecord, **values: Any) -> None:
        await self._conn.execute(
            sa.update(t.machines).where(t.machines.c.id == machine.id).values(**values)
        )
        self._session.changed(f"machine-{machine.number}", "changed", machine.model_uuid)

    async def delete(self, machine: MachineRecord) -> None:
        await self._conn.execute(sa.delete(t.machines).where(t.machines.c.id == machine.id))
        self._session.changed(f"machine-{machine.number}", "removed", machine.model_uuid)

    async def address(self, model_uuid: str, machine_number: int) -> str:
        address = (
            await self._conn.execute(
                sa.select(t.machines.c.address).where(
                    t.machines.c.model_uuid == model_uuid, t.machines.c.number == machine_number
                )
            )
        ).scalar_one_or_none()
        return str(address or "")

    async def mark_all_started(self, started: Sequence[tuple[str, int, float]]) -> bool:
        """Record that the agents of machines (model uuid, number, when seen up) are up; one
        query finds those not yet marked (at most one statement each: rarely any). Returns
        whether any status changed."""
        if not started:
            return False
        m = t.machines.c
        first: dict[tuple[str, int], float] = {}
        for model, number, at in started:
            first.setdefault((model, number), at)
        down = await self._conn.execute(
            sa.select(m.model_uuid, m.number).where(
                m.status != "started", sa.tuple_(m.model_uuid, m.number).in_(list(first))
            )
        )
        changed = False
        for row in down.all():
            key = (str(row.model_uuid), int(row.number))
            changed |= await self.mark_started(*key, first[key])
        return changed

    async def mark_started(self, model_uuid: str, machine_number: int, now: float) -> bool:
        """Record that the machine's agent is up; returns whether its status changed."""
        result = await self._conn.execute(
            sa.update(t.machines)
            .where(
                t.machines.c.model_uuid == model_uuid,
                t.machines.c.number == machine_number,
                t.machines.c.status != "started",
            )
            .values(
                status="started", status_message="", status_since=now, retry_count=0, retry_at=None
            )
        )
        return bool(result.rowcount)
