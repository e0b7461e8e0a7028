"""Kept unit states: what a pass sends each machine equals a fresh build after any change of
the rows a snapshot is built from, and a pass builds again only the units whose rows moved."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

from runecraft.controller import state
from runecraft.controller.reconcilers import _plan
from runecraft.controller.reconcilers._unit_states import KeptUnitStates
from runecraft.schemas import bus
from tests.unit import _records as records

OTHER_CHARM = records.charm(sha256="d" * 64, name="d", config={"options": {"x": {"type": "int"}}})
CHARMS = {c.sha256: c for c in (records.charm(), OTHER_CHARM)}


@dataclass
class World:
    """The rows of one model that snapshots are built from."""

    model: state.ModelRecord = field(default_factory=records.model)
    apps: list[state.ApplicationRecord] = field(
        default_factory=lambda: [records.app("app1"), records.app("app2", id=2)]
    )
    units: list[state.UnitRecord] = field(default_factory=list)
    machines: list[state.MachineRecord] = field(default_factory=list)
    relations: _plan.RelationState = field(default_factory=_plan.RelationState)
    actions: list[state.ActionRecord] = field(default_factory=list)

    def rows(self) -> tuple[Any, ...]:
        return (
            self.model,
            self.apps,
            self.units,
            self.machines,
            CHARMS,
            self.relations,
            self.actions,
        )


def world(machines: int, units_per_machine: int) -> World:
    w = World(machines=[records.machine(n, address=f"10.0.0.{n}") for n in range(machines)])
    for n in range(machines * units_per_machine):
        app = w.apps[n % 2]
        w.units.append(
            records.unit(
                f"{app.name}/{n}", id=n + 1, application_id=app.id, machine_number=n % machines
            )
        )
    peer = records.endpoint(1, "app1", "cluster", role="peer")
    w.relations = _plan.RelationState(
        relations=[records.relation(1, "app1:cluster"), records.relation(2, "app1:db app2:db")],
        endpoints=[peer, records.endpoint(2, "app1", "db"), records.endpoint(2, "app2", "db")],
        scopes=[state.ScopeRecord(records.MODEL_UUID, 1, u.name) for u in w.units[::2]],
        databags=[records.bag(1, "unit", w.units[0].name, {"k": "v"}, 1)],
    )
    return w


def fresh(w: World) -> tuple[dict[int, bus.MachineSnapshot], dict[int, str]]:
    snapshots = _plan.machine_snapshots(*w.rows())
    return snapshots, {n: _plan.snapshot_digest(s) for n, s in snapshots.items()}


def _replace_at(rows: list[Any], rng: random.Random, **changes: Any) -> None:
    i = rng.randrange(len(rows))
    rows[i] = dataclasses.replace(rows[i], **changes)


def change(w: World, rng: random.Random, step: int) -> None:
    """One random change of the kind a pass sees between two others."""
    unit = rng.choice(w.units)
    match rng.randrange(14):
        case 0:
            _replace_at(w.units, rng, report_seq=step, workload_status="active")
        case 1:
            _replace_at(w.units, rng, charm_state={"k": str(step)})
        case 2:
            _replace_at(w.apps, rng, config={"greeting": str(step)})
        case 3:
            _replace_at(w.apps, rng, leader=unit.name, status_seq=step)
        case 4:
            w.model = dataclasses.replace(
                w.model, config={"update-status-hook-interval": f"{step}s"}
            )
        case 5:
            _replace_at(w.machines, rng, address=f"10.1.0.{step % 250}")
        case 6:
            w.actions.append(records.action(step, unit=unit.name))
        case 7:
            if w.actions:
                w.actions.pop(rng.randrange(len(w.actions)))
        case 8:
            bags = [records.bag(1, "unit", unit.name, {"k": str(step)}, step)]
            w.relations = dataclasses.replace(w.relations, databags=bags)
        case 9:
            _replace_at(w.units, rng, life="dying")
        case 10:
            machine = rng.choice(w.machines).number
            w.units.append(
                records.unit(f"app2/{1000 + step}", id=1000 + step, application_id=2,
                             machine_number=machine)
            )  # fmt: skip
        case 11:
            w.units.remove(unit)
        case 12:
            _replace_at(w.apps, rng, charm_sha256=rng.choice(list(CHARMS)))
        case _:
            _replace_at(w.units, rng, resolved="retry", resolved_seq=step)
    w.model = dataclasses.replace(w.model, revision=w.model.revision + 1)


@pytest.mark.parametrize("seed", range(4))
def test_what_is_kept_equals_a_fresh_build_after_random_changes(seed: int) -> None:
    rng = random.Random(seed)
    w = world(machines=3, units_per_machine=4)
    kept = KeptUnitStates()
    for step in range(1, 300):
        assert kept.machine_snapshots(*w.rows()) == fresh(w), f"step {step}"
        change(w, rng, step)
        if rng.random() < 0.2:  # and sometimes two between passes
            change(w, rng, step + 1000)


def test_a_pass_after_one_report_builds_only_that_unit() -> None:
    w = world(machines=10, units_per_machine=10)
    kept = KeptUnitStates()
    first = kept.machine_snapshots(*w.rows())
    assert kept.built == 100
    assert kept.machine_snapshots(*w.rows()) == first  # nothing moved: nothing built
    assert kept.built == 100

    w.units[37] = dataclasses.replace(w.units[37], report_seq=5)
    w.model = dataclasses.replace(w.model, revision=2)
    snapshots, digests = kept.machine_snapshots(*w.rows())
    assert kept.built == 101
    assert (snapshots, digests) == fresh(w)
    assert digests == first[1]  # the report number is no news to the agents

    w.model = dataclasses.replace(w.model, config={"logging-config": "<root>=DEBUG"})
    assert kept.machine_snapshots(*w.rows()) == fresh(w)
    assert kept.built == 201  # what every unit shares moved: every unit built


def test_a_gone_model_is_forgotten() -> None:
    w = world(machines=1, units_per_machine=2)
    kept = KeptUnitStates()
    kept.machine_snapshots(*w.rows())
    kept.keep_only([])
    kept.machine_snapshots(*w.rows())
    assert kept.built == 4
