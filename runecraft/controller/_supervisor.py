"""A small supervisor: named workers restarted with capped backoff (Juju's dependency
engine, in miniature). A worker that ran for a minute before failing starts again at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from runecraft import _retry

__all__ = ["RESTART", "supervise"]

RESTART = _retry.RetryPolicy(first=0.5, cap=30.0, retry_on=(Exception,), restart_any=True)
"""Restart 0.5 s after a failure (±20 %), doubling to 30 s while the worker keeps failing."""

HEALTHY_AFTER = 60.0
"""Seconds a worker must run before its failure counts as the first again."""


class WorkerReturned(Exception):  # noqa: N818 (an event, not a fault of the caller)
    """A worker that should run forever returned."""


async def supervise(
    name: str,
    worker: Callable[[], Awaitable[None]],
    policy: _retry.RetryPolicy = RESTART,
    *,
    traceback: bool = True,
) -> None:
    """Run `worker` forever; log (with the traceback unless the failure is an expected
    event) and restart it when it fails or returns."""
    loop = asyncio.get_running_loop()
    attempts = _retry.Attempts()
    async for attempt in policy.retrying(
        "worker failed; restarting", attempts=attempts, traceback=traceback, worker=name
    ):
        with attempt:
            started = loop.time()
            try:
                await worker()
            finally:
                if loop.time() - started > HEALTHY_AFTER:
                    attempts.restart(attempt.retry_state)
            raise WorkerReturned(f"worker {name} returned")
