"""Wake-ups after a commit: reconcilers and waiting clients look again (level-triggered)."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["ChangeHub"]


class ChangeHub:
    """A generation counter with waiters; call `changed()` after every commit."""

    def __init__(self) -> None:
        self.generation = 0
        self.reconcile = asyncio.Event()
        self._moved = asyncio.Event()

    def changed(self) -> None:
        """Something was committed: wake the reconcilers and every waiter."""
        self.generation += 1
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
