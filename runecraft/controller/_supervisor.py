"""A small supervisor: named workers restarted with capped backoff (Juju's dependency
engine, in miniature). A worker that ran for a minute before failing starts again at once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import structlog

__all__ = ["supervise"]

logger = structlog.get_logger(__name__)


async def supervise(name: str, worker: Callable[[], Awaitable[None]]) -> None:
    """Run `worker` forever; log and restart it when it fails."""
    delay = 0.5
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await worker()
            logger.warning("worker returned; restarting", worker=name)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("worker failed; restarting", worker=name, retry_in=round(delay, 2))
        if loop.time() - started > 60:
            delay = 0.5
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, 30.0)
