"""Workload (Pebble) events in the pure resolver: order, coalescing, errors, crashes.

The agent keeps the queue of pending events beside the local state (its watchers append
while hooks run); `next_op` is given the queue, the operation carries the event it runs
for, and the agent takes that event out of the queue when it records the operation.
`Unit` below does exactly what the agent does with the three.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runecraft.agents import _state_store, hookrunner, uniter
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


def ready(container: str = "web") -> uniter.WorkloadEvent:
    return uniter.WorkloadEvent(container=container, kind="ready")


def notice(key: str, notice_id: str = "1", container: str = "web") -> uniter.WorkloadEvent:
    return uniter.WorkloadEvent(
        container=container,
        kind="custom-notice",
        notice_id=notice_id,
        notice_type="custom",
        notice_key=key,
    )


def check(kind: uniter.WorkloadKind, name: str, container: str = "web") -> uniter.WorkloadEvent:
    return uniter.WorkloadEvent(container=container, kind=kind, check_name=name)


@dataclasses.dataclass
class Unit:
    """The agent's bookkeeping around the resolver, without processes."""

    local: uniter.LocalState = dataclasses.field(default_factory=uniter.LocalState)
    queue: tuple[uniter.WorkloadEvent, ...] = ()
    seq: int = 0
    now: float = T0
    ran: list[str] = dataclasses.field(default_factory=list)

    def append(self, event: uniter.WorkloadEvent) -> None:
        self.queue, self.seq = uniter.queue_workload(self.queue, self.seq, event)

    def decide(self, state: bus.UnitRemoteState) -> uniter.Operation | None:
        self.local = uniter.observe(self.local, state)
        decision = uniter.next_op(self.local, state, self.now, self.queue)
        return decision if isinstance(decision, uniter.Operation) else None

    def start(self, op: uniter.Operation) -> None:
        self.local = uniter.record_step(self.local, op, uniter.Step.QUEUED)
        self.queue = uniter.take_workload(self.queue, op)
        self.local = uniter.record_step(self.local, op, uniter.Step.RUNNING)

    def finish(self, op: uniter.Operation, *, succeeded: bool = True) -> None:
        self.local = uniter.commit(self.local, op, uniter.Outcome(succeeded=succeeded, at=self.now))
        self.now += 1.0

    def settle(
        self, state: bus.UnitRemoteState, *, fail: tuple[str, ...] = (), steps: int = 40
    ) -> list[str]:
        """Run operations until the resolver rests; returns the hooks run."""
        ran: list[str] = []
        for _ in range(steps):
            op = self.decide(state)
            if op is None:
                self.ran += ran
                return ran
            ran.append(op.label)
            self.start(op)
            self.finish(op, succeeded=op.label not in fail)
        raise AssertionError(f"no rest: {ran}")


def installed(state: bus.UnitRemoteState | None = None) -> Unit:
    unit = Unit()
    unit.settle(state or remote())
    return unit


# --- order -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "state", "expected"),
    [
        pytest.param(
            [ready()],
            remote(leader=True),
            ["install", "leader-elected", "web-pebble-ready", "config-changed", "start"],
            id="new-leader: after leadership, before config-changed",
        ),
        pytest.param(
            [ready("db"), ready("web")],
            remote(),
            [
                "install",
                "leader-settings-changed",
                "db-pebble-ready",
                "web-pebble-ready",
                "config-changed",
                "start",
            ],
            id="new-non-leader: oldest first",
        ),
        pytest.param(
            [ready(), ready(), ready("db"), ready()],
            remote(leader=True),
            [
                "install",
                "leader-elected",
                "web-pebble-ready",
                "db-pebble-ready",
                "config-changed",
                "start",
            ],
            id="one pending ready per container",
        ),
    ],
)
def test_new_unit_runs_workload_events_after_install_and_leadership(
    events: list[uniter.WorkloadEvent], state: bus.UnitRemoteState, expected: list[str]
) -> None:
    unit = Unit()
    for event in events:
        unit.append(event)
    assert unit.settle(state) == expected
    assert unit.queue == ()


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([ready()], ["web-pebble-ready"], id="ready"),
        pytest.param(
            [notice("example.com/a"), check("check-failed", "up"), check("check-recovered", "up")],
            ["web-pebble-custom-notice", "web-pebble-check-failed", "web-pebble-check-recovered"],
            id="notice and checks in order",
        ),
        pytest.param(
            [notice("example.com/a", "1"), notice("example.com/b", "2"), notice("example.com/a")],
            ["web-pebble-custom-notice", "web-pebble-custom-notice"],
            id="a pending notice of the same key absorbs a repeat",
        ),
    ],
)
def test_installed_unit_runs_each_event_once(
    events: list[uniter.WorkloadEvent], expected: list[str]
) -> None:
    unit = installed()
    for event in events:
        unit.append(event)
    assert unit.settle(remote()) == expected
    assert unit.settle(remote()) == []


