"""The reconcilers' planners as pure functions: tables per concern, and properties (planning
again after applying a plan finds nothing left to do; never two leaders; a machine is never
both made and released)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft import errors
from runecraft.controller.reconcilers import _plan, _planners, _provisioning
from runecraft.controller.reconcilers._actions import (
    Action,
    AssignMachine,
    ChangeLeader,
    DeleteApplication,
    DeleteModel,
    DeleteRelations,
    ForgetUnit,
    KillApplication,
    KillRelation,
    KillUnit,
    ModelState,
    Provision,
    Publish,
    Release,
)
from runecraft.controller.state import (
    ApplicationRecord,
    EndpointRecord,
    MachineRecord,
    RelationRecord,
    ScopeRecord,
    UnitRecord,
)
from runecraft.schemas import bus
from tests.unit import _records as records
from tests.unit._records import machine

NOW = 1000.0
LEASE = 60.0


def app(app_id: int, life: str = "alive", **values: Any) -> ApplicationRecord:
    return records.app(f"app{app_id}", id=app_id, life=life, **values)


def unit(app_id: int, number: int, life: str = "alive", machine: int | None = None) -> UnitRecord:
    return records.unit(
        f"app{app_id}/{number}",
        id=app_id * 100 + number,
        application_id=app_id,
        life=life,
        machine_number=machine,
    )


def relation(rel_id: int, life: str = "alive") -> RelationRecord:
    return records.relation(rel_id, f"r{rel_id}", life)


def endpoint(rel_id: int, app_id: int) -> EndpointRecord:
    return records.endpoint(rel_id, f"app{app_id}", "ep", role="peer", interface="i")


def state(
    *,
    apps: Sequence[ApplicationRecord] = (),
    units: Sequence[UnitRecord] = (),
    machines: Sequence[MachineRecord] = (),
    relations: Sequence[RelationRecord] = (),
    endpoints: Sequence[EndpointRecord] = (),
    scopes: Sequence[ScopeRecord] = (),
    model_life: str = "alive",
    running: frozenset[int] = frozenset(),
    in_flight: frozenset[int] = frozenset(),
) -> ModelState:
    return ModelState(
        model=records.model(life=model_life),
        applications=tuple(apps),
        units=tuple(units),
        machines=tuple(machines),
        relations=_plan.RelationState(tuple(relations), tuple(endpoints), tuple(scopes)),
        running=running,
        in_flight=in_flight,
    )


# --- tables ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "cloud", "expected"),
    [
        pytest.param(machine(0), "local", "local", id="the-models-cloud"),
        pytest.param(machine(0, substrate="lxd"), "local", "lxd", id="placed-container"),
        pytest.param(machine(0, enlistment={"host": "h"}), "lxd", "manual", id="enlisted"),
        pytest.param(
            machine(0, enlistment={"host": "h"}, substrate="lxd"),
            "local",
            "manual",
            id="enlisted-wins-over-substrate",
        ),
    ],
)
def test_provider_for(record: MachineRecord, cloud: str, expected: str) -> None:
    model = records.model(cloud=cloud)
    assert _provisioning.provider_for(record, model) == expected


@pytest.mark.parametrize(
    ("error", "count", "low", "high"),
    [
        pytest.param(errors.PermanentError("x"), 1, 4.0, 6.0, id="first-failure-5s"),
        pytest.param(errors.PermanentError("x"), 3, 16.0, 24.0, id="doubling"),
        pytest.param(errors.PermanentError("x"), 30, 240.0, 360.0, id="capped-at-5min"),
        pytest.param(errors.TemporaryError("x", delay=3600), 1, 3600.0, 3600.0, id="longer"),
        pytest.param(errors.TemporaryError("x", delay=1), 3, 16.0, 24.0, id="backoff-is-floor"),
    ],
)
def test_retry_after(error: errors.RunecraftError, count: int, low: float, high: float) -> None:
    assert low <= _provisioning.retry_after(error, count) <= high


@pytest.mark.parametrize(
    ("given_state", "expected"),
    [
        pytest.param(state(apps=[app(1)], units=[unit(1, 0, machine=0)]), [], id="nothing"),
        pytest.param(
            state(apps=[app(1)], model_life="dying"),
            [KillApplication(app(1)), DeleteApplication(app(1))],
            id="dying-model-takes-empty-app",
        ),
        pytest.param(
            state(apps=[app(1, "dying")], units=[unit(1, 0, machine=0)]),
            [KillUnit(unit(1, 0, machine=0))],
            id="dying-app-takes-its-units",
        ),
        pytest.param(
            state(apps=[app(1, "dying")], units=[unit(1, 0, "dying", machine=0)]),
            [],
            id="dying-units-are-left-to-their-agents",
        ),
        pytest.param(
            state(
                apps=[app(1, "dying"), app(2)],
                units=[unit(2, 0, machine=0)],
                relations=[relation(7)],
                endpoints=[endpoint(7, 1), endpoint(7, 2)],
            ),
            [KillRelation(relation(7))],
            id="relation-dies-with-an-app",
        ),
        pytest.param(
            state(apps=[app(1)], relations=[relation(7, "dying")], endpoints=[endpoint(7, 1)]),
            [DeleteRelations((7,))],
            id="dead-relation-goes",
        ),
        pytest.param(
            state(
                apps=[app(1)],
                relations=[relation(7, "dying")],
                endpoints=[endpoint(7, 1)],
                scopes=[ScopeRecord("m", 7, "app1/0")],
            ),
            [],
            id="dying-relation-in-scope-stays",
        ),
        pytest.param(
            state(apps=[app(1, "dying")], relations=[relation(7)], endpoints=[endpoint(7, 1)]),
            [DeleteApplication(app(1, "dying"), (7,))],
            id="empty-app-goes-with-its-peer-relation",
        ),
    ],
)
def test_plan_lifecycle(given_state: ModelState, expected: list[Action]) -> None:
    assert _planners.plan_lifecycle(given_state, NOW) == expected


FORCED_LATER = dataclasses.replace(unit(1, 0, "dying"), force_removal=True, remove_after=NOW + 5)


@pytest.mark.parametrize(
    ("forced", "expected"),
    [
        pytest.param(FORCED_LATER, [], id="still-tearing-down"),
        pytest.param(
            dataclasses.replace(FORCED_LATER, remove_after=NOW),
            [ForgetUnit(dataclasses.replace(FORCED_LATER, remove_after=NOW))],
            id="time-ran-out",
        ),
        pytest.param(
            dataclasses.replace(FORCED_LATER, remove_after=None),
            [],
            id="forced-without-deadline",
        ),
    ],
)
def test_a_unit_removed_with_force_is_forgotten_once_its_time_ran_out(
    forced: UnitRecord, expected: list[Action]
) -> None:
    """Juju's forced-removal cleanup: after the max-wait (at once with `--no-wait`) the
    controller forgets the unit even if its agent never reported its removal."""
    assert _planners.plan_lifecycle(state(apps=[app(1)], units=[forced]), NOW) == expected


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        pytest.param([unit(1, 0)], [AssignMachine(unit(1, 0))], id="unplaced"),
        pytest.param([unit(1, 0, machine=3)], [], id="placed"),
        pytest.param([unit(1, 0, "dying")], [], id="dying-unplaced"),
    ],
)
def test_plan_assignment(units: list[UnitRecord], expected: list[Action]) -> None:
    assert _planners.plan_assignment(state(apps=[app(1)], units=units), NOW) == expected


@pytest.mark.parametrize(
    ("application", "units", "expected"),
    [
        pytest.param(app(1), [unit(1, 1), unit(1, 0)], [("app1/0", False)], id="first-lowest"),
        pytest.param(
            app(1, leader="app1/0", lease_expiry=NOW + 1), [unit(1, 0)], [], id="lease-runs"
        ),
        pytest.param(
            app(1, leader="app1/0", lease_expiry=NOW + 1),
            [unit(1, 0, "dying"), unit(1, 1)],
            [("app1/1", True)],
            id="handed-over",
        ),
        pytest.param(app(1, leader="app1/0", lease_expiry=NOW), [], [(None, False)], id="gone"),
    ],
)
def test_plan_leadership(
    application: ApplicationRecord, units: list[UnitRecord], expected: list[tuple[str, bool]]
) -> None:
    actions = _planners.plan_leadership(state(apps=[application], units=units), NOW)
    assert [(a.leader, a.moved) for a in actions if isinstance(a, ChangeLeader)] == expected


def test_database_planners_run_in_priority_order() -> None:
    given_state = state(apps=[app(1, "dying"), app(2)], units=[unit(1, 0), unit(2, 0)])
    assert _planners.plan_writes(given_state, NOW) == [KillUnit(unit(1, 0))]
    placed = state(apps=[app(2)], units=[unit(2, 0)])
    assert _planners.plan_writes(placed, NOW) == [AssignMachine(unit(2, 0))]
    assert _planners.plan_writes(state(apps=[app(2)], units=[unit(2, 0, machine=0)]), NOW) == [
        ChangeLeader(app(2), "app2/0")
    ]


ERRORED = {"status": "error", "retry_at": NOW + 10}


@pytest.mark.parametrize(
    ("record", "occupied", "observed", "expected"),
    [
        pytest.param(machine(0), True, {}, "provision", id="not-up"),
        pytest.param(machine(0), True, {"running": frozenset({0})}, None, id="up"),
        pytest.param(machine(0), True, {"in_flight": frozenset({0})}, None, id="being-made"),
        pytest.param(machine(0, **ERRORED), True, {}, None, id="retry-not-due"),
        pytest.param(machine(0, status="error", retry_at=NOW), True, {}, "provision", id="due"),
        pytest.param(machine(0), False, {}, "release", id="empty"),
        pytest.param(machine(0), False, {"in_flight": frozenset({0})}, None, id="empty-in-making"),
        pytest.param(machine(0, **ERRORED), False, {}, None, id="release-failed-waits"),
        pytest.param(machine(0, enlistment={"host": "h"}), False, {}, None, id="enlisted-stays"),
        pytest.param(
            machine(0, enlistment={"host": "h"}, life="dying"), False, {}, "release", id="unlisted"
        ),
        pytest.param(machine(0, kept=True), False, {}, "provision", id="added-empty-is-made"),
        pytest.param(machine(0, kept=True), False, {"running": frozenset({0})}, None, id="kept"),
        pytest.param(machine(0, kept=True, life="dying"), False, {}, "release", id="removed"),
    ],
)
def test_plan_provisioning(
    record: MachineRecord, occupied: bool, observed: dict[str, Any], expected: str | None
) -> None:
    units = [unit(1, 0, machine=0)] if occupied else []
    given_state = state(apps=[app(1)], units=units, machines=[record], **observed)
    actions = _provisioning.plan_provisioning(given_state, NOW)
    kinds = {Provision: "provision", Release: "release"}
    assert [kinds[type(a)] for a in actions] == ([expected] if expected else [])


def test_provisioning_carries_the_provider_constraints_and_units() -> None:
    given_state = state(
        apps=[app(1, constraints={"mem": 1024})],
        units=[unit(1, 0, machine=0)],
        machines=[machine(0, substrate="lxd")],
    )
    (action,) = _provisioning.plan_provisioning(given_state, NOW)
    assert action == Provision(machine(0, substrate="lxd"), "lxd", {"mem": 1024}, ("app1/0",))


def test_a_dying_model_releases_a_machine_added_on_its_own() -> None:
    added = machine(0, kept=True)
    assert _provisioning.plan_provisioning(state(machines=[added], model_life="dying"), NOW) == [
        Release(added, "local")
    ]


def test_an_empty_dying_model_is_deleted_and_an_enlisted_host_released() -> None:
    enlisted = machine(0, enlistment={"host": "h"})
    assert _provisioning.plan_provisioning(state(machines=[enlisted], model_life="dying"), NOW) == [
        Release(enlisted, "manual")
    ]
    assert _provisioning.plan_provisioning(state(model_life="dying"), NOW) == [
        DeleteModel(records.model(life="dying"))
    ]


def test_dispatch_sends_only_what_changed() -> None:
    snapshot = bus.MachineSnapshot(revision=3, model_name="m", model_uuid="m", machine_id="0")
    digest = _plan.snapshot_digest(snapshot)
    machines = [machine(0), machine(1)]
    snapshots = {0: snapshot, 1: snapshot.model_copy(update={"machine_id": "1"})}
    actions = _planners.plan_dispatch(machines, snapshots, {"machine-0.m": digest})
    assert [a.agent for a in actions] == ["machine-1.m"]
    # A new revision with the same content is not sent again.
    newer = {0: snapshot.model_copy(update={"revision": 4})}
    assert _planners.plan_dispatch(machines[:1], newer, {"machine-0.m": digest}) == []


@pytest.mark.parametrize(
    ("given_state", "expected"),
    [
        pytest.param(state(), NOW + _planners.SWEEP_INTERVAL, id="sweep"),
        pytest.param(
            state(apps=[app(1, leader="app1/0", lease_expiry=NOW + 7)]), NOW + 7, id="lease"
        ),
        pytest.param(
            state(apps=[app(1, lease_expiry=NOW + 7)]),
            NOW + _planners.SWEEP_INTERVAL,
            id="no-leader",
        ),
        pytest.param(state(machines=[machine(0, retry_at=NOW + 3)]), NOW + 3, id="retry"),
        pytest.param(state(units=[FORCED_LATER]), NOW + 5, id="forced-removal"),
        pytest.param(
            dataclasses.replace(
                state(apps=[app(1, leader="app1/0", lease_expiry=NOW - 7)]),
                reach=_plan.AgentReach(since=None, lease_seconds=30),
            ),
            NOW + _planners.SWEEP_INTERVAL,
            id="lease-held-while-bus-down",
        ),
        pytest.param(
            dataclasses.replace(
                state(apps=[app(1, leader="app1/0", lease_expiry=NOW - 7)]),
                reach=_plan.AgentReach(since=NOW - 25, lease_seconds=30),
            ),
            NOW + 5,
            id="lease-from-reconnect",
        ),
        pytest.param(
            dataclasses.replace(
                state(apps=[app(1, leader="app1/0", lease_expiry=NOW - 7)]),
                reach=_plan.AgentReach.of(NOW - 60, None, lease_seconds=30),
            ),
            NOW + _planners.SWEEP_INTERVAL,
            id="lease-held-while-messages-cannot-be-stored",
        ),
        pytest.param(
            dataclasses.replace(
                state(apps=[app(1, leader="app1/0", lease_expiry=NOW - 7)]),
                reach=_plan.AgentReach.of(NOW - 60, NOW - 20, lease_seconds=30),
            ),
            NOW + 10,
            id="lease-from-storing-again",
        ),
    ],
)
def test_next_due(given_state: ModelState, expected: float) -> None:
    assert _planners.next_due(given_state, NOW) == expected


# --- properties -----------------------------------------------------------------------


def apply(given: ModelState, actions: Sequence[Action]) -> ModelState:
    """What the applier's actions do to the state (a model of it, for the properties)."""
    apps = {a.id: a for a in given.applications}
    units = {u.id: u for u in given.units}
    machines = {m.number: m for m in given.machines}
    relations = {r.id: r for r in given.relations.relations}
    endpoints = list(given.relations.endpoints)
    in_flight = set(given.in_flight)
    gone: set[int] = set()
    for action in actions:
        match action:
            case KillApplication(record):
                apps[record.id] = dataclasses.replace(apps[record.id], life="dying")
            case KillRelation(record):
                relations[record.id] = dataclasses.replace(record, life="dying")
            case KillUnit(record):
                units[record.id] = dataclasses.replace(record, life="dying")
            case DeleteRelations(ids):
                gone |= set(ids)
            case DeleteApplication(record, peers):
                gone |= set(peers)
                del apps[record.id]
            case AssignMachine(record):
                number = max([*machines, -1]) + 1
                machines[number] = machine(number)
                units[record.id] = dataclasses.replace(record, machine_number=number)
            case ChangeLeader(record, leader):
                expiry = None if leader is None else NOW + LEASE
                apps[record.id] = dataclasses.replace(record, leader=leader, lease_expiry=expiry)
            case Provision(record):
                in_flight.add(record.number)
            case Release(record):
                del machines[record.number]
            case DeleteModel() | Publish():
                pass  # neither changes the rows the planners read
    return dataclasses.replace(
        given,
        applications=tuple(apps.values()),
        units=tuple(units.values()),
        machines=tuple(machines.values()),
        relations=_plan.RelationState(
            tuple(r for r in relations.values() if r.id not in gone),
            tuple(e for e in endpoints if e.relation_id not in gone),
            given.relations.scopes,
        ),
        in_flight=frozenset(in_flight),
    )


