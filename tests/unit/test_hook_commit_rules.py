"""The rules of a hook commit, as tables: given the stored facts and a commit, the writes it
makes and the parts it refuses (docs/runtime-contract.md, "Hook commits")."""

from __future__ import annotations

from typing import Any

import pytest

from runecraft import errors
from runecraft.controller.services import _hook_commit as hc
from runecraft.controller.state import ActionRecord, ApplicationRecord, DatabagRecord, UnitRecord
from runecraft.schemas import bus
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import secrets as sec
from tests.unit import _records as records

MODEL = "00000000-0000-0000-0000-000000000001"
NOW = 1000.0
PEER, REL, OTHER = 0, 1, 2
ADDRESS = {"private-address": "10.0.0.1", "ingress-address": "10.0.0.1"}


def unit_record(name: str = "db/1", **fields: Any) -> UnitRecord:
    return records.unit(name, model_uuid=MODEL, machine_number=0, **fields)


def app_record(name: str = "db", leader: str | None = "db/0") -> ApplicationRecord:
    return records.app(name, model_uuid=MODEL, leader=leader)


def bag(relation: int, kind: str, owner: str, data: dict[str, str], version: int) -> DatabagRecord:
    return records.bag(relation, kind, owner, data, version, model_uuid=MODEL)


def facts(*, leader: bool = False, in_scope: tuple[int, ...] = (), **fields: Any) -> hc.CommitFacts:
    """db/1 of db (db/0 leads unless `leader`); db is on PEER and REL, not on OTHER."""
    unit = fields.pop("unit", unit_record())
    return hc.CommitFacts(
        model_uuid=MODEL,
        unit=unit,
        app=app_record(leader=unit.name if leader else "db/0"),
        relations={
            PEER: frozenset({"db"}),
            REL: frozenset({"db", "web"}),
            OTHER: frozenset({"web", "cache"}),
        },
        in_scope=frozenset(in_scope),
        **fields,
    )


def commit(**fields: Any) -> bus.HookCommit:
    return bus.HookCommit(unit="db/1", seq=1, hook="test", **fields)


def writes(**fields: Any) -> dict[int, bus.RelationWrite]:
    return {REL: bus.RelationWrite(**fields)}


def plan(known: hc.CommitFacts, message: bus.HookCommit) -> tuple[list[Any], dict[str, type]]:
    """The writes before the unit update, and the refused parts with their error class."""
    result = hc.plan_commit(known, message, NOW)
    assert isinstance(result.writes[-1], hc.UpdateUnit)
    return list(result.writes[:-1]), {r.field: type(r.error) for r in result.refused}


@pytest.mark.parametrize(
    ("stored", "seq", "verdict"),
    [(3, 4, "apply"), (3, 3, "duplicate"), (3, 1, "duplicate"), (3, 5, "gap"), (0, 1, "apply")],
)
def test_only_the_next_commit_applies(stored: int, seq: int, verdict: str) -> None:
    assert hc.sequence_verdict(stored, seq) == verdict


