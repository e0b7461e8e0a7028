"""Actions inside a write transaction."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import TxBase
from runecraft.controller.state._records import ActionRecord

__all__ = ["ActionWrites"]


class ActionWrites(TxBase):
    async def insert_action(self, unit: str, name: str, params: dict[str, Any]) -> ActionRecord:
        """Queue an action with the model's next action number (1, 2, 3 …)."""
        assert self.model is not None
        number = int(
            (
                await self.conn.execute(
                    sa.update(t.models)
                    .where(t.models.c.uuid == self.model.uuid)
                    .values(next_action=t.models.c.next_action + 1)
                    .returning(t.models.c.next_action)
                )
            ).scalar_one()
        )
        record = ActionRecord(
            model_uuid=self.model.uuid,
            id=number,
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
        await self.conn.execute(
            sa.insert(t.actions).values(
                model_uuid=record.model_uuid,
                id=record.id,
                unit=record.unit,
                name=record.name,
                params=record.params,
                status=record.status,
                message=record.message,
                results=record.results,
                log=record.log,
                enqueued=record.enqueued,
            )
        )
        self.changed(f"action-{record.id}", "added")
        return record