def test_created_relations_and_leadership_come_first_secrets_and_actions_after() -> None:
    state = remote(leader=True, actions=(bus.ActionRequest(id="7", name="backup"),))
    unit = installed(remote())
    unit.append(ready())
    assert unit.settle(state) == ["leader-elected", "web-pebble-ready", "action backup"]


def test_the_operation_carries_the_event_and_its_environment() -> None:
    unit = installed()
    unit.append(notice("example.com/k", "42"))
    op = unit.decide(remote())
    assert op is not None
    assert op.hook == "web-pebble-custom-notice"
    assert op.workload == dataclasses.replace(notice("example.com/k", "42"), seq=1)


def test_no_workload_hook_while_dying() -> None:
    unit = installed()
    unit.append(ready())
    assert unit.settle(remote(life="dying")) == ["stop", "remove"]


def test_no_workload_hook_before_install() -> None:
    unit = Unit()
    unit.append(ready())
    assert unit.settle(remote(), fail=("install",)) == ["install"]
    assert unit.queue != ()  # still waiting for a successful install


# --- errors and crashes -------------------------------------------------------------------------


def test_a_failed_workload_hook_is_a_hook_error_and_is_retried_with_its_event() -> None:
    unit = installed()
    unit.append(check("check-failed", "http"))
    assert unit.settle(remote(), fail=("web-pebble-check-failed",)) == ["web-pebble-check-failed"]
    error = unit.local.error
    assert error is not None and error.hook == "web-pebble-check-failed"
    # Events arriving meanwhile wait behind the error.
    unit.append(ready())
    unit.now = error.retry_at
    op = unit.decide(remote())
    assert op is not None and op.workload is not None
    assert (op.hook, op.workload.check_name) == ("web-pebble-check-failed", "http")
    assert unit.settle(remote()) == ["web-pebble-check-failed", "web-pebble-ready"]


def test_resolve_no_retry_skips_the_workload_hook() -> None:
    unit = installed()
    unit.append(ready())
    unit.settle(remote(), fail=("web-pebble-ready",))
    op = unit.decide(remote(resolved="no-retry", resolved_seq=1))
    assert op is not None and op.kind is uniter.OpKind.SKIP_HOOK
    assert op.hook == "web-pebble-ready"


def test_an_interrupted_workload_hook_runs_again_and_a_new_event_is_not_lost() -> None:
    unit = installed()
    unit.append(ready())
    op = unit.decide(remote())
    assert op is not None
    unit.start(op)
    # The watcher sees the daemon restart while the hook runs; then the agent dies.
    unit.append(ready())
    rerun = unit.decide(remote())
    assert rerun == dataclasses.replace(op, step=uniter.Step.RUNNING)
    unit.start(rerun)  # recording the re-run takes nothing from the queue
    assert [e.kind for e in unit.queue] == ["ready"]
    unit.finish(rerun)
    assert unit.settle(remote()) == ["web-pebble-ready"]


# --- the queue ---------------------------------------------------------------------------------


def test_queue_coalesces_ready_per_container_and_numbers_events() -> None:
    queue, seq = uniter.queue_workload((), 0, ready())
    queue, seq = uniter.queue_workload(queue, seq, ready())
    queue, seq = uniter.queue_workload(queue, seq, notice("example.com/a"))
    queue, seq = uniter.queue_workload(queue, seq, ready("db"))
    assert [(e.hook, e.seq) for e in queue] == [
        ("web-pebble-ready", 1),
        ("web-pebble-custom-notice", 2),
        ("db-pebble-ready", 3),
    ]
    assert seq == 3


