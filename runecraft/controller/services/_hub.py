"""Wake-ups after a commit: reconcilers and waiting clients look again (level-triggered)."""

from __future__ import annotations

import asyncio
import contextlib

from runecraft import _tracing

__all__ = ["MAX_CAUSES", "ChangeHub"]

MAX_CAUSES = 32
"""Traced changes kept for the next reconcile pass; beyond it the oldest are dropped
(their spans only lose the link to the pass)."""


class ChangeHub:
    """A generation counter with waiters; call `changed()` after every commit."""

    def __init__(self) -> None:
        self.generation = 0
        self.reconcile = asyncio.Event()
        self._moved = asyncio.Event()
        self._causes: list[str] = []

    def changed(self) -> None:
        """Something was committed: wake the reconcilers and every waiter."""
        self.generation += 1
        if (cause := _tracing.traceparent()) is not None:
            self._causes = [*self._causes[-(MAX_CAUSES - 1) :], cause]
        self.reconcile.set()
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait_after(self, generation: int, timeout: float) -> int:
        """Return the generation once it has moved on from `generation`, or at `timeout`.

        A `generation` that is not the current one (older, or from before a restart)
        returns at once."""
        if self.generation == generation:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), timeout)
        return self.generation

    def take_causes(self) -> list[str]:
        """The traced spans (traceparents) that committed changes since the last call,
        oldest first: the reconcile pass that acts on them continues their traces."""
        causes, self._causes = self._causes, []
        return causes
