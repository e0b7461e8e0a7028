"""The transaction's model row and the status history of its entities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository
from runecraft.schemas import bus

__all__ = ["Models", "StatusHistory"]


class Models(Repository):
    """The model row of a transaction opened on a model."""

    async def update(self, **values: Any) -> None:
        model = self._session.model
        assert model is not None
        await self._conn.execute(
            sa.update(t.models).where(t.models.c.uuid == model.uuid).values(**values)
        )
        self._session.changed(f"model-{model.name}", "changed")


class StatusHistory(Repository):
    """What `show-status-log` reads: every status an entity had."""

    async def record_many(
        self, entries: Sequence[tuple[str, str, str, tuple[str, str]]], now: float
    ) -> None:
        """Record statuses (model uuid, entity, kind, (status, message)) as of `now`, in one
        statement executed for all."""
        if entries:
            await self._conn.execute(
                sa.insert(t.status_history),
                [
                    {
                        "model_uuid": model_uuid,
                        "entity": entity,
                        "kind": kind,
                        "status": status,
                        "message": message,
                        "since": now,
                    }
                    for model_uuid, entity, kind, (status, message) in entries
                ],
            )

    async def record(
        self, model_uuid: str, entity: str, kind: str, status: bus.StatusValue, now: float
    ) -> None:
        await self._conn.execute(
            sa.insert(t.status_history).values(
                model_uuid=model_uuid,
                entity=entity,
                kind=kind,
                status=status.status,
                message=status.message,
                since=now,
            )
        )
