"""Hook runs as `rune hooks`, `show-hook` and `replay` read them: a unit's newest runs, or
one run whole. A unit of another model is not found (reads are confined to the model the
caller may read)."""

from __future__ import annotations

from runecraft import errors
from runecraft.controller.services._names import parse_unit_name
from runecraft.controller.state import Store
from runecraft.controller.state._hooks import HookRunReads
from runecraft.schemas import hooks as hook_schema

__all__ = ["MAX_LIMIT", "HookService"]

MAX_LIMIT = hook_schema.KEEP_PER_UNIT
"""The most runs one read returns: every run kept."""


class HookService:
    """Reads of the hook runs the agents recorded."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = HookRunReads(store.engine)

    async def _unit_model(self, model: str, unit: str) -> str:
        """The model's uuid, once `unit` is a valid name of a unit in it (or once in it)."""
        parse_unit_name(unit)
        uuid = (await self.store.model(model)).uuid
        if not await self.reads.known(uuid, unit):
            raise errors.NotFoundError(f'unit "{unit}" not found in model "{model}"')
        return uuid

    async def runs(self, model: str, unit: str, limit: int) -> list[hook_schema.HookRunSummary]:
        """The newest `limit` runs of `unit`, oldest first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise errors.InvalidSpecError(
                f"invalid limit {limit}: expected a number from 1 to {MAX_LIMIT}"
            )
        uuid = await self._unit_model(model, unit)
        return await self.reads.list(uuid, unit, limit)

    async def run(self, model: str, unit: str, run_id: int) -> hook_schema.HookRunDetail:
        """One run of `unit` with its environment and tool calls."""
        uuid = await self._unit_model(model, unit)
        found = await self.reads.get(uuid, unit, run_id)
        if found is None:
            raise errors.NotFoundError(
                f'hook run {run_id} of unit "{unit}" not found (rune hooks {unit} lists them; '
                f"the newest {hook_schema.KEEP_PER_UNIT} are kept)"
            )
        return found
