"""A running action's `action-log` lines on their way to the controller.

The outbox may refuse a line (it is full while the broker takes nothing). A refused line is
not lost: it waits, with every line after it, and they go in order once the agent is woken
with room. The queue is bounded; past the bound the newest lines are dropped and counted,
and the count goes to the action's log as a line of its own, where the dropped lines would
have been. (The action's outcome carries its whole log anyway: what waits here is the live
view of a running action.)
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

from runecraft.schemas import bus

__all__ = ["ACTION_LOG_LIMIT", "ActionLogQueue", "dropped_note"]

ACTION_LOG_LIMIT = 256
"""`action-log` lines that may wait for room in the outbox."""


def dropped_note(count: int) -> str:
    """The line that stands in the action's log for `count` dropped lines."""
    lines = "line" if count == 1 else "lines"
    return f"{count} action-log {lines} dropped: the link to the controller was full"


class ActionLogQueue:
    """The lines not sent yet, in order, sent through `send` (False: refused)."""

    def __init__(
        self, send: Callable[[bus.ActionLog], Awaitable[bool]], limit: int = ACTION_LOG_LIMIT
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self._send = send
        self._limit = limit
        self._lines: collections.deque[bus.ActionLog] = collections.deque()
        self._dropped = 0
        self._last: bus.ActionLog | None = None
        self._sending = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """Lines (and dropped-line notes) not sent yet."""
        return len(self._lines) + (1 if self._dropped else 0)

    async def add(self, line: bus.ActionLog) -> bool:
        """Queue `line` behind any waiting and send what the outbox takes; False if
        something still waits."""
        if self.waiting:
            await self.flush()  # what waits goes first, making room if the outbox has some
        self._last = line
        self._note_dropped()
        if len(self._lines) >= self._limit:
            self._dropped += 1
        else:
            self._lines.append(line)
        return await self.flush()

    async def flush(self) -> bool:
        """Send the waiting lines in order until the outbox refuses one; True once none
        waits."""
        async with self._sending:
            while True:
                if not self._lines:
                    self._note_dropped()
                if not self._lines:
                    return True
                if not await self._send(self._lines[0]):
                    return False
                self._lines.popleft()

    def clear(self) -> None:
        """Forget what waits (the action ended: its outcome carries the whole log)."""
        self._lines.clear()
        self._dropped = 0
        self._last = None

    def _note_dropped(self) -> None:
        """Queue the count of lines dropped so far, once there is room for it."""
        if not self._dropped or self._last is None or len(self._lines) >= self._limit:
            return
        last = self._last
        message = dropped_note(self._dropped)
        self._lines.append(bus.ActionLog(unit=last.unit, action_id=last.action_id, message=message))
        self._dropped = 0
