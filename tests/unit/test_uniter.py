"""The pure resolver: Juju's hook orderings, crash resumption, errors, retries, resolve."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import Any

import pytest

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


def rel(
    relation_id: int = 1,
    *,
    endpoint: str = "db",
    role: str = "requirer",
    remote_app: str = "mysql",
    units: dict[str, int] | None = None,
    app_version: int = 0,
    life: str = "alive",
) -> bus.RelationRemote:
    return bus.RelationRemote(
        id=relation_id,
        endpoint=endpoint,
        interface=endpoint,
        role=role,  # type: ignore[arg-type]
        remote_application=remote_app,
        units=units or {},
        app_version=app_version,
        life=life,  # type: ignore[arg-type]
    )


def peer(relation_id: int = 9, **changes: Any) -> bus.RelationRemote:
    return rel(relation_id, endpoint="cluster", role="peer", remote_app="app", **changes)


def describe(op: uniter.Operation) -> str:
    """`install`, `db-relation-joined:mysql/0`, `db-relation-changed:mysql` (app-level),
    `db-relation-departed:mysql/0>app/0` (departing unit), `action:backup`, `skip:…`."""
    if op.is_action:
        text = f"action:{op.action_name}"
    elif op.kind is uniter.OpKind.RUN_HOOK or op.kind is uniter.OpKind.SKIP_HOOK:
        text = op.hook
        if op.relation_event in ("joined", "changed", "departed"):
            text += f":{op.remote_unit or op.remote_app}"
        if op.relation_event == "departed":
            text += f">{op.departing_unit}"
    else:
        text = op.kind.value
    if op.kind is uniter.OpKind.SKIP_HOOK:
        return f"skip:{text}"
    if op.kind is uniter.OpKind.FAIL_ACTION:
        return f"fail-{text}"
    return text


def run(
    local: uniter.LocalState,
    remote_state: bus.UnitRemoteState,
    *,
    now: float = T0,
    fail: Collection[str] = (),
    max_steps: int = 60,
    exact: bool = False,
) -> tuple[uniter.LocalState, list[str], uniter.Idle | uniter.Removed | None]:
    """Drive the resolver like the agent does until it rests; returns what it ran.

    Operations whose `describe` is in `fail` fail. With `exact`, stop after `max_steps`
    operations instead of failing.
    """
    ran: list[str] = []
    for _ in range(max_steps):
        local = uniter.observe(local, remote_state)
        decision = uniter.next_op(local, remote_state, now)
        if not isinstance(decision, uniter.Operation):
            return local, ran, decision
        name = describe(decision)
        ran.append(name)
        local = uniter.record_step(local, decision, uniter.Step.QUEUED)
        local = uniter.record_step(local, decision, uniter.Step.RUNNING)
        succeeded = name not in fail or decision.kind is not uniter.OpKind.RUN_HOOK
        local = uniter.commit(local, decision, uniter.Outcome(succeeded=succeeded, at=now))
        now += 1.0
    if exact:
        return local, ran, None
    raise AssertionError(f"no rest after {max_steps} steps: {ran}")


def settled(remote_state: bus.UnitRemoteState) -> uniter.LocalState:
    local, _, _ = run(uniter.LocalState(), remote_state)
    return local


# --- orderings (charm-contract §3.3) ---------------------------------------------------------

DB = rel(units={"mysql/0": 1, "mysql/1": 2})
DB_WITH_APP = rel(units={"mysql/0": 1}, app_version=3)
PEERS = peer(units={"app/1": 1})


@pytest.mark.parametrize(
    ("start", "target", "expected", "rest"),
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
            ["install", "leader-settings-changed", "config-changed", "start"],
            uniter.Idle,
            id="new-non-leader",
        ),
        pytest.param(
            None,
            remote(leader=True, relations=(PEERS,)),
            [
                "install",
                "cluster-relation-created",
                "leader-elected",
                "config-changed",
                "start",
                "cluster-relation-joined:app/1",
                "cluster-relation-changed:app/1",
            ],
            uniter.Idle,
            id="new-leader-with-peers",
        ),
        pytest.param(
            None,
            remote(relations=(peer(units={"app/1": 1, "app/2": 4}, app_version=2),)),
            [
                "install",
                "cluster-relation-created",
                "leader-settings-changed",
                "config-changed",
                "start",
                "cluster-relation-changed:app",
                "cluster-relation-joined:app/1",
                "cluster-relation-changed:app/1",
                "cluster-relation-joined:app/2",
                "cluster-relation-changed:app/2",
            ],
            uniter.Idle,
            id="new-non-leader-with-peers-and-app-data",
        ),
        pytest.param(
            None,
            remote(relations=(DB,), leader=True),
            [
                "install",
                "db-relation-created",
                "leader-elected",
                "config-changed",
                "start",
                "db-relation-joined:mysql/0",
                "db-relation-changed:mysql/0",
                "db-relation-joined:mysql/1",
                "db-relation-changed:mysql/1",
            ],
            uniter.Idle,
            id="new-unit-already-related",
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
            ["resign-leadership", "leader-settings-changed"],
            uniter.Idle,
            id="loses-leadership",
        ),
        pytest.param(
            remote(),
            remote(leader_settings_version=3),
            ["leader-settings-changed"],
            uniter.Idle,
            id="leader-set-seen-by-follower",
        ),
        pytest.param(
            remote(leader=True),
            remote(leader=True, leader_settings_version=3),
            [],
            uniter.Idle,
            id="leader-ignores-own-leader-set",
        ),
        pytest.param(
            remote(),
            remote(charm=bus.CharmRef(sha256="c2", name="app")),
            ["upgrade-charm", "config-changed"],
            uniter.Idle,
            id="charm-refresh",
        ),
        pytest.param(
            remote(),
            remote(charm=bus.CharmRef(sha256="c1", name="app", revision=1)),
            ["upgrade-charm", "config-changed"],
            uniter.Idle,
            id="same-archive-refreshed-is-a-new-revision",
        ),
        pytest.param(
            remote(relations=(DB,)),
            remote(relations=(DB,), charm=bus.CharmRef(sha256="c2", name="app")),
            ["upgrade-charm", "config-changed"],
            uniter.Idle,
            id="charm-refresh-runs-no-relation-hooks",
        ),
        pytest.param(
            remote(),
            remote(relations=(DB_WITH_APP,)),
            [
                "db-relation-created",
                "db-relation-changed:mysql",
                "db-relation-joined:mysql/0",
                "db-relation-changed:mysql/0",
            ],
            uniter.Idle,
            id="relation-added-requirer-side",
        ),
        pytest.param(
            remote(unit="mysql/0", application="mysql"),
            remote(
                unit="mysql/0",
                application="mysql",
                relations=(
                    rel(
                        4,
                        endpoint="server",
                        role="provider",
                        remote_app="app",
                        units={"app/0": 2, "app/1": 1},
                    ),
                ),
            ),
            [
                "server-relation-created",
                "server-relation-joined:app/0",
                "server-relation-changed:app/0",
                "server-relation-joined:app/1",
                "server-relation-changed:app/1",
            ],
            uniter.Idle,
            id="relation-added-provider-side",
        ),
        pytest.param(
            remote(relations=(rel(units={"mysql/0": 1}),)),
            remote(relations=(rel(units={"mysql/0": 1, "mysql/1": 1}),)),
            ["db-relation-joined:mysql/1", "db-relation-changed:mysql/1"],
            uniter.Idle,
            id="scale-up",
        ),
        pytest.param(
            remote(relations=(DB,)),
            remote(relations=(rel(units={"mysql/0": 1}),)),
            ["db-relation-departed:mysql/1>mysql/1"],
            uniter.Idle,
            id="scale-down",
        ),
        pytest.param(
            remote(relations=(DB,)),
            remote(relations=(rel(units={"mysql/0": 1, "mysql/1": 2}, life="dying"),)),
            [
                "db-relation-departed:mysql/0>mysql/0",
                "db-relation-departed:mysql/1>mysql/1",
                "db-relation-broken",
            ],
            uniter.Idle,
            id="relation-removed",
        ),
        pytest.param(
            remote(relations=(DB,)),
            remote(relations=()),
            [
                "db-relation-departed:mysql/0>mysql/0",
                "db-relation-departed:mysql/1>mysql/1",
                "db-relation-broken",
            ],
            uniter.Idle,
            id="relation-vanished-is-broken-too",
        ),
        pytest.param(
            remote(relations=(DB, PEERS)),
            remote(relations=(DB, PEERS), life="dying"),
            [
                "db-relation-departed:mysql/0>app/0",
                "db-relation-departed:mysql/1>app/0",
                "db-relation-broken",
                "cluster-relation-departed:app/1>app/0",
                "cluster-relation-broken",
                "stop",
                "remove",
            ],
            uniter.Removed,
            id="unit-removed-teardown-order",
        ),
        pytest.param(
            remote(relations=(rel(units={"mysql/0": 1}),)),
            remote(relations=(rel(units={"mysql/0": 4}),)),
            ["db-relation-changed:mysql/0"],
            uniter.Idle,
            id="three-writes-one-changed",
        ),
        pytest.param(
            remote(relations=(rel(units={"mysql/0": 1}),)),
            remote(relations=(rel(units={"mysql/0": 1}, app_version=5),)),
            ["db-relation-changed:mysql"],
            uniter.Idle,
            id="app-bag-written",
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
        pytest.param(
            remote(),
            remote(relations=(rel(life="dying", units={"mysql/0": 1}),)),
            [],
            uniter.Idle,
            id="dying-relation-never-created",
        ),
    ],
)
def test_orderings(
    start: bus.UnitRemoteState | None,
    target: bus.UnitRemoteState,
    expected: list[str],
    rest: type,
) -> None:
    local = uniter.LocalState() if start is None else settled(start)
    local, ran, decision = run(local, target)
    assert ran == expected
    assert isinstance(decision, rest)


def test_settled_leader_state() -> None:
    local = settled(remote(leader=True, relations=(DB,)))
    assert local.installed and local.started and local.leader
    assert local.config_hash == "h1"
    assert local.charm_sha == "c1"
    assert local.error is None
    assert local.operation is not None and local.operation.step is uniter.Step.DONE
    state = local.relations[1]
    assert (state.endpoint, state.remote_app, state.peer) == ("db", "mysql", False)
    assert state.members == {"mysql/0": 1, "mysql/1": 2}
    assert state.changed_pending == ""


def test_relation_hook_operations_carry_their_environment() -> None:
    local = settled(remote(relations=(rel(units={"mysql/0": 1}),)))
    op = uniter.next_op(local, remote(relations=(rel(units={"mysql/0": 1}, life="dying"),)), T0)
    assert isinstance(op, uniter.Operation)
    assert (op.hook, op.relation_id, op.endpoint, op.relation_event) == (
        "db-relation-departed",
        1,
        "db",
        "departed",
    )
    assert (op.remote_unit, op.remote_app, op.departing_unit) == ("mysql/0", "mysql", "mysql/0")
    created = uniter.next_op(settled(remote()), remote(relations=(DB,)), T0)
    assert isinstance(created, uniter.Operation)
    assert (created.remote_unit, created.remote_app) == ("", "mysql")


def test_joined_is_followed_by_changed_even_if_the_unit_left() -> None:
    local = settled(remote())
    local, ran, _ = run(
        local, remote(relations=(rel(units={"mysql/0": 1}),)), max_steps=2, exact=True
    )
    assert ran == ["db-relation-created", "db-relation-joined:mysql/0"]
    _, ran, _ = run(local, remote(relations=(rel(units={}),)))
    assert ran == ["db-relation-changed:mysql/0", "db-relation-departed:mysql/0>mysql/0"]


def test_pending_changed_comes_before_other_relations_units() -> None:
    local = settled(remote(relations=(rel(units={"mysql/0": 1}),)))
    local, ran, _ = run(
        local, remote(relations=(rel(units={"mysql/0": 1, "mysql/1": 1}),)), max_steps=1, exact=True
    )
    assert ran == ["db-relation-joined:mysql/1"]
    _, ran, _ = run(local, remote(relations=(rel(units={"mysql/0": 7, "mysql/1": 3}),)))
    assert ran == ["db-relation-changed:mysql/1", "db-relation-changed:mysql/0"]


def test_app_version_zero_is_ignored() -> None:
    _, ran, _ = run(settled(remote()), remote(relations=(rel(app_version=0),)))
    assert ran == ["db-relation-created"]


def test_relation_created_waits_for_install() -> None:
    _, ran, _ = run(uniter.LocalState(), remote(relations=(DB,)), max_steps=1, exact=True)
    assert ran == ["install"]


def test_update_status_after_interval() -> None:
    state = remote(update_status_interval=300.0)
    local, _, rest = run(uniter.LocalState(), state)
    assert isinstance(rest, uniter.Idle)
    assert rest.wake_at == local.last_hook_at + 300.0
    assert isinstance(uniter.next_op(local, state, local.last_hook_at + 299.0), uniter.Idle)
    op = uniter.next_op(local, state, local.last_hook_at + 300.0)
    assert isinstance(op, uniter.Operation)
    assert op.hook == "update-status"


def test_config_changed_before_start_queues_start() -> None:
    local, ran, _ = run(uniter.LocalState(), remote(leader=True), max_steps=3, exact=True)
    assert ran == ["install", "leader-elected", "config-changed"]
    assert local.operation is not None
    assert (local.operation.hook, local.operation.step) == ("start", uniter.Step.QUEUED)
    # The queued start wins even over a newer config: Juju runs queued hooks first.
    op = uniter.next_op(local, remote(leader=True, config_hash="h2"), T0)
    assert isinstance(op, uniter.Operation)
    assert op.hook == "start"
    assert op.id == local.operation.id


def test_upgrade_commit_queues_config_changed_with_the_new_charm() -> None:
    local = settled(remote())
    target = remote(charm=bus.CharmRef(sha256="c2", name="app"))
    local, ran, _ = run(local, target, max_steps=1, exact=True)
    assert ran == ["upgrade-charm"]
    assert (local.charm_sha, local.charm_revision) == ("c2", 0)
    assert local.operation is not None
    assert (local.operation.hook, local.operation.step) == ("config-changed", uniter.Step.QUEUED)
    # The same archive at a new revision is upgraded to again, after the queued hook.
    again = remote(charm=bus.CharmRef(sha256="c2", name="app", revision=4))
    local, ran, _ = run(local, again)
    assert ran == ["config-changed", "upgrade-charm", "config-changed"]
    assert (local.charm_sha, local.charm_revision) == ("c2", 4)


def test_empty_config_hash_still_runs_config_changed() -> None:
    _, ran, _ = run(uniter.LocalState(), remote(config_hash="", leader=True))
    assert ran == ["install", "leader-elected", "config-changed", "start"]


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


# --- scope and commits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "kind", "expected"),
    [
        ("created", uniter.OpKind.RUN_HOOK, {1: "enter"}),
        ("created", uniter.OpKind.SKIP_HOOK, {1: "enter"}),
        ("broken", uniter.OpKind.RUN_HOOK, {1: "leave"}),
        ("broken", uniter.OpKind.SKIP_HOOK, {1: "leave"}),
        ("joined", uniter.OpKind.RUN_HOOK, {}),
        ("departed", uniter.OpKind.RUN_HOOK, {}),
        ("created", uniter.OpKind.RESIGN_LEADERSHIP, {}),
    ],
)
def test_scope_change(event: str, kind: uniter.OpKind, expected: dict[int, str]) -> None:
    op = uniter.Operation(id="1", kind=kind, relation_id=1, relation_event=event)
    assert uniter.scope_change(op) == expected
    assert uniter.scope_change(uniter.Operation(id="1", kind=kind, hook="start")) == {}


def test_leader_does_not_see_its_own_peer_app_write() -> None:
    state = remote(leader=True, relations=(peer(units={"app/1": 1}),))
    local = settled(state)
    # A hook wrote the peer app bag; its commit (seq 1) is not yet acknowledged.
    op = uniter.next_op(local, state, local.last_hook_at + 300)
    assert isinstance(op, uniter.Operation) and op.hook == "update-status"
    local = uniter.commit(
        uniter.record_step(local, op, uniter.Step.RUNNING),
        op,
        uniter.Outcome(succeeded=True, at=T0, commit_seq=1, app_written=(9,)),
    )
    assert local.commit_seq == 1
    assert local.relations[9].app_ack_seq == 1
    # The controller applied it: the app version moved to 1 and commit_seq covers it.
    acked = remote(leader=True, commit_seq=1, relations=(peer(units={"app/1": 1}, app_version=1),))
    local, ran, _ = run(local, acked)
    assert ran == []
    assert local.relations[9].app_version == 1
    assert local.relations[9].app_ack_seq == 0
    # A later write by someone else (a previous leader's late commit) is seen.
    _, ran, _ = run(
        local,
        remote(leader=True, commit_seq=1, relations=(peer(units={"app/1": 1}, app_version=2),)),
    )
    assert ran == ["cluster-relation-changed:app"]


def test_follower_sees_the_leaders_peer_app_write() -> None:
    local = settled(remote(relations=(peer(units={"app/1": 1}),)))
    _, ran, _ = run(local, remote(relations=(peer(units={"app/1": 1}, app_version=1),)))
    assert ran == ["cluster-relation-changed:app"]


def test_observe_never_lets_commit_seq_fall_behind_the_controller() -> None:
    local = uniter.observe(uniter.LocalState(), remote(commit_seq=41))
    assert local.commit_seq == 41


def test_observe_forgets_broken_relations_and_finished_actions() -> None:
    local = settled(remote(relations=(DB,)))
    local, ran, _ = run(local, remote(relations=(rel(life="dying"),)))
    assert ran[-1] == "db-relation-broken"
    assert local.relations[1].broken
    assert uniter.observe(local, remote(relations=(rel(life="dying"),))).relations[1].broken
    assert uniter.observe(local, remote()).relations == {}
    done = dataclasses.replace(local, actions_done=("1", "2"))
    kept = uniter.observe(done, remote(actions=(bus.ActionRequest(id="2", name="x"),)))
    assert kept.actions_done == ("2",)


def test_observe_returns_the_same_state_when_nothing_changed() -> None:
    local = settled(remote(relations=(DB,)))
    assert uniter.observe(local, remote(relations=(DB,))) is local


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


def test_interrupted_relation_hook_runs_again_even_if_the_relation_went() -> None:
    local = settled(remote())
    op = uniter.next_op(local, remote(relations=(DB,)), T0)
    assert isinstance(op, uniter.Operation) and op.hook == "db-relation-created"
    local = uniter.record_step(local, op, uniter.Step.RUNNING)
    again = uniter.next_op(local, remote(), T0)
    assert again == dataclasses.replace(op, step=uniter.Step.RUNNING)


def test_finished_operation_is_not_run_again() -> None:
    local = settled(remote())
    assert local.operation is not None
    assert local.operation.step is uniter.Step.DONE
    assert isinstance(uniter.next_op(local, remote(), local.last_hook_at + 1), uniter.Idle)


def test_interrupted_leader_elected_is_dropped_when_leadership_lost() -> None:
    local = settled(remote())
    op = uniter.next_op(local, remote(leader=True), T0)
    assert isinstance(op, uniter.Operation)
    local = uniter.record_step(local, op, uniter.Step.RUNNING)
    drop = uniter.next_op(local, remote(leader=False), T0)
    assert isinstance(drop, uniter.Operation)
    assert drop.kind is uniter.OpKind.RESIGN_LEADERSHIP
    local = uniter.commit(local, drop, uniter.Outcome(succeeded=True, at=T0))
    assert not local.leader
    _, ran, _ = run(local, remote())
    assert ran == ["leader-settings-changed"]


# --- actions ---------------------------------------------------------------------------------

BACKUP = bus.ActionRequest(id="5", name="backup")
RESTORE = bus.ActionRequest(id="6", name="restore")


def test_actions_run_oldest_first_and_once() -> None:
    local = settled(remote())
    target = remote(actions=(BACKUP, RESTORE))
    local, ran, _ = run(local, target)
    assert ran == ["action:backup", "action:restore"]
    assert local.actions_done == ("5", "6")
    _, ran, _ = run(local, target)
    assert ran == []


def test_actions_wait_for_install() -> None:
    _, ran, _ = run(uniter.LocalState(), remote(leader=True, actions=(BACKUP,)))
    assert ran == ["install", "leader-elected", "action:backup", "config-changed", "start"]


def test_actions_run_while_a_hook_is_in_error() -> None:
    local, ran, rest = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert ran == ["config-changed"]
    error = local.error
    assert error is not None
    local, ran, rest = run(local, remote(config_hash="h2", actions=(BACKUP,)), now=T0 + 1)
    assert ran == ["action:backup"]
    assert local.error == error  # still in error, same retry time
    assert rest == uniter.Idle(wake_at=error.retry_at)


def test_interrupted_action_is_failed_not_rerun() -> None:
    local = settled(remote())
    op = uniter.next_op(local, remote(actions=(BACKUP,)), T0)
    assert isinstance(op, uniter.Operation) and op.kind is uniter.OpKind.RUN_ACTION
    assert (op.action_id, op.action_name, op.hook) == ("5", "backup", "")
    running = uniter.record_step(local, op, uniter.Step.RUNNING)
    again = uniter.next_op(running, remote(actions=(BACKUP,)), T0)
    assert isinstance(again, uniter.Operation)
    assert (again.kind, again.id, again.action_id) == (uniter.OpKind.FAIL_ACTION, op.id, "5")
    queued = uniter.record_step(local, op, uniter.Step.QUEUED)
    assert uniter.next_op(queued, remote(actions=(BACKUP,)), T0) == dataclasses.replace(
        op, step=uniter.Step.QUEUED
    )
    gone = uniter.next_op(queued, remote(), T0)
    assert isinstance(gone, uniter.Operation) and gone.kind is uniter.OpKind.FAIL_ACTION


def test_an_action_does_not_reset_the_update_status_timer() -> None:
    local = settled(remote())
    after, _, _ = run(local, remote(actions=(BACKUP,)), now=T0 + 100)
    assert after.last_hook_at == local.last_hook_at


# --- errors, retries and resolve -------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 5.0), (2, 10.0), (3, 20.0), (4, 40.0), (5, 80.0), (6, 160.0), (7, 300.0), (12, 300.0)],
)
def test_retry_delay_doubles_to_five_minutes(attempts: int, delay: float) -> None:
    assert uniter.retry_delay(attempts) == delay
    assert delay < uniter.retry_delay(attempts, jitter=0.99) <= delay * 1.1


def test_failing_hook_errors_then_retries_with_backoff() -> None:
    local, ran, rest = run(uniter.LocalState(), remote(leader=True), fail={"install"})
    assert ran == ["install"]
    error = local.error
    assert error is not None and error.op is not None
    assert (error.hook, error.attempts, error.retry_at) == ("install", 1, T0 + 5.0)
    assert rest == uniter.Idle(wake_at=T0 + 5.0)
    assert not local.installed

    # Nothing else runs while in error: not config-changed, not leader-elected, not stop.
    for other in (remote(config_hash="h2"), remote(leader=True), remote(life="dying")):
        assert uniter.next_op(local, other, T0 + 4.9) == uniter.Idle(wake_at=T0 + 5.0)

    local, ran, rest = run(local, remote(leader=True), now=T0 + 5.0, fail={"install"})
    assert ran == ["install"]
    assert local.error is not None
    assert local.error.attempts == 2
    assert local.error.retry_at == T0 + 5.0 + 10.0
    assert local.error.op is not None and local.error.op.id == error.op.id

    local, ran, rest = run(local, remote(leader=True), now=T0 + 15.0)
    assert ran == ["install", "leader-elected", "config-changed", "start"]
    assert local.error is None
    assert isinstance(rest, uniter.Idle)


def test_no_automatic_retry_without_retry_hooks() -> None:
    local, _, _ = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert uniter.next_op(local, remote(config_hash="h2", retry_hooks=False), T0 + 999) == (
        uniter.Idle()
    )


def test_failed_config_changed_does_not_commit_its_hash() -> None:
    local, ran, _ = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert ran == ["config-changed"]
    assert local.config_hash == "h1"
    assert local.error is not None and local.error.hook == "config-changed"


@pytest.mark.parametrize("resume", ["retry", "resolved", "interrupted"])
def test_a_config_changed_run_again_commits_the_config_it_sees(resume: str) -> None:
    """Juju makes every run of a hook afresh from the remote state: a config-changed that
    failed (or was interrupted) on h2 and runs again once the config is h3 reads h3, so it
    commits h3 and does not run a second time for it."""
    local, _, _ = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert local.error is not None
    if resume == "interrupted":
        running = dataclasses.replace(local.error.op, step=uniter.Step.RUNNING)
        local = dataclasses.replace(local, error=None, operation=running)
    target = remote(config_hash="h3")
    if resume == "resolved":
        target = remote(config_hash="h3", resolved="retry", resolved_seq=1, retry_hooks=False)
    local, ran, rest = run(local, target, now=T0 + 999)
    assert ran == ["config-changed"]
    assert local.config_hash == "h3" and local.error is None
    assert isinstance(rest, uniter.Idle)


def test_failed_relation_hook_keeps_its_versions() -> None:
    local = settled(remote(relations=(rel(units={"mysql/0": 1}),)))
    target = remote(relations=(rel(units={"mysql/0": 2}),))
    local, ran, _ = run(local, target, fail={"db-relation-changed:mysql/0"})
    assert ran == ["db-relation-changed:mysql/0"]
    assert local.relations[1].members == {"mysql/0": 1}
    _, ran, _ = run(local, target, now=T0 + 10)
    assert ran == ["db-relation-changed:mysql/0"]


def test_resolve_retry_runs_the_hook_now() -> None:
    failing = {"config-changed"}
    local, _, _ = run(settled(remote()), remote(config_hash="h2"), fail=failing)
    assert local.error is not None
    resolved = remote(config_hash="h2", resolved="retry", resolved_seq=1, retry_hooks=False)
    op = uniter.next_op(local, resolved, T0 + 1)  # long before the retry time
    assert isinstance(op, uniter.Operation)
    assert (op.kind, op.hook, op.resolved_seq) == (uniter.OpKind.RUN_HOOK, "config-changed", 1)
    # It fails again: the same resolve is spent, the unit waits for another.
    local, ran, rest = run(local, resolved, now=T0 + 1, fail=failing)
    assert ran == ["config-changed"]
    assert local.error is not None and local.resolved_seq == 1
    assert rest == uniter.Idle()
    local, ran, _ = run(
        local, remote(config_hash="h2", resolved="retry", resolved_seq=2), now=T0 + 2
    )
    assert ran == ["config-changed"]
    assert local.error is None and local.config_hash == "h2"


def test_resolve_no_retry_commits_the_failed_hook_without_running_it() -> None:
    local, ran, _ = run(
        uniter.LocalState(), remote(leader=True), fail={"config-changed"}, max_steps=3, exact=True
    )
    assert ran == ["install", "leader-elected", "config-changed"]
    assert local.error is not None
    local, ran, _ = run(
        local, remote(leader=True, resolved="no-retry", resolved_seq=1), fail={"config-changed"}
    )
    # Skipped: its commit still queues start, and the config counts as handled.
    assert ran == ["skip:config-changed", "start"]
    assert local.error is None and local.config_hash == "h1" and local.started


def test_resolve_no_retry_of_relation_created_still_enters_scope() -> None:
    local, ran, _ = run(settled(remote()), remote(relations=(DB,)), fail={"db-relation-created"})
    assert ran == ["db-relation-created"]
    skip = uniter.next_op(local, remote(relations=(DB,), resolved="no-retry", resolved_seq=3), T0)
    assert isinstance(skip, uniter.Operation) and skip.kind is uniter.OpKind.SKIP_HOOK
    assert uniter.scope_change(skip) == {1: "enter"}


def test_a_resolve_seen_while_healthy_does_not_resolve_a_later_error() -> None:
    local = settled(remote(resolved="retry", resolved_seq=4))
    assert local.resolved_seq == 4
    local, _, _ = run(
        local, remote(config_hash="h2", resolved="retry", resolved_seq=4), fail={"config-changed"}
    )
    assert uniter.next_op(
        local, remote(config_hash="h2", resolved="retry", resolved_seq=4), T0 + 1
    ) == uniter.Idle(wake_at=local.error.retry_at if local.error else None)


@pytest.mark.parametrize(
    "failing",
    ["db-relation-departed:mysql/0>app/0", "db-relation-broken", "stop", "remove"],
)
def test_a_forced_removal_skips_failing_teardown_hooks(failing: str) -> None:
    """Juju's `remove-* --force`: a failing hook of the dying unit no longer holds its
    removal; without `--force` the unit waits in error, retrying."""
    alive = remote(relations=(rel(units={"mysql/0": 1}),))
    local = settled(alive)
    dying = remote(life="dying", relations=(rel(units={"mysql/0": 1}),), retry_hooks=False)
    stuck, ran, rest = run(local, dying, fail={failing})
    assert ran[-1] == failing and rest == uniter.Idle()
    assert stuck.error is not None and not stuck.removed

    forced = dying.model_copy(update={"force": True})
    done, ran, rest = run(stuck, forced, now=T0 + 100, fail={failing})
    assert ran[0] == f"skip:{failing}"
    assert rest == uniter.Removed() and done.removed and done.error is None


def test_force_without_dying_changes_nothing() -> None:
    local, _, _ = run(settled(remote()), remote(config_hash="h2"), fail={"config-changed"})
    assert local.error is not None
    assert (
        uniter.next_op(local, remote(config_hash="h2", force=True, retry_hooks=False), T0 + 1)
        == uniter.Idle()
    )


def test_leadership_lost_while_leader_elected_in_error_drops_it() -> None:
    local, ran, _ = run(settled(remote()), remote(leader=True), fail={"leader-elected"})
    assert ran == ["leader-elected"]
    assert local.error is not None
    local, ran, rest = run(local, remote(leader=False), now=T0 + 100)
    assert ran == ["resign-leadership", "leader-settings-changed"]
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