def test_a_pending_event_of_the_same_subject_absorbs_a_new_one() -> None:
    """A unit in hook error queues one event per notice key or check, not one per flap."""
    queue, seq = uniter.queue_workload((), 0, notice("example.com/a", "1"))
    queue, seq = uniter.queue_workload(queue, seq, check("check-failed", "up"))
    queue, seq = uniter.queue_workload(queue, seq, check("check-recovered", "up"))
    for _ in range(3):  # flaps
        queue, seq = uniter.queue_workload(queue, seq, check("check-failed", "up"))
        queue, seq = uniter.queue_workload(queue, seq, check("check-recovered", "up"))
    queue, seq = uniter.queue_workload(queue, seq, notice("example.com/a", "9"))
    queue, seq = uniter.queue_workload(queue, seq, notice("example.com/b", "2"))
    queue, seq = uniter.queue_workload(queue, seq, check("check-failed", "ready"))
    queue, seq = uniter.queue_workload(queue, seq, notice("example.com/a", "1", "db"))
    assert [(e.hook, e.seq, e.notice_key or e.check_name, e.notice_id) for e in queue] == [
        # The newest notice id, in the place of the first.
        ("web-pebble-custom-notice", 1, "example.com/a", "9"),
        ("web-pebble-check-failed", 2, "up", ""),
        ("web-pebble-check-recovered", 3, "up", ""),
        ("web-pebble-custom-notice", 4, "example.com/b", "2"),
        ("web-pebble-check-failed", 5, "ready", ""),
        ("db-pebble-custom-notice", 6, "example.com/a", "1"),
    ]
    assert seq == 6
    taken = uniter.take_workload(
        queue, uniter.Operation(id="1", kind=uniter.OpKind.RUN_HOOK, hook="x", workload=queue[1])
    )
    again, _ = uniter.queue_workload(taken, seq, check("check-failed", "up"))
    assert again[-1].seq == 7  # once its hook has started, a new event is queued again


def test_take_workload_is_by_sequence_and_idempotent() -> None:
    queue, seq = uniter.queue_workload((), 5, ready())
    op = uniter.Operation(id="1", kind=uniter.OpKind.RUN_HOOK, hook="x", workload=queue[0])
    other = uniter.Operation(id="2", kind=uniter.OpKind.RUN_HOOK, hook="install")
    assert uniter.take_workload(queue, other) == queue
    assert uniter.take_workload(queue, op) == ()
    assert uniter.take_workload((), op) == ()
    again, _ = uniter.queue_workload((), seq, ready())
    assert uniter.take_workload(again, op) == again  # same container and kind, later event


# --- property -------------------------------------------------------------------------------------

