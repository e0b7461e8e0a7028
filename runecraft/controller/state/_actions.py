"""Actions: queued by users, started and finished by their units' agents."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import ActionRecord

__all__ = ["Actions"]


class Actions(Repository):
    async def insert(self, unit: str, name: str, params: dict[str, Any]) -> ActionRecord:
        """Queue an action with the model's next action number (1, 2, 3 …)."""
        action = ActionRecord(
            model_uuid=self._session.model_uuid,
            id=await self._session.bump(t.models.c.next_action) + 1,
            unit=unit,
            name=name,
            params=params,
            status="pending",
            message="",
            results={},
            log=[],
            enqueued=time.time(),
            started=None,
            completed=None,
        )
        await self._conn.execute(sa.insert(t.actions).values(**dataclasses.asdict(action)))
        self._session.changed(f"action-{action.id}", "added")
        return action

    async def of_unit(self, model_uuid: str, unit: str, action_id: str) -> ActionRecord | None:
        """An action of the unit by its id ("1", "2", …); None for another unit's."""
        if not action_id.isdigit():
            return None
        row = await self._first(
            sa.select(t.actions).where(
                t.actions.c.model_uuid == model_uuid,
                t.actions.c.id == int(action_id),
                t.actions.c.unit == unit,
            )
        )
        return None if row is None else record(ActionRecord, row)

    async def update(self, model_uuid: str, action_id: int, **values: Any) -> None:
        await self._conn.execute(
            sa.update(t.actions)
            .where(t.actions.c.model_uuid == model_uuid, t.actions.c.id == action_id)
            .values(**values)
        )

    async def fail_unfinished(self, model_uuid: str, unit: str, message: str, now: float) -> None:
        """Fail every pending or running action of a unit that is gone."""
        await self._conn.execute(
            sa.update(t.actions)
            .where(
                t.actions.c.model_uuid == model_uuid,
                t.actions.c.unit == unit,
                t.actions.c.status.in_(("pending", "running")),
            )
            .values(status="failed", message=message, completed=now)
        )