LIVES = st.sampled_from(["alive", "dying"])


@st.composite
def model_states(draw: st.DrawFn) -> ModelState:
    apps = [app(i, draw(LIVES)) for i in range(1, draw(st.integers(1, 3)) + 1)]
    app_ids = [a.id for a in apps]
    machine_numbers = draw(st.lists(st.integers(0, 5), unique=True, max_size=4))
    units = []
    for i, app_id in enumerate(draw(st.lists(st.sampled_from(app_ids), max_size=6))):
        placed = draw(st.one_of(st.none(), st.sampled_from(machine_numbers or [None])))
        units.append(unit(app_id, i, draw(LIVES), placed))
    leaders = {
        a.id: draw(st.one_of(st.none(), st.sampled_from([u.name for u in units] or [None])))
        for a in apps
    }
    apps = [
        dataclasses.replace(
            a, leader=leaders[a.id], lease_expiry=draw(st.sampled_from([None, NOW - 1, NOW + 9]))
        )
        for a in apps
    ]
    machines = [
        machine(
            n,
            enlistment=draw(st.sampled_from([None, {"host": "h"}])),
            kept=draw(st.booleans()),
            status=draw(st.sampled_from(["pending", "error", "started"])),
            retry_at=draw(st.sampled_from([None, NOW - 1, NOW + 9])),
        )
        for n in machine_numbers
    ]
    relations, endpoints = [], []
    for rel_id in range(draw(st.integers(0, 3))):
        relations.append(relation(rel_id, draw(LIVES)))
        for app_id in draw(st.lists(st.sampled_from(app_ids), min_size=1, max_size=2, unique=True)):
            endpoints.append(endpoint(rel_id, app_id))
    return state(
        apps=apps,
        units=units,
        machines=machines,
        relations=relations,
        endpoints=endpoints,
        model_life=draw(LIVES),
        running=frozenset(draw(st.lists(st.sampled_from(machine_numbers or [0])))),
        in_flight=frozenset(draw(st.lists(st.sampled_from(machine_numbers or [0])))),
    )


