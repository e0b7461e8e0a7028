"""The audit log's rows: appended by the API for every mutating call, read newest last.

An entry moves no model revision (it is not model state), so nothing wakes for it.
"""

from __future__ import annotations

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._store import Store
from runecraft.schemas.audit import AuditEntry

__all__ = ["AuditLog"]


class AuditLog:
    """Audit rows of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def append(self, entry: AuditEntry) -> None:
        """Store `entry` (its `id` is ignored: the database numbers entries)."""
        values = entry.model_dump(exclude={"id"})
        async with self._store.write() as tx:
            await tx.conn.execute(sa.insert(t.audit_log).values(**values))

    async def read(self, *, limit: int, model: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries (of one model's routes, with `model`), oldest first."""
        query = sa.select(t.audit_log).order_by(t.audit_log.c.id.desc()).limit(limit)
        if model is not None:
            query = query.where(t.audit_log.c.model == model)
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [AuditEntry.model_validate(dict(r._mapping)) for r in reversed(rows)]
