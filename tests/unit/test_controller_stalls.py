"""The controller's own stalls (its loop blocked, its process stopped, its clock jumped)
cost no live leader its lease; a leader that really went silent still loses it."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time

import pytest

from runecraft.controller import services
from runecraft.controller.reconcilers import _plan
from tests.unit import _records as records

LEASE = 60.0
T0 = 1000.0
APP = dataclasses.replace(records.app("hello"), leader="hello/0")
UNITS = [records.unit("hello/0"), records.unit("hello/1")]


class Clock:
    """A wall clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _watch_over_a_jump(jump: float) -> tuple[Clock, services.StallWatch]:
    """A watch that ticked on time up to T0, then the controller heard nothing for `jump`."""
    clock = Clock(T0 - 2)
    watch = services.StallWatch(tick=1.0, clock=clock)
    watch._last = clock.now  # as `run` starts it
    for _ in range(2):
        clock.now += 1
        watch.ticked()
    clock.now += jump
    return clock, watch


def _leaders(expiry: float, now: float, reach: _plan.AgentReach) -> list[str | None]:
    app = dataclasses.replace(APP, lease_expiry=expiry)
    return [change.leader for change in _plan.plan_leaders([app], UNITS, now, reach)]


def test_a_watch_sees_a_late_tick_as_a_stall_from_when_it_was_due() -> None:
    clock, watch = _watch_over_a_jump(200.0)
    assert watch.stalled()  # resuming: nothing the agents sent meanwhile is read yet
    watch.ticked()
    assert not watch.stalled()
    assert watch.stalls() == ((T0 + 1, T0 + 200),)
    clock.now += 1.5  # a tick a little late is no stall
    watch.ticked()
    assert watch.stalls() == ((T0 + 1, T0 + 200),)


def test_a_watch_that_is_not_running_sees_no_stall() -> None:
    clock = Clock(T0)
    watch = services.StallWatch(tick=1.0, clock=clock)
    clock.now += 500
    assert not watch.stalled()
    assert watch.stalls() == ()


def test_a_controller_stalled_past_the_lease_keeps_the_leader_while_resuming() -> None:
    """The lease ran out during the controller's stall, and the leader's heartbeats wait
    unread: the pass that runs first after it (before the watch ticks) keeps the leader."""
    expiry = T0 + 10  # renewed 50 s before the stall
    clock, watch = _watch_over_a_jump(200.0)
    assert _leaders(expiry, clock.now, _plan.AgentReach(-float("inf"), LEASE)) == ["hello/1"]
    stored_since = None if watch.stalled() else -float("inf")
    reach = _plan.AgentReach.of(-float("inf"), stored_since, LEASE, watch.stalls())
    assert _leaders(expiry, clock.now, reach) == []


def test_a_lease_runs_on_by_the_controller_stall_after_its_renewal() -> None:
    """After the stall is noticed the lease runs on by the time stalled since it was
    renewed; past that its holder is replaced (failover still happens)."""
    expiry = T0 + 10
    clock, watch = _watch_over_a_jump(200.0)
    watch.ticked()
    reach = _plan.AgentReach.of(-float("inf"), -float("inf"), LEASE, watch.stalls())
    assert _plan.lease_end(expiry, reach) == expiry + 199
    assert _leaders(expiry, clock.now, reach) == []
    assert _leaders(expiry, expiry + 199 + 1, reach) == ["hello/1"]


@pytest.mark.parametrize(
    ("stalls", "end"),
    [
        pytest.param((), T0, id="no-stall"),
        pytest.param(((T0 - 100, T0 - LEASE - 1),), T0, id="before-the-renewal"),
        pytest.param(((T0 - LEASE - 10, T0 - LEASE + 5),), T0 + 5, id="across-the-renewal"),
        pytest.param(((T0 - 30, T0 - 20), (T0 + 1, T0 + 4)), T0 + 13, id="two-stalls"),
    ],
)
def test_lease_end_counts_only_what_was_stalled_after_the_renewal(
    stalls: tuple[tuple[float, float], ...], end: float
) -> None:
    reach = _plan.AgentReach(-float("inf"), LEASE, stalls)
    assert _plan.lease_end(T0, reach) == end


async def test_a_blocked_event_loop_is_noticed_as_a_stall() -> None:
    """The watch ticks on the loop it watches: blocking that loop (a synchronous step of the
    controller) makes it late, so the controller is resuming until it ticks again."""
    watch = services.StallWatch(tick=0.05)
    task = asyncio.create_task(watch.run())
    try:
        while watch._last is None:  # noqa: ASYNC110 (until the watch's task has started)
            await asyncio.sleep(0)
        time.sleep(0.3)  # noqa: ASYNC251 (the stall under test: the loop is blocked)
        assert watch.stalled()
        async with asyncio.timeout(30):
            while not watch.stalls():  # noqa: ASYNC110 (the watch signals nothing)
                await asyncio.sleep(0)
        ((began, ended),) = watch.stalls()[:1]
        assert ended - began >= 0.3 - 0.05 * 2
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watch.stalled()


@pytest.mark.parametrize(
    ("heartbeats", "heard"),
    [
        ({"machine-0": (T0 + LEASE, ("hello/0",))}, {"hello/0": T0 + LEASE}),
        ({"machine-0": (T0 + LEASE, ())}, {}),
        # another machine's agent cannot renew a unit it does not run
        ({"machine-1": (T0 + LEASE, ("hello/0",))}, {}),
        ({"machine-9": (T0 + LEASE, ("hello/0",))}, {}),
        (
            {"machine-0": (T0, ("hello/0",)), "machine-1": (T0 + 5, ("hello/1",))},
            {"hello/0": T0, "hello/1": T0 + 5},
        ),
    ],
)
def test_renewals_heard_count_only_units_on_the_naming_agents_machine(
    heartbeats: dict[str, tuple[float, tuple[str, ...]]], heard: dict[str, float]
) -> None:
    machines = [records.machine(n, agent=f"machine-{n}") for n in (0, 1)]
    on_machines = [dataclasses.replace(u, machine_number=n) for n, u in enumerate(UNITS)]
    units = [*on_machines, records.unit("hello/2")]  # hello/2 is on no machine yet
    assert _plan.renewals_heard(heartbeats, machines, units) == heard


def test_a_renewal_heard_and_not_stored_keeps_the_leader_until_it_runs_out() -> None:
    """The stored lease ran out at T0; a heartbeat heard at T0 - 10 renews it to T0 + 50."""
    reach = _plan.AgentReach.of(-math.inf, -math.inf, LEASE, heard={"hello/0": T0 + 50})
    assert _leaders(T0, T0 + 1, reach) == []
    assert _leaders(T0, T0 + 51, reach) == ["hello/1"]
    elsewhere = _plan.AgentReach.of(-math.inf, -math.inf, LEASE, heard={"hello/1": T0 + 50})
    assert _leaders(T0, T0 + 1, elsewhere) == ["hello/1"]