@given(model_states())
def test_lifecycle_settles(given: ModelState) -> None:
    """A few applications of the lifecycle plan reach a state with nothing left to do."""
    current = given
    for _ in range(4):
        actions = _planners.plan_lifecycle(current, NOW)
        if not actions:
            break
        current = apply(current, actions)
    assert _planners.plan_lifecycle(current, NOW) == []


@given(model_states())
def test_assignment_and_leadership_are_idempotent(given: ModelState) -> None:
    for planner in (_planners.plan_assignment, _planners.plan_leadership):
        after = apply(given, planner(given, NOW))
        assert planner(after, NOW) == []


@given(model_states())
def test_never_two_leaders_and_leaders_are_alive_units(given: ModelState) -> None:
    actions = _planners.plan_leadership(given, NOW)
    changed = [a.app.id for a in actions if isinstance(a, ChangeLeader)]
    assert len(changed) == len(set(changed))
    after = apply(given, actions)
    alive = {u.name: u.application_id for u in after.units if u.life == "alive"}
    for application in after.applications:
        if application.leader is not None and application.life == "alive":
            assert alive.get(application.leader) == application.id


@given(model_states())
def test_a_machine_is_never_both_made_and_released(given: ModelState) -> None:
    actions = _provisioning.plan_provisioning(given, NOW)
    made = [a.machine.number for a in actions if isinstance(a, Provision)]
    released = [a.machine.number for a in actions if isinstance(a, Release)]
    assert not set(made) & set(released)
    assert len(made) == len(set(made))
    assert not set(made) & given.in_flight
    again = _provisioning.plan_provisioning(apply(given, actions), NOW)
    assert [a for a in again if isinstance(a, Provision | Release)] == []


def test_digest_ignores_revision_and_report_numbers_only() -> None:
    unit_state = bus.UnitRemoteState(
        unit="app/0",
        application="app",
        charm=bus.CharmRef(sha256="c1", name="app"),
        config_hash="h1",
    )
    snapshot = bus.MachineSnapshot(
        revision=3, model_name="m", model_uuid="m", machine_id="0", units=(unit_state,)
    )
    digest = _plan.snapshot_digest(snapshot)
    reported = unit_state.model_copy(update={"report_seq": 9})
    same = snapshot.model_copy(update={"revision": 4, "units": (reported,)})
    assert _plan.snapshot_digest(same) == digest
    for changed in (
        unit_state.model_copy(update={"commit_seq": 1}),
        unit_state.model_copy(update={"config_hash": "h2"}),
    ):
        other = snapshot.model_copy(update={"units": (changed,)})
        assert _plan.snapshot_digest(other) != digest
