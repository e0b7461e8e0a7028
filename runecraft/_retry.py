"""The one retry policy: capped exponential back-off with jitter, over tenacity.

`backoff_delay` is the formula (pure but for its random source), shared by the edges' retry
loops and by whatever persists a retry time of its own (a machine's next provisioning
attempt). `RetryPolicy` drives tenacity with it at the edges: it retries only the errors it
names, never a `PermanentError` (unless it is a supervisor's policy), and waits
`TemporaryError.delay` when the error says how long. (A machine's persisted retry takes the
longer of that delay and the back-off, so a provider asking for a short delay cannot make
the controller hammer an unreachable host.) A long-running edge (a bus session, a
supervised worker) calls `Attempts.restart` when it made progress, so its next failure
waits the first delay again. `Outage` is the same back-off for a loop that keeps its work
and tries again itself (a worker whose database is unavailable): it logs once when the run
of failures starts and once when it ends, never a line per attempt.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tenacity

from runecraft import _logging, errors

__all__ = ["Attempts", "Outage", "RetryPolicy", "backoff_delay"]

logger = _logging.get_logger(__name__)

T = TypeVar("T")

_MAX_DOUBLINGS = 64
"""Past this many doublings every delay is at the cap anyway (and 2.0**n stays finite)."""


def backoff_delay(
    attempt: int,
    *,
    first: float = 5.0,
    cap: float = 300.0,
    spread: float = 0.2,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after failure number `attempt` (1-based): `first` doubling up to `cap`,
    then spread by ±`spread` (a fraction) so that many clients do not retry in step.

    The default is the reconcilers' machine back-off: 5 s doubling to 5 min, ±20 %.
    """
    doublings = min(max(attempt - 1, 0), _MAX_DOUBLINGS)
    base = min(cap, first * 2.0**doublings)
    return base * (1.0 + spread * (2.0 * rand() - 1.0))


@dataclass
class Attempts:
    """Where the current run of failures began, for an edge that outlives single attempts."""

    since: int = 1
    """The tenacity attempt number the run started at."""

    def restart(self, state: tenacity.RetryCallState) -> None:
        """The attempt of `state` made progress: count its failure (if any) as the first."""
        self.since = state.attempt_number

    def failures(self, state: tenacity.RetryCallState) -> int:
        """Failures in a row, including the attempt of `state`."""
        return state.attempt_number - self.since + 1


@dataclass(frozen=True)
class RetryPolicy:
    """How an edge retries: which errors, how long between attempts, how many attempts."""

    first: float = 5.0
    """Seconds before the second attempt."""
    cap: float = 300.0
    """Longest wait between attempts."""
    spread: float = 0.2
    """Jitter as a fraction of the wait (±)."""
    retry_on: tuple[type[BaseException], ...] = (errors.TemporaryError,)
    """Errors worth another attempt; a `PermanentError` never is, unless `restart_any`."""
    restart_any: bool = False
    """A supervisor's policy: every failure of `retry_on` restarts, a `PermanentError` too,
    so one broken worker (a unit with a corrupt state file) never stops its neighbours."""
    attempts: int | None = None
    """Most attempts in all (None: until cancelled); the last error is raised as it was."""
    rand: Callable[[], float] = field(default=random.random, compare=False)
    """Random source in [0, 1) for the jitter."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    """How to wait (a test records the waits instead)."""

    def retryable(self, error: BaseException) -> bool:
        """`error` is worth another attempt under this policy."""
        if not isinstance(error, self.retry_on):
            return False
        return self.restart_any or not isinstance(error, errors.PermanentError)

    def delay(self, failures: int, error: BaseException | None = None) -> float:
        """Seconds to wait after `failures` failures in a row, the last one `error`."""
        if isinstance(error, errors.TemporaryError) and error.delay is not None:
            return max(error.delay, 0.0)
        return backoff_delay(
            failures, first=self.first, cap=self.cap, spread=self.spread, rand=self.rand
        )

    def retrying(
        self,
        what: str,
        *,
        attempts: Attempts | None = None,
        traceback: bool = False,
        **context: Any,
    ) -> tenacity.AsyncRetrying:
        """A tenacity controller for `async for attempt in ...: with attempt: ...`; each retry
        is logged once as `what` with `context` (and the error's traceback if asked)."""
        counter = attempts if attempts is not None else Attempts()

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return self.delay(counter.failures(state), error)

        def log(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            delay = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                what,
                error=str(error) or type(error).__name__,
                failures=counter.failures(state),
                retry_in=round(delay, 2),
                **context,
                exc_info=error if traceback else None,
            )

        stop: tenacity.stop.stop_base = tenacity.stop_never
        if self.attempts is not None:
            stop = tenacity.stop_after_attempt(self.attempts)
        return tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception(self.retryable),
            wait=wait,
            stop=stop,
            before_sleep=log,
            sleep=self.sleep,
            reraise=True,
        )

    async def call(self, what: str, operation: Callable[[], Awaitable[T]], **context: Any) -> T:
        """Run `operation` until it succeeds, fails for good, or runs out of attempts."""
        async for attempt in self.retrying(what, **context):
            with attempt:
                return await operation()
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


@dataclass
class Outage:
    """A run of failures of one loop: logged once when it starts and once when it ends (Home
    Assistant's coordinator), with the back-off to wait between attempts meanwhile."""

    what: str
    """The log event of the first failure (`cannot store agent messages; retrying`)."""
    first: float = 0.5
    """Seconds before the second attempt."""
    cap: float = 30.0
    """Longest wait between attempts."""
    failures: int = 0
    """Failures in the current run (0: no outage)."""

    def failed(self, error: BaseException, **context: Any) -> float:
        """Count a failure (logged if it starts an outage); the seconds to wait."""
        self.failures += 1
        if self.failures == 1:
            message = error.message if isinstance(error, errors.RunecraftError) else str(error)
            logger.warning(self.what, error=message or type(error).__name__, **context)
        return self.delay

    @property
    def delay(self) -> float:
        """Seconds to wait before the next attempt (`first` when no attempt failed yet)."""
        return backoff_delay(max(self.failures, 1), first=self.first, cap=self.cap)

    def recovered(self, **context: Any) -> None:
        """An attempt succeeded: an outage, if there was one, is over (logged once)."""
        if self.failures:
            logger.info("recovered", after=self.what, failures=self.failures, **context)
            self.failures = 0
