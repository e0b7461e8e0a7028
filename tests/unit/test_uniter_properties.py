"""Hypothesis: random histories of remote states, failures and crashes keep Juju's guarantees.

Invariants checked on every step:

* nothing but `install` (and actions after a failed install) runs before install;
* nothing at all runs after `remove`;
* a `-joined` for X is followed by a `-changed` for X before any other hook of that relation;
* `-departed` only for a unit the unit had joined; `-broken` only once all have departed;
* relation hooks only for relations that were created (and not yet broken);
* an action is never run twice.

And at the end, with a stable remote state, the unit converges: it is removed, or idle
without error with every relation in step with the remote state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runecraft.agents import uniter
from runecraft.schemas import bus

T0 = 1_000_000.0

CANDIDATES = {
    1: ("db", "requirer", "mysql", ("mysql/0", "mysql/1")),
    2: ("cluster", "peer", "app", ("app/1", "app/2")),
    3: ("web", "provider", "haproxy", ("haproxy/0",)),
}


def remote(**changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "app/0",
        "application": "app",
        "charm": bus.CharmRef(sha256="c1", name="app"),
        "config_hash": "h1",
    }
    return bus.UnitRemoteState(**{**base, **changes})


@st.composite
def relations(draw: st.DrawFn) -> dict[int, tuple[str, dict[str, int], int]]:
    """relation id → (presence: absent|alive|dying, units → version, app version)."""
    chosen: dict[int, tuple[str, dict[str, int], int]] = {}
    for relation_id, (_, _, _, units) in CANDIDATES.items():
        presence = draw(st.sampled_from(["absent", "alive", "alive", "dying"]))
        members = {name: draw(st.integers(0, 3)) for name in units if draw(st.booleans())}
        chosen[relation_id] = (presence, members, draw(st.integers(0, 2)))
    return chosen


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "life": draw(st.sampled_from(["alive", "alive", "alive", "dying"])),
        "leader": draw(st.booleans()),
        "config_hash": draw(st.sampled_from(["h1", "h2", "h3"])),
        "charm": draw(st.sampled_from(["c1", "c1", "c2"])),
        "relations": draw(relations()),
        "actions": draw(st.lists(st.sampled_from(["1", "2", "3"]), unique=True, max_size=2)),
        "leader_settings_version": draw(st.integers(0, 2)),
        "resolved": draw(st.sampled_from(["none", "none", "retry", "no-retry"])),
        "retry_hooks": draw(st.booleans()),
        "update_status_interval": draw(st.sampled_from([5.0, 300.0])),
    }


@dataclass
class History:
    """Makes a random script realistic: unit life and relation life only move forward, a
    relation (or action) that vanished never comes back, every resolve is a new one."""

    unit_dying: bool = False
    relation_phase: dict[int, str] = field(default_factory=dict)
    resolved_seq: int = 0
    listed: set[str] = field(default_factory=set)
    retired: set[str] = field(default_factory=set)
    """Actions the controller stopped listing: ids are never reused."""

    def build(self, spec: dict[str, Any]) -> bus.UnitRemoteState:
        self.unit_dying = self.unit_dying or spec["life"] == "dying"
        views = []
        for relation_id, (presence, units, app_version) in sorted(spec["relations"].items()):
            phase = self.relation_phase.get(relation_id, "new")
            order = ["new", "alive", "dying", "gone"]
            wanted = {"absent": "gone" if phase != "new" else "new"}.get(presence, presence)
            if order.index(wanted) < order.index(phase):
                wanted = phase
            self.relation_phase[relation_id] = wanted
            if wanted in ("new", "gone"):
                continue
            endpoint, role, remote_app, _ = CANDIDATES[relation_id]
            views.append(
                bus.RelationRemote(
                    id=relation_id,
                    endpoint=endpoint,
                    interface=endpoint,
                    role=role,  # type: ignore[arg-type]
                    remote_application=remote_app,
                    life=wanted,  # type: ignore[arg-type]
                    units=units if wanted == "alive" and not self.unit_dying else {},
                    app_version=app_version,
                )
            )
        if spec["resolved"] != "none":
            self.resolved_seq += 1
        actions = [a for a in spec["actions"] if a not in self.retired]
        self.retired |= self.listed - set(actions)
        self.listed = set(actions)
        return remote(
            life="dying" if self.unit_dying else "alive",
            leader=spec["leader"],
            config_hash=spec["config_hash"],
            charm=bus.CharmRef(sha256=spec["charm"], name="app"),
            relations=tuple(views),
            actions=tuple(bus.ActionRequest(id=a, name=f"do-{a}") for a in actions),
            leader_settings_version=spec["leader_settings_version"],
            resolved=spec["resolved"],
            resolved_seq=self.resolved_seq,
            retry_hooks=spec["retry_hooks"],
            update_status_interval=spec["update_status_interval"],
        )


@dataclass
class Checker:
    """Runs operations and checks the invariants as it goes."""

    local: uniter.LocalState = field(default_factory=uniter.LocalState)
    now: float = T0
    removed: bool = False
    owed_changed: dict[int, str] = field(default_factory=dict)
    """Relation → unit whose `-changed` must be the relation's next hook."""
    actions_run: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    local_dying: bool = False

    def check(self, op: uniter.Operation) -> None:
        local = self.local
        assert not self.removed, f"{op} after remove"
        if op.is_action:
            assert local.installed or local.error is not None, "action before install"
            if op.kind is uniter.OpKind.RUN_ACTION:
                assert op.action_id not in self.actions_run, "action run twice"
            return
        if op.kind in (uniter.OpKind.RUN_HOOK, uniter.OpKind.SKIP_HOOK) and op.hook != "install":
            assert local.installed, f"{op.hook} before install"
        if op.hook == "stop":
            assert local.started
            assert all(state.broken for state in local.relations.values()), "stop before broken"
        if op.hook == "remove":
            assert local.stopped or not local.started
        if op.relation_id is None or op.kind is uniter.OpKind.RESIGN_LEADERSHIP:
            return
        owed = self.owed_changed.get(op.relation_id)
        if owed is not None:
            assert (op.relation_event, op.remote_unit) == ("changed", owed), (
                f"{op.hook} {op.remote_unit} before the -changed owed for {owed}"
            )
        if op.relation_event == "created":
            assert op.relation_id not in local.relations
            return
        state = local.relations.get(op.relation_id)
        assert state is not None and not state.broken, f"{op.hook} for an unknown relation"
        if op.relation_event == "departed":
            assert op.remote_unit in state.members
        if op.relation_event == "broken":
            assert not state.members, "-broken before every -departed"
            assert state.peer is False or self.local_dying, "-broken of a peer relation"

    def step(self, state: bus.UnitRemoteState, fate: str) -> uniter.Idle | uniter.Removed | None:
        self.local = uniter.observe(self.local, state)
        self.local_dying = state.life == "dying" or self.local.stopped
        decision = uniter.next_op(self.local, state, self.now)
        if isinstance(decision, uniter.Removed):
            self.removed = True
            return decision
        if isinstance(decision, uniter.Idle):
            if decision.wake_at is not None:
                self.now = max(self.now + 1.0, decision.wake_at)  # let a timer become due
            return decision
        op = decision
        self.check(op)
        self.trace.append(op.label)
        self.local = uniter.record_step(self.local, op, uniter.Step.RUNNING)
        if fate == "crash":
            self.now += 1.0
            return None
        succeeded = fate == "ok" or op.kind is not uniter.OpKind.RUN_HOOK
        self.local = uniter.commit(self.local, op, uniter.Outcome(succeeded=succeeded, at=self.now))
        if op.kind is uniter.OpKind.RUN_ACTION:
            self.actions_run.append(op.action_id)
        if (
            succeeded
            and op.relation_id is not None
            and op.kind is not uniter.OpKind.RESIGN_LEADERSHIP
        ):
            if op.relation_event == "joined":
                self.owed_changed[op.relation_id] = op.remote_unit
            elif op.relation_event == "changed" and self.owed_changed.get(op.relation_id) == (
                op.remote_unit
            ):
                del self.owed_changed[op.relation_id]
        self.removed = self.local.removed
        self.now += 1.0
        return None


