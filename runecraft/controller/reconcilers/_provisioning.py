"""Planning machines: which to make, which to release, which provider owns each, and when
a failed one is tried again. Pure, like `_planners`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from runecraft import _retry, errors
from runecraft.controller.reconcilers._actions import (
    DeleteModel,
    ModelState,
    Provision,
    Release,
)
from runecraft.controller.state import ApplicationRecord, MachineRecord, ModelRecord, UnitRecord

__all__ = [
    "RETRY_MAX",
    "RETRY_MIN",
    "backoff",
    "liveness_checks",
    "machine_constraints",
    "plan_provisioning",
    "provider_for",
    "retry_after",
]

RETRY_MIN = 5.0
RETRY_MAX = 300.0


def provider_for(machine: MachineRecord, model: ModelRecord) -> str:
    """The provider that owns a machine: an enlisted host is the manual provider's, a
    placed container (`--to lxd`) its substrate's, any other machine the model's cloud's."""
    if machine.enlistment is not None:
        return "manual"
    return machine.substrate or model.cloud


def backoff(retry_count: int) -> float:
    """5 s doubling to 5 min, with ±20 % jitter: the one formula of `runecraft._retry`."""
    return _retry.backoff_delay(retry_count, first=RETRY_MIN, cap=RETRY_MAX)


def retry_after(error: errors.RunecraftError, retry_count: int) -> float:
    """Seconds before a machine that failed for the `retry_count`th time is tried again:
    the back-off, or longer when the provider said how long (`TemporaryError.delay`).

    The back-off stays a floor so a provider that keeps asking for a short delay does not
    make the controller hammer an unreachable host."""
    wait = backoff(retry_count)
    if isinstance(error, errors.TemporaryError) and error.delay is not None:
        return max(wait, error.delay)
    return wait


def machine_constraints(
    number: int, apps: Sequence[ApplicationRecord], units: Sequence[UnitRecord]
) -> dict[str, Any]:
    """The constraints of the applications with units on a machine (by unit name, later
    ones win), which the provider turns into the machine's size."""
    by_id = {app.id: app for app in apps}
    merged: dict[str, Any] = {}
    for unit in sorted(units, key=lambda u: u.name):
        if unit.machine_number == number and unit.application_id in by_id:
            merged.update(by_id[unit.application_id].constraints)
    return merged


def _retry_due(machine: MachineRecord, now: float) -> bool:
    return machine.retry_at is None or machine.retry_at <= now


def _occupied(state: ModelState) -> Counter[int]:
    return Counter(u.machine_number for u in state.units if u.machine_number is not None)


def liveness_checks(state: ModelState, now: float) -> list[MachineRecord]:
    """Machines whose agent must be asked after before planning: those with units, whose
    retry is due and that no task is making now."""
    occupied = _occupied(state)
    return [
        m
        for m in state.machines
        if occupied[m.number] and _retry_due(m, now) and m.number not in state.in_flight
    ]


def _releasable(state: ModelState, machine: MachineRecord, now: float) -> bool:
    if machine.number in state.in_flight:
        return False  # released once its making is over
    if (
        (machine.enlistment is not None or machine.kept)
        and machine.life == "alive"
        and not state.dying
    ):
        return False  # an enlisted host, or one added on its own, stays (empty) until removed
    # A release that failed waits for its retry.
    return not (machine.status == "error" and not _retry_due(machine, now))


def plan_provisioning(state: ModelState, now: float) -> list[Provision | Release | DeleteModel]:
    """Make the machines with units (or added on their own) that are not up (once their
    retry is due), release the empty ones, and forget a dying model that has nothing left."""
    occupied = _occupied(state)
    actions: list[Provision | Release | DeleteModel] = []
    for machine in state.machines:
        provider = provider_for(machine, state.model)
        kept = machine.kept and machine.life == "alive" and not state.dying
        wanted = occupied[machine.number] or kept
        if not wanted:
            if _releasable(state, machine, now):
                actions.append(Release(machine, provider))
        elif (
            _retry_due(machine, now)
            and machine.number not in state.running
            and machine.number not in state.in_flight
        ):
            constraints = machine_constraints(machine.number, state.applications, state.units)
            units = tuple(sorted(u.name for u in state.units if u.machine_number == machine.number))
            actions.append(Provision(machine, provider, constraints, units))
    if state.dying and not state.applications and not state.machines:
        actions.append(DeleteModel(state.model))
    return actions
