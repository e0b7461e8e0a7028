"""The controller's own stalls, so that they never cost a live leader its lease.

Leases are judged on the controller's wall clock, but a heartbeat renews one only once the
controller has read it. While the controller itself hears nothing (its event loop blocked
by a long synchronous step or starved of CPU, its process stopped, its wall clock jumped
ahead), the heartbeats agents send wait unread on its socket, and the first pass after it
would find every lease run out although every agent kept renewing. A watch that ticks on the
controller's loop sees such a stall as a late tick: a lease runs on by the stalled time
after it was last renewed (`_plan.lease_end`), and while a stall is still unnoticed (the
loop resumed and the watch has not ticked yet) no lease runs out at all.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

import structlog

__all__ = ["STALL_TICK", "StallWatch"]

logger = structlog.get_logger(__name__)

STALL_TICK = 1.0
"""Seconds between the watch's ticks; a tick later by more than one more is a stall."""
_KEPT = 256
"""Stalls remembered; an older one only shortens the leases it would extend."""
_LOGGED = 10.0
"""Stalls at least this long are logged (shorter ones come with any busy moment)."""


class StallWatch:
    """Notices the spans in which the controller's loop did not run."""

    def __init__(self, tick: float = STALL_TICK, clock: Callable[[], float] = time.time) -> None:
        self.tick = tick
        self._clock = clock
        self._last: float | None = None
        """When the watch last ticked (None: it is not running)."""
        self._stalls: collections.deque[tuple[float, float]] = collections.deque(maxlen=_KEPT)

    async def run(self) -> None:
        """Tick until cancelled."""
        self._last = self._clock()
        try:
            while True:
                await asyncio.sleep(self.tick)
                self.ticked()
        finally:
            self._last = None

    def ticked(self) -> None:
        """One tick: a late one records the stall it ended (from when it was due)."""
        now = self._clock()
        if self._last is not None and now - self._last > 2 * self.tick:
            began = self._last + self.tick
            self._stalls.append((began, now))
            if now - began >= _LOGGED:
                logger.warning(
                    "controller stalled; leases run on by the stall", seconds=round(now - began)
                )
        self._last = now

    def stalled(self) -> bool:
        """The watch is late right now: the controller is only resuming from a stall and
        has not read what agents sent meanwhile."""
        return self._last is not None and self._clock() - self._last > 2 * self.tick

    def stalls(self) -> tuple[tuple[float, float], ...]:
        """The stalls noticed, (began, ended) in wall-clock seconds, oldest first."""
        return tuple(self._stalls)