SCOPE_CASES = [
    pytest.param(
        facts(address="10.0.0.1"),
        commit(scope={REL: "enter"}),
        [hc.EnterScope(REL), hc.SaveBag(bag(REL, "unit", "db/1", ADDRESS, 1), new=True)],
        {},
        id="enter seeds the unit bag with the machine address",
    ),
    pytest.param(
        facts(),
        commit(scope={REL: "enter"}),
        [hc.EnterScope(REL)],
        {},
        id="enter without an address writes no bag",
    ),
    pytest.param(
        facts(in_scope=(REL,), address="10.0.0.1"),
        commit(scope={REL: "enter"}),
        [],
        {},
        id="enter when in scope changes nothing",
    ),
    pytest.param(
        facts(in_scope=(REL,)), commit(scope={REL: "leave"}), [hc.LeaveScope(REL)], {}, id="leave"
    ),
    pytest.param(facts(), commit(scope={REL: "leave"}), [], {}, id="leave when out of scope"),
    pytest.param(
        facts(),
        commit(scope={OTHER: "enter"}),
        [],
        {f"scope[{OTHER}]": errors.NotFoundError},
        id="scope of a relation the application is not on",
    ),
    pytest.param(
        facts(in_scope=(REL,)),
        commit(relations=writes(unit={"a": "1"})),
        [hc.SaveBag(bag(REL, "unit", "db/1", {"a": "1"}, 1), new=True)],
        {},
        id="unit bag write in scope",
    ),
    pytest.param(
        facts(
            in_scope=(REL,),
            bags={(REL, "unit", "db/1"): bag(REL, "unit", "db/1", {"a": "1", "b": "2"}, 4)},
        ),
        commit(relations=writes(unit={"a": "9", "b": ""})),
        [hc.SaveBag(bag(REL, "unit", "db/1", {"a": "9"}, 5), new=False)],
        {},
        id="merge: a value replaces, empty deletes, version moves by one",
    ),
    pytest.param(
        facts(
            in_scope=(REL,), bags={(REL, "unit", "db/1"): bag(REL, "unit", "db/1", {"a": "1"}, 4)}
        ),
        commit(relations=writes(unit={"a": "1"})),
        [],
        {},
        id="a write that changes nothing keeps the version",
    ),
    pytest.param(
        facts(),
        commit(relations=writes(unit={"a": "1"})),
        [],
        {f"relations[{REL}]": errors.NotFoundError},
        id="write outside scope",
    ),
    pytest.param(
        facts(address="10.0.0.1"),
        commit(scope={REL: "enter"}, relations=writes(unit={"a": "1"})),
        [
            hc.EnterScope(REL),
            hc.SaveBag(bag(REL, "unit", "db/1", ADDRESS, 1), new=True),
            hc.SaveBag(bag(REL, "unit", "db/1", {**ADDRESS, "a": "1"}, 2), new=False),
        ],
        {},
        id="writes in the commit that enters count",
    ),
    pytest.param(
        facts(in_scope=(REL,)),
        commit(scope={REL: "leave"}, relations=writes(unit={"a": "1"})),
        [hc.LeaveScope(REL)],
        {f"relations[{REL}]": errors.NotFoundError},
        id="writes in the commit that leaves are dropped",
    ),
    pytest.param(
        facts(in_scope=(REL,), leader=True),
        commit(relations=writes(app={"k": "v"})),
        [hc.SaveBag(bag(REL, "app", "db", {"k": "v"}, 1), new=True)],
        {},
        id="the leader writes the application bag",
    ),
    pytest.param(
        facts(in_scope=(REL,)),
        commit(relations=writes(unit={"a": "1"}, app={"k": "v"})),
        [hc.SaveBag(bag(REL, "unit", "db/1", {"a": "1"}, 1), new=True)],
        {f"relations[{REL}].app": errors.PermissionDeniedError},
        id="a non-leader's application bag write is refused, its unit write kept",
    ),
]


@pytest.mark.parametrize(("known", "message", "expected", "refused"), SCOPE_CASES)
def test_scopes_and_relation_writes(
    known: hc.CommitFacts,
    message: bus.HookCommit,
    expected: list[Any],
    refused: dict[str, type],
) -> None:
    assert plan(known, message) == (expected, refused)


@pytest.mark.parametrize(
    ("state", "ports", "message", "expected"),
    [
        ({}, [], commit(), {}),
        ({"a": "1"}, [], commit(state_set={"b": "2"}), {"charm_state": {"a": "1", "b": "2"}}),
        ({"a": "1"}, [], commit(state_set={"a": ""}), {"charm_state": {}}),
        ({"a": "1"}, [], commit(state_delete=("a", "missing")), {"charm_state": {}}),
        ({"a": "1"}, [], commit(state_set={"a": "1"}), {}),
        (
            {},
            ["80/tcp"],
            commit(opened_ports=("443/tcp",)),
            {"opened_ports": ["443/tcp", "80/tcp"]},
        ),
        ({}, ["80/tcp"], commit(opened_ports=("80/tcp",)), {}),
        ({}, ["80/tcp", "53/udp"], commit(closed_ports=("80/tcp",)), {"opened_ports": ["53/udp"]}),
        ({}, [], commit(opened_ports=("80/tcp",), closed_ports=("80/tcp",)), {}),
        ({}, ["8080/tcp@db"], commit(closed_ports=("8080/tcp",)), {}),
    ],
    ids=[
        "nothing but the seq",
        "state set",
        "state set empty deletes",
        "state delete",
        "same state is no change",
        "open a port",
        "open an open port",
        "close a port",
        "opened and closed in one commit ends closed",
        "a port on an endpoint is its own port",
    ],
)
def test_charm_state_and_ports(
    state: dict[str, str], ports: list[str], message: bus.HookCommit, expected: dict[str, Any]
) -> None:
    unit = unit_record(charm_state=state, opened_ports=ports, commit_seq=0)
    assert hc.unit_values(unit, message) == {"commit_seq": 1, **expected}
    result = hc.plan_commit(facts(unit=unit), message, NOW)
    assert result.writes[-1] == hc.UpdateUnit({"commit_seq": 1, **expected})


def action(status: str = "pending", **fields: Any) -> ActionRecord:
    return records.action(3, status, model_uuid=MODEL, unit="db/1", enqueued=1.0, **fields)


DONE = {"status": "completed", "message": "", "results": {"r": 1}, "completed": NOW}


