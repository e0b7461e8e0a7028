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
        """Changes committed: the reconcilers caught up when a pass began after the last."""
        self.version = 0
        """Moves with every change and every `wake`: what a waiter waits past."""
        self.reconcile = asyncio.Event()
        self._moved = asyncio.Event()
        self._causes: list[str] = []

    def changed(self) -> None:
        """Something was committed: wake the reconcilers and every waiter."""
        self.generation += 1
        if (cause := _tracing.traceparent()) is not None:
            self._causes = [*self._causes[-(MAX_CAUSES - 1) :], cause]
        self.reconcile.set()
        self.wake()

    def wake(self) -> None:
        """Wake every waiter without a change: what they wait on beside the database moved
        (the reconcilers caught up with the changes, a snapshot reached an agent), which
        status shows. Without it, a waiter that saw the model still being reconciled would
        sleep out its whole timeout after the pass that settled it; and since `version`
        moves, so does one that asks only after that pass ended."""
        self.version += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def wait_after(self, version: int, timeout: float) -> int:
        """Return the `version` once it has moved on from `version`, or at `timeout`.

        A `version` that is not the current one (older, or from before a restart) returns
        at once."""
        if self.version == version:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), timeout)
        return self.version

    def take_causes(self) -> list[str]:
        """The traced spans (traceparents) that committed changes since the last call,
        oldest first: the reconcile pass that acts on them continues their traces."""
        causes, self._causes = self._causes, []
        return causes
