"""The reconcilers' brains: pure planners `plan(state, now) -> list[Action]`, one per concern.

Pure: no I/O, no asyncio, no clock. A pass runs them as a priority chain, in the uniter's
shape (agents/uniter.py):

1. lifecycle: a dying model takes its applications, a dying application its units and its
   relations; dead relations and empty dying applications go;
2. subordinates: one unit of each related subordinate beside every principal unit, gone
   with its principal or the container-scoped relation (`_plan.subordinate_changes`);
3. assignment: a unit without a machine gets a new one (a fallback: deploys place units);
4. leadership: one leader per application, on a lease;
5. provisioning (`_provisioning`): make the machines that have units and are not up,
   release the empty ones, forget a dying model once it is empty;
6. dispatch: every machine's agent gets its units' desired state when it changed.

The first four only write the database and settle the model before anything reaches a
substrate: when one of them has work, the pass applies it and the next pass looks again.
`next_due` says when a model whose revision did not move needs a pass all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from runecraft.controller.reconcilers import _plan
from runecraft.controller.reconcilers._actions import (
    AddSubordinates,
    AssignMachine,
    ChangeLeader,
    DeleteApplication,
    DeleteRelations,
    ForgetUnit,
    KillApplication,
    KillRelation,
    KillUnit,
    ModelState,
    Publish,
    WriteAction,
)
from runecraft.controller.state import MachineRecord, UnitRecord
from runecraft.schemas import bus

__all__ = [
    "SWEEP_INTERVAL",
    "WRITE_PLANNERS",
    "next_due",
    "plan_assignment",
    "plan_dispatch",
    "plan_leadership",
    "plan_lifecycle",
    "plan_subordinates",
    "plan_writes",
]

SWEEP_INTERVAL = 10.0
"""Seconds after which a model that did not change is looked at again all the same (its
machines' agents checked): a dead agent is noticed without any change to the model."""


def plan_lifecycle(state: ModelState, now: float) -> list[WriteAction]:
    """Deaths that follow from other deaths, removals of what is dead, and units removed
    with `--force` whose time ran out."""
    dying = state.dying
    dying_apps = {a.id for a in state.applications if a.life == "dying" or dying}
    actions: list[WriteAction] = [
        KillApplication(a) for a in state.applications if dying and a.life == "alive"
    ]
    actions += [
        KillRelation(r) for r in _plan.doomed_relations(state.applications, state.relations, dying)
    ]
    actions += [
        KillUnit(u) for u in state.units if u.application_id in dying_apps and u.life == "alive"
    ]
    actions += [ForgetUnit(u) for u in state.units if _forced_out(u, now)]
    dead = _plan.dead_relations(state.relations)
    if dead:
        actions.append(DeleteRelations(tuple(dead)))
    for app in _plan.deletable_applications(
        state.applications, state.units, state.relations, dying
    ):
        peers = tuple(e.relation_id for e in state.relations.endpoints if e.application == app.name)
        actions.append(DeleteApplication(app, peers))
    return actions


def _forced_out(unit: UnitRecord, now: float) -> bool:
    return unit.life == "dying" and unit.remove_after is not None and unit.remove_after <= now


def plan_subordinates(state: ModelState, now: float) -> list[WriteAction]:
    """Subordinate units follow their principals (rules in `_plan.subordinate_changes`)."""
    del now
    changes = _plan.subordinate_changes(
        state.applications, state.units, state.relations, state.subordinates
    )
    apps = {a.id: a for a in state.applications}
    actions: list[WriteAction] = [KillUnit(u, changes.forced.get(u.name)) for u in changes.kill]
    actions += [AddSubordinates(apps[i], units) for i, units in sorted(changes.add.items())]
    return actions


def plan_assignment(state: ModelState, now: float) -> list[WriteAction]:
    """Every alive unit without a machine gets a new machine."""
    del now
    return [AssignMachine(u) for u in state.units if u.machine_number is None and u.life == "alive"]


def plan_leadership(state: ModelState, now: float) -> list[WriteAction]:
    """One leader per application (rules in `_plan.plan_leaders`)."""
    by_id = {a.id: a for a in state.applications}
    return [
        ChangeLeader(by_id[change.application_id], change.leader, change.moved)
        for change in _plan.plan_leaders(state.applications, state.units, now, state.reach)
    ]


WRITE_PLANNERS: tuple[Callable[[ModelState, float], list[WriteAction]], ...] = (
    plan_lifecycle,
    plan_subordinates,
    plan_assignment,
    plan_leadership,
)


def plan_writes(state: ModelState, now: float) -> list[WriteAction]:
    """The first of the database-only planners that has work (steps 1 to 4)."""
    for planner in WRITE_PLANNERS:
        actions = planner(state, now)
        if actions:
            return actions
    return []


def plan_dispatch(
    machines: Sequence[MachineRecord],
    snapshots: Mapping[int, bus.MachineSnapshot],
    published: Mapping[str, str],
    digests: Mapping[int, str] | None = None,
) -> list[Publish]:
    """A snapshot for every machine whose agent was not sent this content yet (`published`:
    digest last sent, per agent; `digests`: each snapshot's, when known already)."""
    actions = []
    for machine in machines:
        snapshot = snapshots.get(machine.number)
        if snapshot is None:
            continue
        digest = digests.get(machine.number) if digests is not None else None
        if digest is None:
            digest = _plan.snapshot_digest(snapshot)
        if published.get(machine.agent) != digest:
            actions.append(Publish(machine.agent, snapshot, digest))
    return actions


def next_due(state: ModelState, now: float) -> float:
    """When the model needs a pass even if nothing in it changes: a leader's lease runs
    out (as `_plan.holder_lease_end` says), a machine's retry comes, a unit removed with `--force`
    runs out of time, or the sweep interval passed."""
    times = [now + SWEEP_INTERVAL]
    ends = (_plan.holder_lease_end(a, state.reach) for a in state.applications if a.leader)
    times += [end for end in ends if end is not None]
    times += [m.retry_at for m in state.machines if m.retry_at is not None]
    times += [
        u.remove_after for u in state.units if u.life == "dying" and u.remove_after is not None
    ]
    return min(times)
