"""The pure resolver: Juju's hook orderings, crash resumption, errors and retries."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runecraft.agents import uniter
from runecraft.schemas import bus

T0 = 1_000_000.0


def remote(**changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "app/0",
        "application": "app",
        "charm": bus.CharmRef(sha256="c1", name="app"),
        "config_hash": "h1",
    }
    return bus.UnitRemoteState(**{**base, **changes})


def run(
    local: uniter.LocalState,
    remote_state: bus.UnitRemoteState,
    *,
    now: float = T0,
    fail: Collection[str] = (),
    max_steps: int = 30,
    exact: bool = False,
) -> tuple[uniter.LocalState, list[str], uniter.Idle | uniter.Removed | None]:
    """Drive the resolver like the agent does until it rests; returns the hooks run.

    With `exact`, stop after `max_steps` operations instead of failing.
    """
    ran: list[str] = []
    for _ in range(max_steps):
        decision = uniter.next_op(local, remote_state, now)
        if not isinstance(decision, uniter.Operation):
            return local, ran, decision
        is_hook = decision.kind is uniter.OpKind.RUN_HOOK
        ran.append(decision.hook if is_hook else decision.kind.value)
        local = uniter.record_step(local, decision, uniter.Step.QUEUED)
        local = uniter.record_step(local, decision, uniter.Step.RUNNING)
        outcome = uniter.Outcome(succeeded=decision.hook not in fail, at=now)
        local = uniter.commit(local, decision, outcome)
        now += 1.0
    if exact:
        return local, ran, None
    raise AssertionError(f"no rest after {max_steps} steps: {ran}")


def settled(remote_state: bus.UnitRemoteState) -> uniter.LocalState:
    local, _, _ = run(uniter.LocalState(), remote_state)
    return local


# --- orderings (charm-contract §3.3) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "remote_state", "expected_hooks", "expected_rest"),
    [
        pytest.param(
            None,
            remote(leader=True),
            ["install", "leader-elected", "config-changed", "start"],
            uniter.Idle,
            id="new-leader",
        ),
        pytest.param(
            None,
            remote(),
            ["install", "config-changed", "start"],
            uniter.Idle,
            id="new-non-leader",
        ),
        pytest.param(
            remote(), remote(config_hash="h2"), ["config-changed"], uniter.Idle, id="config-change"
        ),
        pytest.param(remote(), remote(), [], uniter.Idle, id="nothing-to-do"),
        pytest.param(
            remote(), remote(leader=True), ["leader-elected"], uniter.Idle, id="becomes-leader"
        ),
        pytest.param(
            remote(leader=True),
            remote(leader=False),
            ["resign-leadership"],
            uniter.Idle,
            id="loses-leadership-no-hook",
        ),
        pytest.param(
            remote(),
            remote(life="dying"),
            ["stop", "remove"],
            uniter.Removed,
            id="dying-after-start",
        ),
        pytest.param(
            remote(leader=True),
            remote(life="dying", leader=True, config_hash="h9"),
            ["stop", "remove"],
            uniter.Removed,
            id="dying-ignores-config",
        ),
        pytest.param(None, remote(life="dying"), [], uniter.Removed, id="dying-before-install"),
    ],
)
def test_orderings(
    start: bus.UnitRemoteState | None,
    remote_state: bus.UnitRemoteState,
    expected_hooks: list[str],
    expected_rest: type,
) -> None:
    local = uniter.LocalState() if start is None else settled(start)
    local, ran, rest = run(local, remote_state)
    assert ran == expected_hooks
    assert isinstance(rest, expected_rest)


def test_settled_leader_state() -> None:
    local = settled(remote(leader=True))
    assert local.installed and local.started and local.leader
    assert local.config_hash == "h1"
    assert local.charm_sha == "c1"
    assert local.error is None
    assert local.operation is not None and local.operation.step is uniter.Step.DONE


def test_config_changed_before_start_queues_start() -> None:
    local, ran, _ = run(uniter.LocalState(), remote(), max_steps=2, exact=True)
    assert ran == ["install", "config-changed"]
    assert local.operation is not None
    assert (local.operation.hook, local.operation.step) == ("start", uniter.Step.QUEUED)
    # The queued start wins even over a newer config: Juju runs queued hooks first.
    op = uniter.next_op(local, remote(config_hash="h2"), T0)
    assert isinstance(op, uniter.Operation)
    assert op.hook == "start"
    assert op.id == local.operation.id


def test_three_config_changes_cost_one_hook() -> None:
    local = settled(remote())
    local, ran, _ = run(local, remote(config_hash="h4"))
    assert ran == ["config-changed"]
    assert local.config_hash == "h4"


def test_empty_config_hash_still_runs_config_changed() -> None:
    _, ran, _ = run(uniter.LocalState(), remote(config_hash=""))
    assert ran == ["install", "config-changed", "start"]


def test_removed_is_terminal() -> None:
    local, _, _ = run(settled(remote()), remote(life="dying"))
    assert local.removed
    for later in (remote(), remote(leader=True), remote(config_hash="h2")):
        assert isinstance(uniter.next_op(local, later, T0 + 10_000), uniter.Removed)


def test_stopped_unit_keeps_tearing_down_even_if_alive_again() -> None:
    local, ran, _ = run(settled(remote()), remote(life="dying"), max_steps=1, exact=True)
    assert ran == ["stop"]
    _, ran, rest = run(local, remote())
    assert ran == ["remove"]
    assert isinstance(rest, uniter.Removed)


def test_dying_abandons_queued_install() -> None:
    op = uniter.next_op(uniter.LocalState(), remote(), T0)
    assert isinstance(op, uniter.Operation)
    local = uniter.record_step(uniter.LocalState(), op, uniter.Step.QUEUED)
    assert isinstance(uniter.next_op(local, remote(life="dying"), T0), uniter.Removed)


# --- update-status timer ---------------------------------------------------------------------


def test_update_status_after_interval() -> None:
    state = remote(update_status_interval=300.0)
    local, _, rest = run(uniter.LocalState(), state)
    assert isinstance(rest, uniter.Idle)
    assert rest.wake_at == local.last_hook_at + 300.0
    assert isinstance(uniter.next_op(local, state, local.last_hook_at + 299.0), uniter.Idle)
    op = uniter.next_op(local, state, local.last_hook_at + 300.0)
    assert isinstance(op, uniter.Operation)
    assert op.hook == "update-status"


# --- crashes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [uniter.Step.QUEUED, uniter.Step.RUNNING], ids=lambda s: s.value)
@pytest.mark.parametrize("hook", ["install", "config-changed", "start", "stop"])
def test_interrupted_operation_runs_again(hook: str, step: uniter.Step) -> None:
    op = uniter.Operation(id="7", kind=uniter.OpKind.RUN_HOOK, hook=hook, config_hash="h1")
    local = dataclasses.replace(
        settled(remote()) if hook == "stop" else uniter.LocalState(), op_seq=7
    )
    local = uniter.record_step(local, op, step)
    again = uniter.next_op(local, remote(config_hash="h2"), T0)
    assert isinstance(again, uniter.Operation)
    assert (again.id, again.hook) == ("7", hook)


def test_finished_operation_is_not_run_again() -> None:
    local = settled(remote())
    assert local.operation is not None
    assert local.operation.step is uniter.Step.DONE
    assert isinstance(uniter.next_op(local, remote(), local.last_hook_at + 1), uniter.Idle)


def test_interrupted_leader_elected_is_skipped_when_leadership_lost() -> None:
    local = settled(remote())
    op = uniter.next_op(local, remote(leader=True), T0)
    assert isinstance(op, uniter.Operation)
    local = uniter.record_step(local, op, uniter.Step.RUNNING)
    skip = uniter.next_op(local, remote(leader=False), T0)
    assert isinstance(skip, uniter.Operation)
    assert skip.kind is uniter.OpKind.SKIP_HOOK
    local = uniter.commit(local, skip, uniter.Outcome(succeeded=True, at=T0))
    assert not local.leader
    assert isinstance(uniter.next_op(local, remote(), T0 + 1), uniter.Idle)


# --- errors and retries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 160.0), (7, 300.0), (12, 300.0)],
)
def test_retry_delay_doubles_to_five_minutes(attempts: int, delay: float) -> None:
    assert uniter.retry_delay(attempts) == delay
    assert delay < uniter.retry_delay(attempts, jitter=0.99) <= delay * 1.1


def test_failing_hook_errors_then_retries_with_backoff() -> None:
    local, ran, rest = run(uniter.LocalState(), remote(), fail={"install"})
    assert ran == ["install"]
    assert local.error == uniter.HookError(hook="install", attempts=1, retry_at=T0 + 5.0)
    assert rest == uniter.Idle(wake_at=T0 + 5.0)
    assert not local.installed
    failed_id = local.operation.id if local.operation else None

    # Nothing else runs while in error: not config-changed, not leader-elected, not stop.
    for other in (remote(config_hash="h2"), remote(leader=True), remote(life="dying")):
        assert uniter.next_op(local, other, T0 + 4.9) == uniter.Idle(wake_at=T0 + 5.0)

    local, ran, rest = run(local, remote(), now=T0 + 5.0, fail={"install"})
    assert ran == ["install"]
    assert local.error is not None
    assert local.error.attempts == 2
    assert local.error.retry_at == T0 + 5.0 + 10.0
    assert local.operation is not None and local.operation.id == failed_id

    local, ran, rest = run(local, remote(), now=T0 + 15.0)
    assert ran == ["install", "config-changed", "start"]
    assert local.error is None
    assert isinstance(rest, uniter.Idle)


def test_failed_config_changed_does_not_commit_its_hash() -> None:
    local, ran, _ = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert ran == ["config-changed"]
    assert local.config_hash == "h1"
    assert local.error is not None and local.error.hook == "config-changed"


def test_leadership_lost_while_leader_elected_in_error_skips_it() -> None:
    local, ran, _ = run(settled(remote()), remote(leader=True), fail={"leader-elected"})
    assert ran == ["leader-elected"]
    assert local.error is not None
    local, ran, rest = run(local, remote(leader=False), now=T0 + 100)
    assert ran == ["skip-hook"]
    assert local.error is None and not local.leader
    assert isinstance(rest, uniter.Idle)


# --- automatic statuses (charm-contract §3.3) --------------------------------------------------


def _op(hook: str) -> uniter.Operation:
    return uniter.Operation(id="1", kind=uniter.OpKind.RUN_HOOK, hook=hook)


OK = uniter.Outcome(succeeded=True, at=T0)


@pytest.mark.parametrize(
    ("hook", "status_set_before", "expected"),
    [
        ("install", False, ("maintenance", "installing charm software")),
        ("install", True, None),
        ("stop", True, ("maintenance", "stopping charm software")),
        ("start", False, None),
        ("config-changed", False, None),
    ],
)
def test_status_before(
    hook: str, status_set_before: bool, expected: tuple[str, str] | None
) -> None:
    local = uniter.LocalState(status_set_called=status_set_before)
    got = uniter.status_before(local, _op(hook))
    assert (None if got is None else (got.status, got.message)) == expected


@pytest.mark.parametrize(
    ("hook", "status_set_before", "outcome", "expected"),
    [
        ("start", False, OK, ("unknown", "")),
        ("start", True, OK, None),
        ("start", False, dataclasses.replace(OK, status_set=True), None),
        ("start", False, dataclasses.replace(OK, succeeded=False), None),
        ("stop", True, OK, ("maintenance", "cleaning up prior to charm deletion")),
        ("remove", True, OK, ("terminated", "")),
        ("install", False, OK, None),
    ],
)
def test_status_after(
    hook: str,
    status_set_before: bool,
    outcome: uniter.Outcome,
    expected: tuple[str, str] | None,
) -> None:
    local = uniter.LocalState(status_set_called=status_set_before)
    got = uniter.status_after(local, _op(hook), outcome)
    assert (None if got is None else (got.status, got.message)) == expected


def test_status_set_flag_is_remembered() -> None:
    op = _op("install")
    local = uniter.commit(uniter.LocalState(), op, dataclasses.replace(OK, status_set=True))
    assert local.status_set_called
    local = uniter.commit(local, _op("start"), OK)
    assert local.status_set_called


# --- properties ------------------------------------------------------------------------------

remotes = st.builds(
    remote,
    life=st.sampled_from(["alive", "alive", "alive", "dying"]),
    leader=st.booleans(),
    config_hash=st.sampled_from(["h1", "h2", "h3"]),
    update_status_interval=st.sampled_from([5.0, 300.0]),
)
fates = st.sampled_from(["ok", "ok", "ok", "fail", "crash"])


@settings(max_examples=300, deadline=None)
@given(
    script=st.lists(st.tuples(remotes, st.lists(fates, max_size=6)), min_size=1, max_size=12),
    final=remotes,
)
def test_random_histories_are_safe_and_converge(
    script: list[tuple[bus.UnitRemoteState, list[str]]], final: bus.UnitRemoteState
) -> None:
    local = uniter.LocalState()
    now = T0
    ever_removed = False

    def step(state: bus.UnitRemoteState, fate: str) -> uniter.Idle | uniter.Removed | None:
        nonlocal local, now, ever_removed
        decision = uniter.next_op(local, state, now)
        if ever_removed:
            assert isinstance(decision, uniter.Removed), "nothing may run after remove"
        if not isinstance(decision, uniter.Operation):
            if isinstance(decision, uniter.Idle) and decision.wake_at is not None:
                now = max(now + 1.0, decision.wake_at)  # let a timer become due
            return decision
        op = decision
        if op.hook in ("start", "config-changed", "leader-elected", "update-status", "stop"):
            assert local.installed, f"{op.hook} before install"
        if op.hook == "stop":
            assert local.started
        if op.hook == "remove":
            assert local.installed and (local.stopped or not local.started)
        local = uniter.record_step(local, op, uniter.Step.RUNNING)
        if fate != "crash":
            local = uniter.commit(local, op, uniter.Outcome(succeeded=fate == "ok", at=now))
        ever_removed = ever_removed or local.removed
        now += 1.0
        return None

    for state, steps in script:
        for fate in steps:
            step(state, fate)

    for _ in range(40):
        rest = step(final, "ok")
        if isinstance(rest, uniter.Removed):
            return
        if isinstance(rest, uniter.Idle) and local.error is None:
            assert local.config_hash == final.config_hash
            assert local.leader == final.leader
            assert local.installed and local.started and not local.stopped
            assert final.life == "alive"
            return
    raise AssertionError(f"did not converge: {local}")
