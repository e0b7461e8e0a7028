"""What each unit sees of its relations (pure planning), and relation garbage collection."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runecraft.controller.reconcilers import _plan
from runecraft.controller.state import (
    ActionRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ScopeRecord,
    UnitRecord,
)
from runecraft.schemas import bus
from tests.unit import _records as records
from tests.unit._records import relation

MODEL = records.model(
    config={
        "automatically-retry-hooks": False,
        "update-status-hook-interval": "5m",
        "hook-fork-server": False,
    }
)
CHARM = records.charm()


def unit(app_id: int, name: str, machine: int, life: str = "alive") -> UnitRecord:
    return records.unit(name, application_id=app_id, machine_number=machine, life=life)


def machine(number: int) -> MachineRecord:
    return records.machine(number, address=f"10.0.0.{number}")


def endpoint(
    relation: int, application: str, name: str, role: str, interface: str
) -> EndpointRecord:
    return records.endpoint(relation, application, name, role=role, interface=interface)


def bag(relation: int, kind: str, owner: str, version: int, **data: str) -> DatabagRecord:
    return records.bag(relation, kind, owner, data, version)


DB = records.app("db", id=1, leader="db/0")
WEB = records.app("web", id=2, leader="web/0")
UNITS = [
    unit(1, "db/0", 0),
    unit(1, "db/1", 1),
    unit(1, "db/2", 1, "dying"),
    unit(2, "web/0", 2),
    unit(2, "web/1", 2),
]
PEER, REGULAR = 0, 1
STATE = _plan.RelationState(
    relations=[relation(PEER, "db:ha"), relation(REGULAR, "web:db db:db")],
    endpoints=[
        endpoint(PEER, "db", "ha", "peer", "db-peers"),
        endpoint(REGULAR, "db", "db", "provider", "mysql"),
        endpoint(REGULAR, "web", "db", "requirer", "mysql"),
    ],
    scopes=[
        *(ScopeRecord("m", PEER, u) for u in ("db/0", "db/1", "db/2")),
        *(ScopeRecord("m", REGULAR, u) for u in ("db/0", "db/1", "db/2", "web/0")),
    ],
    databags=[
        bag(PEER, "app", "db", 7, peer="p"),
        bag(PEER, "unit", "db/0", 1, a="0"),
        bag(PEER, "unit", "db/1", 2, a="1"),
        bag(REGULAR, "unit", "db/0", 3, host="a"),
        bag(REGULAR, "unit", "db/1", 1, host="b"),
        bag(REGULAR, "unit", "db/2", 2, host="c"),
        bag(REGULAR, "unit", "db/9", 4, old="x"),
        bag(REGULAR, "app", "db", 2, pw="s"),
        bag(REGULAR, "app", "web", 1, want="x"),
        bag(REGULAR, "unit", "web/0", 5, me="w"),
    ],
)


def views(
    name: str, state: _plan.RelationState = STATE, units: list[UnitRecord] = UNITS
) -> dict[int, bus.RelationRemote]:
    me = next(u for u in units if u.name == name)
    owner = DB if me.application == "db" else WEB
    index = _plan.RelationIndex(state, units)
    return {v.id: v for v in _plan.relation_views(me, owner, index, "m")}


def test_requirer_leader_sees_remote_units_in_scope_and_alive_and_its_app_bag() -> None:
    view = views("web/0")[REGULAR]
    assert (view.endpoint, view.role, view.interface) == ("db", "requirer", "mysql")
    assert view.remote_application == "db"
    assert view.units == {"db/0": 3, "db/1": 1}
    assert set(view.unit_data) == {"db/0", "db/1", "db/2", "db/9"}  # departed ones kept
    assert view.unit_data["db/9"] == {"old": "x"}
    assert (view.app_data, view.app_version) == ({"pw": "s"}, 2)
    assert view.local_unit_data == {"me": "w"}
    assert view.local_app_data == {"want": "x"}
    assert view.remote_model_uuid == "m"
    assert PEER not in views("web/0")


def test_follower_does_not_see_its_own_app_bag_of_a_regular_relation() -> None:
    view = views("db/1")[REGULAR]
    assert view.role == "provider"
    assert view.units == {"web/0": 5}
    assert view.local_app_data is None
    assert view.app_data == {"want": "x"}
    assert views("db/0")[REGULAR].local_app_data == {"pw": "s"}


def test_unit_not_yet_in_scope_still_sees_an_alive_relation() -> None:
    view = views("web/1")[REGULAR]
    assert view.units == {"db/0": 3, "db/1": 1}
    assert view.local_unit_data == {}
    assert view.local_app_data is None


def test_peer_relation_shows_the_other_units_and_the_app_bag_to_everyone() -> None:
    view = views("db/1")[PEER]
    assert (view.role, view.remote_application) == ("peer", "db")
    assert view.units == {"db/0": 1}  # not itself, not the dying db/2
    assert view.app_data == {"peer": "p"} and view.app_version == 7
    assert view.local_app_data == {"peer": "p"}
    assert view.local_unit_data == {"a": "1"}
    assert set(view.unit_data) == {"db/0"}


def test_a_dying_unit_vanishes_from_others_but_still_sees_its_scopes() -> None:
    assert "db/2" not in views("db/0")[PEER].units
    assert "db/2" not in views("web/0")[REGULAR].units
    dying = views("db/2")
    assert dying[PEER].units == {"db/0": 1, "db/1": 2}
    assert dying[REGULAR].units == {"web/0": 5}


def test_a_dying_unit_out_of_scope_sees_nothing() -> None:
    units = [*UNITS[:4], unit(2, "web/1", 2, "dying")]
    assert views("web/1", units=units) == {}


def test_a_dying_relation_is_seen_only_by_units_in_its_scope() -> None:
    state = dataclasses.replace(
        STATE, relations=[relation(PEER, "db:ha"), relation(REGULAR, "web:db db:db", "dying")]
    )
    assert views("web/0", state)[REGULAR].life == "dying"
    assert REGULAR not in views("web/1", state)


def test_container_scope_limits_remote_units_to_the_same_machine() -> None:
    state = dataclasses.replace(
        STATE,
        endpoints=[
            dataclasses.replace(e, scope="container") if e.relation_id == REGULAR else e
            for e in STATE.endpoints
        ],
    )
    units = [*UNITS[:3], unit(2, "web/0", 1), unit(2, "web/1", 2)]
    assert views("web/0", state, units)[REGULAR].units == {"db/1": 1}


def test_machine_snapshot_carries_the_runtime_fields() -> None:
    db = dataclasses.replace(DB, leader_settings={"k": "v"}, leader_settings_version=4)
    units = [
        dataclasses.replace(
            UNITS[0],
            commit_seq=12,
            charm_state={"s": "1"},
            resolved="no-retry",
            resolved_seq=3,
        ),
        UNITS[1],
    ]

    def action(number: int, status: str, unit_name: str = "db/0") -> ActionRecord:
        return records.action(number, status, unit=unit_name, params={"n": number})

    actions = [
        action(5, "running"),
        action(2, "pending"),
        action(3, "completed"),
        action(4, "pending", "db/1"),
    ]
    snapshots = _plan.machine_snapshots(
        MODEL, [db, WEB], units, [machine(0), machine(1)], {CHARM.sha256: CHARM}, STATE, actions
    )
    (first,) = snapshots[0].units
    assert first.commit_seq == 12
    assert (first.leader_settings, first.leader_settings_version) == ({"k": "v"}, 4)
    assert first.state == {"s": "1"}
    assert [(a.id, a.params) for a in first.actions] == [("2", {"n": 2}), ("5", {"n": 5})]
    assert (first.resolved, first.resolved_seq) == ("no-retry", 3)
    assert first.private_address == "10.0.0.0"
    assert first.retry_hooks is False
    assert first.fork_hooks is False
    assert {r.id for r in first.relations} == {PEER, REGULAR}
    (second,) = snapshots[1].units
    assert [a.id for a in second.actions] == ["4"]
    assert second.private_address == "10.0.0.1"


def test_dead_relations_are_dying_ones_nobody_is_in_scope_of() -> None:
    state = _plan.RelationState(
        relations=[relation(0, "a"), relation(1, "b", "dying"), relation(2, "c", "dying")],
        scopes=[ScopeRecord("m", 2, "x/0"), ScopeRecord("m", 0, "x/0")],
    )
    assert _plan.dead_relations(state) == [1]


def test_an_application_goes_once_no_unit_and_no_relation_with_another_is_left() -> None:
    dying_db = dataclasses.replace(DB, life="dying")
    dying_web = dataclasses.replace(WEB, life="dying")
    only_peer = dataclasses.replace(
        STATE, relations=[relation(PEER, "db:ha")], endpoints=STATE.endpoints[:1]
    )
    assert _plan.deletable_applications([dying_db], [], only_peer) == [dying_db]
    assert _plan.deletable_applications([dying_db], UNITS, only_peer) == []
    assert _plan.deletable_applications([dying_db, dying_web], [], STATE) == []
    assert _plan.deletable_applications([DB], [], only_peer) == []
    assert _plan.deletable_applications([DB], [], only_peer, model_dying=True) == [DB]


def test_relations_of_a_dying_application_die_with_it_but_not_peers() -> None:
    dying_web = dataclasses.replace(WEB, life="dying")
    assert [r.id for r in _plan.doomed_relations([DB, dying_web], STATE)] == [REGULAR]
    assert [r.id for r in _plan.doomed_relations([DB, WEB], STATE)] == []
    assert [r.id for r in _plan.doomed_relations([DB, WEB], STATE, model_dying=True)] == [REGULAR]


@given(
    lives=st.lists(st.sampled_from(["alive", "dying"]), min_size=1, max_size=5),
    scoped=st.lists(st.booleans(), min_size=5, max_size=5),
    leader=st.integers(0, 4),
    relation_life=st.sampled_from(["alive", "dying"]),
)
def test_views_never_show_a_unit_itself_or_an_absent_or_dying_member(
    lives: list[str], scoped: list[bool], leader: int, relation_life: str
) -> None:
    units = [unit(1, f"db/{i}", i, life) for i, life in enumerate(lives)]
    owner = dataclasses.replace(DB, leader=f"db/{leader}")
    state = _plan.RelationState(
        relations=[relation(PEER, "db:ha", relation_life)],
        endpoints=[endpoint(PEER, "db", "ha", "peer", "db-peers")],
        scopes=[ScopeRecord("m", PEER, u.name) for u, s in zip(units, scoped, strict=False) if s],
        databags=[bag(PEER, "unit", u.name, i + 1) for i, u in enumerate(units)],
    )
    index = _plan.RelationIndex(state, units)
    in_scope = {s.unit for s in state.scopes}
    for me in units:
        seen = _plan.relation_views(me, owner, index)
        if me.name not in in_scope and (me.life != "alive" or relation_life != "alive"):
            assert seen == ()
            continue
        (view,) = seen
        assert me.name not in view.units
        for member in view.units:
            other = next(u for u in units if u.name == member)
            assert other.life == "alive" and member in in_scope
        assert view.local_app_data is not None  # peers read the app bag, leader or not


@pytest.mark.parametrize("leader", ["web/0", "web/1", None])
def test_only_the_leader_reads_its_regular_app_bag(leader: str | None) -> None:
    owner = dataclasses.replace(WEB, leader=leader)
    index = _plan.RelationIndex(STATE, UNITS)
    for name in ("web/0", "web/1"):
        me = next(u for u in UNITS if u.name == name)
        (view,) = _plan.relation_views(me, owner, index)
        assert (view.local_app_data is not None) == (leader == name)
