"""What every part of a write transaction shares: the connection, the model it is scoped to,
and the change log that moves model revisions at commit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state._records import ModelRecord

__all__ = ["CHARM_COLUMNS", "R", "Repository", "Session", "record"]


R = TypeVar("R")
"""A record type."""


def record(kind: type[R], row: Any) -> R:
    """A database row as its frozen record (the record's fields are the row's columns)."""
    return kind(**row._mapping)


CHARM_COLUMNS = (
    t.charms.c.sha256,
    t.charms.c.name,
    t.charms.c.meta,
    t.charms.c.config,
    t.charms.c.actions,
    t.charms.c.size,
)


class Session:
    """One write transaction's connection, the model it is scoped to, and its change log;
    every repository of the transaction shares it.

    A transaction opened on a model (`Store.write(name)`) records changes of that model;
    one opened without (agent reports) names the model of each change it records.
    """

    def __init__(self, conn: AsyncConnection, model: ModelRecord | None) -> None:
        self.conn = conn
        self.model = model
        self._changes: list[tuple[str, str, str]] = []

    @property
    def model_uuid(self) -> str:
        """The transaction's model (only for a transaction opened on one)."""
        assert self.model is not None, "this write needs a transaction opened on a model"
        return self.model.uuid

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        """The changes recorded so far: (model uuid, entity, kind)."""
        return list(self._changes)

    def changed(self, entity: str, kind: str, model_uuid: str | None = None) -> None:
        """Record a change for the change log (written at commit); it moves the revision of
        `model_uuid` (default: the transaction's model)."""
        self._changes.append((model_uuid or self.model_uuid, entity, kind))

    async def bump(self, counter: sa.Column[Any], model_uuid: str | None = None) -> int:
        """Move one of the model's counters (`next_machine`, …) on by one; returns the
        value it had (`model_uuid`: another model's, for the offering side of a relation)."""
        moved = await self.conn.execute(
            sa.update(t.models)
            .where(t.models.c.uuid == (model_uuid or self.model_uuid))
            .values({counter: counter + 1})
            .returning(counter)
        )
        return int(moved.scalar_one()) - 1

    async def _touch_linked_models(self) -> None:
        """A change to a model's relations (scopes, bags, life) moves the revision of the
        models it has cross-model relations with too: their units see its units' scopes
        and bags. Other changes (most hook commits) cost no query here."""
        changed = sorted(
            {uuid for uuid, entity, _ in self._changes if entity.startswith("relation-")}
        )
        if not changed:
            return
        links = t.cross_model_relations
        rows = await self.conn.execute(
            sa.select(links.c.model_uuid, links.c.offer_model_uuid)
            .where(sa.or_(links.c.model_uuid.in_(changed), links.c.offer_model_uuid.in_(changed)))
            .distinct()
        )
        for consumer, offerer in rows:
            for uuid in (consumer, offerer):
                if uuid not in changed:
                    self._changes.append((str(uuid), "remote-relations", "changed"))

    async def finish(self) -> dict[str, int]:
        """Move the revision of every model changed, once; returns the new revisions."""
        revisions: dict[str, int] = {}
        now = time.time()
        await self._touch_linked_models()
        for model_uuid in dict.fromkeys(uuid for uuid, _, _ in self._changes):
            result = await self.conn.execute(
                sa.update(t.models)
                .where(t.models.c.uuid == model_uuid)
                .values(revision=t.models.c.revision + 1)
                .returning(t.models.c.revision)
            )
            revision = result.scalar_one_or_none()
            if revision is None:  # the model went away in this transaction
                continue
            revisions[model_uuid] = int(revision)
            await self.conn.execute(
                sa.insert(t.changes),
                [
                    {
                        "model_uuid": uuid,
                        "revision": int(revision),
                        "entity": entity,
                        "kind": kind,
                        "at": now,
                    }
                    for uuid, entity, kind in self._changes
                    if uuid == model_uuid
                ],
            )
        return revisions


@dataclass(eq=False)
class Repository:
    """A narrow view of one aggregate's rows, over its transaction's session."""

    _session: Session

    @property
    def _conn(self) -> AsyncConnection:
        return self._session.conn

    async def _named(self, table: sa.Table, key: str, value: object, what: str) -> Any:
        """The row of the transaction's model whose `key` is `value`; a `NotFoundError`
        naming `what` when there is none."""
        model = self._session.model
        assert model is not None
        row = await self._first(
            sa.select(table).where(table.c.model_uuid == model.uuid, table.c[key] == value)
        )
        if row is None:
            raise errors.NotFoundError(f'{what} "{value}" not found in model "{model.name}"')
        return row

    async def _first(self, query: sa.Executable) -> Any:
        """The first row `query` returns (None: none)."""
        return (await self._conn.execute(query)).first()