@pytest.mark.parametrize(
    ("row", "outcome", "expected", "refused"),
    [
        pytest.param(
            action(),
            bus.ActionOutcome(id="3", status="completed", results={"r": 1}),
            [hc.FinishAction(3, {**DONE, "started": NOW})],
            {},
            id="a pending action finishes, started now",
        ),
        pytest.param(
            action("running", started=5.0),
            bus.ActionOutcome(id="3", status="completed", results={"r": 1}),
            [hc.FinishAction(3, {**DONE, "started": 5.0})],
            {},
            id="a running action keeps its start",
        ),
        pytest.param(
            action("running", started=5.0, log=[{"timestamp": 6.0, "message": "one"}]),
            bus.ActionOutcome(id="3", status="completed", results={"r": 1}, log=("one", "two")),
            [
                hc.FinishAction(
                    3,
                    {
                        **DONE,
                        "started": 5.0,
                        "log": [
                            {"timestamp": 6.0, "message": "one"},
                            {"timestamp": NOW, "message": "two"},
                        ],
                    },
                )
            ],
            {},
            id="the outcome's log replaces the logged lines, keeping their times",
        ),
        pytest.param(
            None,
            bus.ActionOutcome(id="3", status="failed"),
            [],
            {"action": errors.NotFoundError},
            id="an unknown action",
        ),
        pytest.param(
            action("completed"),
            bus.ActionOutcome(id="3", status="failed"),
            [],
            {"action": errors.ConflictError},
            id="a finished action",
        ),
    ],
)
def test_action_outcome(
    row: ActionRecord | None,
    outcome: bus.ActionOutcome,
    expected: list[Any],
    refused: dict[str, type],
) -> None:
    assert plan(facts(action=row), commit(action=outcome)) == (expected, refused)


def spec(**fields: Any) -> charm_schema.StorageSpec:
    return charm_schema.StorageSpec.model_validate({"type": "filesystem", **fields})


STORAGE = hc.StorageFacts(
    declared={
        "data": spec(multiple={"range": "0-3"}),
        "cache": spec(type="block", multiple={"range": "1-"}),
        "one": spec(),
    },
    have={"data": 2, "one": 1},
    directives={"data": (2, 2048)},
)


@pytest.mark.parametrize(
    ("wanted", "expected", "refused"),
    [
        pytest.param(
            {"data": 1},
            [hc.AddStorage("data", 1, "filesystem", 2048)],
            {},
            id="within range, directive size",
        ),
        pytest.param(
            {"cache": 5},
            [hc.AddStorage("cache", 5, "block", 1024)],
            {},
            id="unbounded, default size",
        ),
        pytest.param(
            {"data": 2}, [], {"storage_add[data]": errors.InvalidSpecError}, id="past the range"
        ),
        pytest.param(
            {"one": 1}, [], {"storage_add[one]": errors.InvalidSpecError}, id="a singleton"
        ),
        pytest.param(
            {"nope": 1}, [], {"storage_add[nope]": errors.InvalidSpecError}, id="not declared"
        ),
        pytest.param(
            {"nope": 1, "data": 1},
            [hc.AddStorage("data", 1, "filesystem", 2048)],
            {"storage_add[nope]": errors.InvalidSpecError},
            id="a refused name does not hold the others back",
        ),
    ],
)
def test_storage_add(wanted: dict[str, int], expected: list[Any], refused: dict[str, type]) -> None:
    assert plan(facts(storage=STORAGE), commit(storage_add=wanted)) == (expected, refused)


def test_effects_come_in_the_contract_order() -> None:
    """Scope, relation writes, secrets, storage, the action, then the unit."""
    known = facts(leader=True, address="10.0.0.1", storage=STORAGE, action=action())
    message = commit(
        scope={REL: "enter"},
        relations=writes(unit={"a": "1"}),
        secrets=(sec.SecretOp(op="add", id="c0ffee00000000000001", content={"key": "v"}),),
        storage_add={"data": 1},
        action=bus.ActionOutcome(id="3", status="completed"),
    )
    kinds = [type(w).__name__ for w in hc.plan_commit(known, message, NOW).writes]
    assert kinds == [
        "EnterScope",
        "SaveBag",
        "SaveBag",
        "InsertSecret",
        "AddStorage",
        "FinishAction",
        "UpdateUnit",
    ]


def test_refusals_name_the_part_and_change_nothing_else() -> None:
    known = facts(in_scope=(REL,))
    result = hc.plan_commit(known, commit(relations=writes(app={"k": "v"})), NOW)
    [refusal] = result.refused
    assert refusal.field == f"relations[{REL}].app"
    assert "db/1" in refusal.error.message
    assert list(result.writes) == [hc.UpdateUnit({"commit_seq": 1})]
