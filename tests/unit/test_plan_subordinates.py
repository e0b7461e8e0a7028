"""Subordinates as pure planning: one unit of a related subordinate beside every principal
unit, gone with its principal or the container-scoped relation (`_plan.subordinate_changes`,
`_planners.plan_subordinates`); and a container-scoped relation shows a unit only its own
principal or subordinate (`_plan.relation_views`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from runecraft.controller.reconcilers import _plan, _planners
from runecraft.controller.reconcilers._actions import AddSubordinates, KillUnit, ModelState
from runecraft.controller.state import EndpointRecord, RelationRecord, ScopeRecord, UnitRecord
from tests.unit import _records as records

WEB = records.app("web", id=1)
LOG = records.app("log", id=2, leader="log/0")
MON = records.app("mon", id=3)
SUBS = frozenset({"log", "mon"})
CONTAINER = 7


def unit(name: str, machine: int | None, principal: str | None = None, **values: Any) -> UnitRecord:
    app = {"web": WEB, "log": LOG, "mon": MON}[name.split("/", maxsplit=1)[0]]
    return records.unit(
        name, application_id=app.id, machine_number=machine, principal=principal, **values
    )


def container_relation(
    life: str = "alive", sub: str = "log", principal: str = "web", rel_id: int = CONTAINER
) -> tuple[RelationRecord, list[EndpointRecord]]:
    return (
        records.relation(rel_id, f"{sub}:juju-info {principal}:juju-info", life),
        [
            records.endpoint(
                rel_id, sub, "juju-info", role="requirer", interface="juju-info", scope="container"
            ),
            records.endpoint(
                rel_id,
                principal,
                "juju-info",
                role="provider",
                interface="juju-info",
                scope="container",
            ),
        ],
    )


def rows(*relations: tuple[RelationRecord, list[EndpointRecord]]) -> _plan.RelationState:
    return _plan.RelationState(
        tuple(r for r, _ in relations), tuple(e for _, eps in relations for e in eps)
    )


def changes(
    units: list[UnitRecord],
    relations: _plan.RelationState,
    apps: tuple[Any, ...] = (WEB, LOG, MON),
) -> tuple[dict[str, list[str]], list[str]]:
    found = _plan.subordinate_changes(apps, units, relations, SUBS)
    add = {
        next(a.name for a in apps if a.id == app_id): [u.name for u in principals]
        for app_id, principals in found.add.items()
    }
    return add, sorted(u.name for u in found.kill)


WEB_UNITS = [unit("web/0", 0), unit("web/1", 1), unit("web/2", 2)]


@pytest.mark.parametrize(
    ("units", "relations", "apps", "expected"),
    [
        pytest.param(WEB_UNITS, rows(), (WEB, LOG), ({}, []), id="not-related-nothing-to-do"),
        pytest.param(
            WEB_UNITS,
            rows(container_relation()),
            (WEB, LOG),
            ({"log": ["web/0", "web/1", "web/2"]}, []),
            id="related-one-beside-each-principal",
        ),
        pytest.param(
            [*WEB_UNITS, unit("log/0", 0, "web/0"), unit("log/1", 1, "web/1")],
            rows(container_relation()),
            (WEB, LOG),
            ({"log": ["web/2"]}, []),
            id="added-principal-unit-gets-one",
        ),
        pytest.param(
            [unit("web/0", 0), unit("web/1", None)],
            rows(container_relation()),
            (WEB, LOG),
            ({"log": ["web/0"]}, []),
            id="principal-without-machine-waits",
        ),
        pytest.param(
            [unit("web/0", 0), unit("web/1", 1, life="dying"), unit("log/1", 1, "web/1")],
            rows(container_relation()),
            (WEB, LOG),
            ({"log": ["web/0"]}, ["log/1"]),
            id="dying-principal-takes-its-subordinate",
        ),
        pytest.param(
            [unit("web/0", 0), unit("log/3", 0, "web/0", life="dying")],
            rows(container_relation()),
            (WEB, LOG),
            ({}, []),
            id="a-leaving-subordinate-is-not-doubled",
        ),
        pytest.param(
            [unit("log/0", 0, "web/0")],
            rows(container_relation()),
            (WEB, LOG),
            ({}, ["log/0"]),
            id="principal-gone",
        ),
        pytest.param(
            [*WEB_UNITS[:2], unit("log/0", 0, "web/0"), unit("log/1", 1, "web/1")],
            rows(container_relation("dying")),
            (WEB, LOG),
            ({}, ["log/0", "log/1"]),
            id="relation-removed",
        ),
        pytest.param(
            [*WEB_UNITS[:1], unit("log/0", 0, "web/0")],
            rows(container_relation()),
            (WEB, dataclasses.replace(LOG, life="dying")),
            ({}, ["log/0"]),
            id="subordinate-application-removed",
        ),
        pytest.param(
            [*WEB_UNITS[:2], unit("log/0", 0, "web/0")],
            rows(container_relation(), container_relation(sub="mon", rel_id=8)),
            (WEB, LOG, MON),
            ({"log": ["web/1"], "mon": ["web/0", "web/1"]}, []),
            id="two-subordinates-on-one-principal",
        ),
        pytest.param(
            [unit("log/0", 0, "web/0")],
            rows(container_relation(sub="mon", principal="log")),
            (WEB, LOG, MON),
            ({}, ["log/0"]),
            id="no-subordinate-of-a-subordinate",
        ),
    ],
)
def test_subordinate_changes(
    units: list[UnitRecord],
    relations: _plan.RelationState,
    apps: tuple[Any, ...],
    expected: tuple[dict[str, list[str]], list[str]],
) -> None:
    assert changes(units, relations, apps) == expected


def test_a_global_relation_makes_no_subordinate() -> None:
    relation, endpoints = container_relation()
    plain = rows((relation, [dataclasses.replace(e, scope="global") for e in endpoints]))
    assert changes(WEB_UNITS, plain) == ({}, [])


def test_the_planner_adds_per_application_and_kills_the_orphans() -> None:
    state = ModelState(
        model=records.model(),
        applications=(WEB, LOG),
        units=(unit("web/0", 0), unit("web/1", 1), unit("log/5", 4, "web/9")),
        relations=rows(container_relation()),
        subordinates=SUBS,
    )
    actions = _planners.plan_subordinates(state, 0.0)
    assert actions[0] == KillUnit(state.units[2])
    assert actions[1] == AddSubordinates(LOG, (state.units[0], state.units[1]))
    assert _planners.plan_writes(state, 0.0) == actions


def test_the_model_state_knows_its_subordinate_applications() -> None:
    from runecraft.controller.state import ModelSnapshot  # noqa: PLC0415

    sub_charm = records.charm(sha256="s" * 64, meta={"name": "log", "subordinate": True})
    plain = records.charm(sha256="p" * 64, meta={"name": "web"})
    snapshot = ModelSnapshot(
        models=[records.model()],
        applications=[
            dataclasses.replace(WEB, charm_sha256=plain.sha256),
            dataclasses.replace(LOG, charm_sha256=sub_charm.sha256),
        ],
        units=[],
        machines=[],
        charms={plain.sha256: plain, sub_charm.sha256: sub_charm},
    )
    assert ModelState.of(snapshot).subordinates == {"log"}


# --- container scope ------------------------------------------------------------------


def view_units(name: str, units: list[UnitRecord]) -> dict[str, int]:
    relation, endpoints = container_relation()
    state = _plan.RelationState(
        (relation,),
        tuple(endpoints),
        tuple(ScopeRecord("m", CONTAINER, u.name) for u in units),
    )
    me = next(u for u in units if u.name == name)
    owner = WEB if me.application == "web" else LOG
    (view,) = _plan.relation_views(me, owner, _plan.RelationIndex(state, units), "m")
    return dict(view.units)


SHARED = [
    unit("web/0", 0),
    unit("web/1", 0),  # placed on the same machine
    unit("log/0", 0, "web/0"),
    unit("log/1", 0, "web/1"),
]


@pytest.mark.parametrize(
    ("name", "sees"),
    [
        pytest.param("log/0", ["web/0"], id="subordinate-sees-its-principal"),
        pytest.param("log/1", ["web/1"], id="other-subordinate-on-the-same-machine"),
        pytest.param("web/0", ["log/0"], id="principal-sees-its-subordinate"),
        pytest.param("web/1", ["log/1"], id="other-principal-on-the-same-machine"),
    ],
)
def test_container_scope_pairs_a_subordinate_with_its_principal_only(
    name: str, sees: list[str]
) -> None:
    assert sorted(view_units(name, SHARED)) == sees


def test_a_subordinate_unit_carries_its_principal_to_its_agent() -> None:
    model = records.model()
    charm = records.charm()
    units = [unit("web/0", 0), unit("log/0", 0, "web/0")]
    snapshots = _plan.machine_snapshots(
        model,
        [
            dataclasses.replace(WEB, charm_sha256=charm.sha256),
            dataclasses.replace(LOG, charm_sha256=charm.sha256),
        ],
        units,
        [records.machine(0)],
        {charm.sha256: charm},
    )
    remote = {u.unit: u.principal for u in snapshots[0].units}
    assert remote == {"web/0": "", "log/0": "web/0"}


def test_a_principal_removed_with_force_takes_its_subordinate_with_force() -> None:
    forced = unit("web/0", 0, life="dying", force_removal=True, remove_after=50.0)
    leaving = unit("log/0", 0, "web/0", life="dying")
    alive = unit("log/1", 0, "web/0")
    state = ModelState(
        model=records.model(),
        applications=(WEB, LOG),
        units=(forced, leaving, alive),
        relations=rows(container_relation()),
        subordinates=SUBS,
    )
    actions = _planners.plan_subordinates(state, 0.0)
    assert sorted(actions, key=lambda a: a.unit.name) == [  # type: ignore[union-attr]
        KillUnit(leaving, 50.0),
        KillUnit(alive, 50.0),
    ]
    done = dataclasses.replace(leaving, force_removal=True, remove_after=50.0)
    assert _planners.plan_subordinates(dataclasses.replace(state, units=(forced, done)), 0.0) == []