EVENTS = st.sampled_from(
    [
        ready(),
        ready("db"),
        notice("example.com/a", "1"),
        notice("example.com/a", "3"),
        notice("example.com/b", "2"),
        check("check-failed", "up"),
        check("check-recovered", "up"),
    ]
)
STEPS = st.lists(
    st.tuples(
        st.lists(EVENTS, max_size=2),  # appended while the hook runs
        st.sampled_from(["ok", "ok", "ok", "fail", "crash"]),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(before=st.lists(EVENTS, max_size=4), steps=STEPS)
def test_every_event_runs_once_in_order_whatever_happens_meanwhile(
    before: list[uniter.WorkloadEvent], steps: list[tuple[list[uniter.WorkloadEvent], str]]
) -> None:
    """Events appended at any time (also while a hook runs, also across crashes and hook
    errors) each run successfully exactly once, oldest first; at most one event per
    container, kind and subject waits at any time; no workload hook runs before install."""
    state = remote(retry_hooks=True)
    unit = Unit()
    accepted: list[int] = []
    done: list[int] = []

    def append(event: uniter.WorkloadEvent) -> None:
        unit.append(event)
        if unit.queue and unit.queue[-1].seq == unit.seq and unit.seq not in accepted:
            accepted.append(unit.seq)
        subjects = [(e.container, e.kind, e.notice_key, e.check_name) for e in unit.queue]
        assert len(subjects) == len(set(subjects))

    for event in before:
        append(event)
    for appended, outcome in steps:
        op = unit.decide(state)
        if op is None:
            unit.now += uniter.MAX_RETRY_DELAY * 2  # let a retry come due
            continue
        if op.workload is not None:
            assert unit.local.installed
        unit.start(op)
        for event in appended:
            append(event)
        if outcome == "crash":
            continue  # the operation stays recorded as running: it runs again
        ok = outcome == "ok"
        unit.finish(op, succeeded=ok)
        if ok and op.workload is not None:
            done.append(op.workload.seq)
    for _ in range(200):  # then a quiet, healthy period
        op = unit.decide(state)
        if op is None:
            if unit.local.error is None:
                break
            unit.now = unit.local.error.retry_at
            continue
        unit.start(op)
        unit.finish(op)
        if op.workload is not None:
            done.append(op.workload.seq)
    assert unit.queue == ()
    assert done == accepted


# --- persistence and hook environment ------------------------------------------------------------


def test_queue_cursors_and_running_event_survive_a_restart(tmp_path: Path) -> None:
    unit = installed()
    unit.append(check("check-failed", "up"))
    unit.append(ready())
    op = unit.decide(remote())
    assert op is not None
    unit.start(op)
    record = _state_store.UnitRecord(
        local=unit.local,
        workload_events=unit.queue,
        workload_seq=unit.seq,
        notice_cursors={"web": "2024-05-01T10:00:00.123456789Z"},
    )
    store = _state_store.StateStore(tmp_path / "state.json")
    store.save(record)
    assert store.load() == record
    assert store.load().local.operation == dataclasses.replace(op, step=uniter.Step.RUNNING)


def test_a_record_from_before_workload_events_loads(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"v": 2, "local": {"installed": True}}))
    record = _state_store.StateStore(path).load()
    assert (record.workload_events, record.workload_seq, record.notice_cursors) == ((), 0, {})


UNIT_ENV = hookrunner.UnitEnvironment(
    unit="app/0",
    model_name="m",
    model_uuid="u",
    machine_id="0",
    charm_dir=Path("/charm"),
    tools_dir=Path("/tools"),
    socket_path=Path("/sock"),
)
PEBBLE_VARS = (
    "JUJU_WORKLOAD_NAME",
    "JUJU_NOTICE_ID",
    "JUJU_NOTICE_TYPE",
    "JUJU_NOTICE_KEY",
    "JUJU_PEBBLE_CHECK_NAME",
    "RUNECRAFT_CONTAINERS_DIR",
)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(None, {}, id="other hooks"),
        pytest.param(ready(), {"JUJU_WORKLOAD_NAME": "web"}, id="ready"),
        pytest.param(
            notice("example.com/k", "42"),
            {
                "JUJU_WORKLOAD_NAME": "web",
                "JUJU_NOTICE_ID": "42",
                "JUJU_NOTICE_TYPE": "custom",
                "JUJU_NOTICE_KEY": "example.com/k",
            },
            id="custom-notice",
        ),
        pytest.param(
            check("check-failed", "http", "db"),
            {"JUJU_WORKLOAD_NAME": "db", "JUJU_PEBBLE_CHECK_NAME": "http"},
            id="check-failed",
        ),
        pytest.param(
            check("check-recovered", "http"),
            {"JUJU_WORKLOAD_NAME": "web", "JUJU_PEBBLE_CHECK_NAME": "http"},
            id="check-recovered",
        ),
    ],
)
def test_pebble_hook_environment(
    event: uniter.WorkloadEvent | None, expected: dict[str, str]
) -> None:
    hook = event.hook if event is not None else "install"
    env = hookrunner.hook_environment(UNIT_ENV, hook=hook, context_id="c", workload=event)
    assert {key: env[key] for key in PEBBLE_VARS if key in env} == expected
    assert env["JUJU_HOOK_NAME"] == hook


def test_containers_dir_is_given_to_hooks_of_charms_with_containers() -> None:
    env = hookrunner.hook_environment(
        UNIT_ENV, hook="install", context_id="c", containers_dir=Path("/run/x/abc")
    )
    assert env[hookrunner.CONTAINERS_DIR_ENV] == "/run/x/abc"
    assert hookrunner.CONTAINERS_DIR_ENV == "RUNECRAFT_CONTAINERS_DIR"
