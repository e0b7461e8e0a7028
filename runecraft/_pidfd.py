"""Waiting for a process that is not (or no longer) our child to exit.

A pidfd becomes readable when its process exits, so the event loop is told at once; where
the kernel has none (Linux before 5.3), `alive` is asked every `poll` seconds. Shared by the
controller (a mosquitto it adopted) and the agents (a pebble daemon an earlier agent left).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

__all__ = ["POLL_INTERVAL", "exited"]

POLL_INTERVAL = 1.0
"""Seconds between checks that a process is alive, where the kernel has no pidfd."""


async def exited(pid: int, alive: Callable[[], bool], poll: float = POLL_INTERVAL) -> None:
    """Return once process `pid` has exited; `alive` says whether it is still the process
    meant (not a later one that was given the same pid)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd: look every `poll` seconds
        while alive():  # noqa: ASYNC110 (nothing to wait on but time)
            await asyncio.sleep(poll)
        return
    try:
        if not alive():  # exited (and maybe the pid was reused) before the pidfd was opened
            return
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await gone
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)
