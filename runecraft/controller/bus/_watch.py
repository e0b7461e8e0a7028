"""Supervision of the broker the controller runs (a managed mosquitto, or the embedded amqtt).

`BrokerWatch.run` is a worker for the controller's supervisor: it waits until the broker
stops serving, says so in its `health` and fails, and the supervisor runs it again after its
back-off (0.5 s doubling to 30 s while attempts keep failing), when it starts the broker
again first. A broker the controller adopted (a mosquitto found by pid file after a restart)
is watched the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from runecraft import errors
from runecraft.schemas.controller import BrokerHealth, BrokerState

__all__ = ["BrokerStopped", "BrokerWatch"]

BrokerStopped = errors.BrokerStoppedError
"""The broker stopped serving; the supervisor starts it again."""

logger = structlog.get_logger(__name__)


class BrokerWatch:
    """Keeps one broker serving: `start` (re)starts it, `stopped` returns (saying how) once
    it no longer serves."""

    def __init__(
        self,
        what: str,
        start: Callable[[], Awaitable[None]],
        stopped: Callable[[], Awaitable[str]],
    ) -> None:
        self.what = what
        self._start = start
        self._stopped = stopped
        self.health = BrokerHealth()
        """Running at first: the controller started (or adopted) the broker before."""

    async def run(self) -> None:
        """Start the broker if it is not running, then wait until it stops; always fails,
        so that the supervisor runs it again after its back-off."""
        if self.health.state is not BrokerState.RUNNING:
            try:
                await self._start()
            except Exception as exc:
                message = exc.message if isinstance(exc, errors.RunecraftError) else str(exc)
                self.health = BrokerHealth(state=BrokerState.DOWN, message=message)
                raise
            self.health = BrokerHealth()
            logger.info("broker started again", broker=self.what)
        why = await self._stopped()
        self.health = BrokerHealth(state=BrokerState.RESTARTING, message=why)
        raise BrokerStopped(why)
