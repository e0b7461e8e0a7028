"""The one retry policy: the back-off formula by table and property, and what is retried,
how long it waits (recorded, not slept), and when it gives up."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft import _retry, errors
from runecraft.controller import _supervisor, bus


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        (0, 4.0, 6.0),
        (1, 4.0, 6.0),
        (2, 8.0, 12.0),
        (3, 16.0, 24.0),
        (6, 128.0, 192.0),
        (7, 240.0, 360.0),  # 320 s is over the cap: 5 min
        (1000, 240.0, 360.0),
    ],
)
def test_backoff_doubles_from_five_seconds_to_five_minutes_with_a_fifth_of_jitter(
    attempt: int, low: float, high: float
) -> None:
    assert _retry.backoff_delay(attempt, rand=lambda: 0.0) == pytest.approx(low)
    assert _retry.backoff_delay(attempt, rand=lambda: 1.0) == pytest.approx(high)
    assert low <= _retry.backoff_delay(attempt) <= high


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    first=st.floats(min_value=0.01, max_value=60),
    cap=st.floats(min_value=0.01, max_value=3600),
    spread=st.floats(min_value=0, max_value=0.9),
    rand=st.floats(min_value=0, max_value=1),
)
def test_backoff_stays_within_its_spread_of_the_capped_doubling(
    attempt: int, first: float, cap: float, spread: float, rand: float
) -> None:
    delay = _retry.backoff_delay(attempt, first=first, cap=cap, spread=spread, rand=lambda: rand)
    base = min(cap, first * 2.0 ** min(attempt - 1, 64))
    assert base * (1 - spread) - 1e-9 <= delay <= base * (1 + spread) + 1e-9
    assert delay <= cap * (1 + spread) + 1e-9


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


def recording(policy: _retry.RetryPolicy) -> tuple[_retry.RetryPolicy, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return dataclasses.replace(policy, sleep=sleep, rand=lambda: 0.5), waits


async def test_temporary_errors_are_retried_and_their_delay_is_honoured() -> None:
    policy, waits = recording(_retry.RetryPolicy(first=1.0, cap=10.0))
    flaky = Flaky(errors.TemporaryError("busy", delay=42.0), errors.TemporaryError("again", 0.0))
    assert await policy.call("flaky", flaky) == "done"
    assert (flaky.calls, waits) == (3, [42.0, 0.0])


async def test_other_retryable_errors_wait_the_growing_backoff() -> None:
    policy, waits = recording(_retry.RetryPolicy(first=1.0, cap=3.0, retry_on=(OSError,)))
    flaky = Flaky(*(OSError("refused") for _ in range(4)))
    assert await policy.call("flaky", flaky) == "done"
    assert waits == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(
    "error",
    [
        errors.PermanentError("will never work"),
        errors.InvalidSpecError("bad input"),
        ValueError("not named by the policy"),
    ],
)
async def test_errors_the_policy_does_not_name_are_not_retried(error: Exception) -> None:
    policy, waits = recording(_retry.RetryPolicy())
    flaky = Flaky(error)
    with pytest.raises(type(error)):
        await policy.call("flaky", flaky)
    assert (flaky.calls, waits) == (1, [])


async def test_a_permanent_error_is_not_retried_even_under_a_catch_all_policy() -> None:
    policy, waits = recording(_retry.RetryPolicy(retry_on=(Exception,)))
    flaky = Flaky(errors.TemporaryError("once", delay=3.0), errors.PermanentError("for good"))
    with pytest.raises(errors.PermanentError, match="for good"):
        await policy.call("flaky", flaky)
    assert (flaky.calls, waits) == (2, [3.0])


async def test_the_last_error_is_raised_as_it_was_when_attempts_run_out() -> None:
    policy, waits = recording(_retry.RetryPolicy(first=1.0, attempts=3))
    flaky = Flaky(*(errors.TemporaryError(f"try {n}", delay=1.0) for n in range(1, 5)))
    with pytest.raises(errors.TemporaryError, match="try 3"):
        await policy.call("flaky", flaky)
    assert (flaky.calls, waits) == (3, [1.0, 1.0])


async def test_progress_makes_the_next_failure_wait_the_first_delay_again() -> None:
    policy, waits = recording(_retry.RetryPolicy(first=1.0, cap=60.0, retry_on=(OSError,)))
    attempts = _retry.Attempts()
    calls = 0
    async for attempt in policy.retrying("session", attempts=attempts):
        with attempt:
            calls += 1
            if calls == 3:  # this one connected before it failed
                attempts.restart(attempt.retry_state)
            if calls < 5:
                raise OSError("gone")
    assert waits == [1.0, 2.0, 1.0, 2.0]


async def test_a_supervised_worker_is_restarted_with_backoff_until_cancelled() -> None:
    policy, waits = recording(_supervisor.RESTART)
    calls = 0
    healthy = asyncio.Event()

    async def worker() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("crashed")
        if calls == 2:
            return  # returning is a failure too: a worker runs forever
        if calls == 3:  # a supervisor restarts whatever ended the worker
            raise errors.PermanentError("corrupt state")
        healthy.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(_supervisor.supervise("worker", worker, policy))
    async with asyncio.timeout(30):
        await healthy.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (calls, waits) == (4, [0.5, 1.0, 2.0])


def test_an_outage_waits_first_then_doubles_per_failure_up_to_its_cap() -> None:
    outage = _retry.Outage("cannot save; retrying", first=1.0, cap=4.0)
    assert 0.8 <= outage.delay <= 1.2  # before any failure: the first wait
    waits = [outage.failed(OSError("full")) for _ in range(4)]
    for wait, base in zip(waits, [1.0, 2.0, 4.0, 4.0], strict=True):
        assert base * 0.8 <= wait <= base * 1.2
    assert 3.2 <= outage.delay <= 4.8 and outage.failures == 4
    outage.recovered()
    assert outage.failures == 0 and 0.8 <= outage.delay <= 1.2


async def test_a_stopped_broker_is_a_temporary_error_restarted_with_the_supervisors_backoff() -> (
    None
):
    policy, waits = recording(_supervisor.RESTART)
    flaky = Flaky(*(bus.BrokerStopped("mosquitto exited with status 1") for _ in range(3)))
    assert isinstance(flaky.failures[0], errors.TemporaryError)
    assert await policy.call("broker", flaky) == "done"
    assert waits == [0.5, 1.0, 2.0]
