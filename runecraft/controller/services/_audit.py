"""The audit log: who made which mutating API call, when, and how it ended."""

from __future__ import annotations

import time

from runecraft import errors
from runecraft.controller.state import Store
from runecraft.controller.state._audit import AuditLog
from runecraft.schemas.audit import MAX_AUDIT_LIMIT, AuditEntry, AuditPage

__all__ = ["AuditService"]


class AuditService:
    """Appends entries as calls are answered; reads them for `rune audit-log`."""

    def __init__(self, store: Store) -> None:
        self._log = AuditLog(store)

    async def record(
        self,
        *,
        principal: str,
        method: str,
        route: str,
        model: str | None,
        status: int,
        error: str = "",
    ) -> None:
        entry = AuditEntry(
            id=0,
            at=time.time(),
            principal=principal[:200],
            method=method[:8],
            route=route[:256],
            model=None if model is None else model[:128],
            status=status,
            error=error[:64],
        )
        await self._log.append(entry)

    async def entries(self, *, limit: int = 50, model: str | None = None) -> AuditPage:
        if not 1 <= limit <= MAX_AUDIT_LIMIT:
            raise errors.InvalidSpecError(
                f"limit {limit} not valid: give 1 to {MAX_AUDIT_LIMIT} entries"
            )
        return AuditPage(entries=await self._log.read(limit=limit, model=model))