fates = st.sampled_from(["ok", "ok", "ok", "ok", "fail", "crash"])


@settings(max_examples=400, deadline=None)
@given(
    script=st.lists(st.tuples(snapshots(), st.lists(fates, max_size=8)), min_size=1, max_size=10),
    final=snapshots(),
)
def test_random_histories_are_safe_and_converge(
    script: list[tuple[dict[str, Any], list[str]]], final: dict[str, Any]
) -> None:
    history = History()
    checker = Checker()
    for spec, steps in script:
        state = history.build(spec)
        for fate in steps:
            checker.step(state, fate)

    # A stable end state with automatic retries on and nothing to resolve.
    end = history.build({**final, "resolved": "none", "retry_hooks": True})
    for _ in range(200):
        rest = checker.step(end, "ok")
        if isinstance(rest, uniter.Removed):
            assert end.life == "dying" or checker.local.stopped
            return
        if isinstance(rest, uniter.Idle) and checker.local.error is None:
            _assert_converged(checker.local, end)
            return
    raise AssertionError(f"did not converge: {checker.local}\n{checker.trace[-30:]}")


def _assert_converged(local: uniter.LocalState, end: bus.UnitRemoteState) -> None:
    assert end.life == "alive" and not local.stopped
    assert local.installed and local.started
    assert local.config_hash == end.config_hash
    assert local.charm_sha == end.charm.sha256
    assert local.leader == end.leader
    if not end.leader:
        assert local.leader_settings_version == end.leader_settings_version
    assert {a.id for a in end.actions} <= set(local.actions_done)
    by_id = {relation.id: relation for relation in end.relations}
    for relation in end.relations:
        if relation.life == "alive":
            state = local.relations.get(relation.id)
            assert state is not None and not state.broken
            assert dict(state.members) == relation.units
            assert state.changed_pending == ""
            if relation.app_version:
                assert state.app_version == relation.app_version
    for relation_id, state in local.relations.items():
        remote_relation = by_id.get(relation_id)
        if remote_relation is None or remote_relation.life == "dying":
            assert state.broken or (state.peer and not state.members)
