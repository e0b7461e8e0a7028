"""Every machine's snapshot, built again only for the units whose inputs changed.

A pass used to build every unit's desired state and digest every machine's snapshot, though
most passes follow reports of a few units. `KeptUnitStates` holds, per unit, the state last
built and exactly what it was built from: the unit's row, its application's row, its charm
and its machine's address; and, per model, what every unit's state may depend on (the
model's name and config, the relation rows, secrets, unfinished actions, storage,
resources, and each unit's name, application, life, principal and machine). A unit whose
own inputs are as held, in a model whose shared inputs are as held, keeps its state and its
digest; anything else is built afresh (`_plan.machine_snapshots` is the rule, this only
skips repeating it). The result equals a fresh build, revision included.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runecraft.controller import state
from runecraft.controller.reconcilers import _plan
from runecraft.schemas import bus

__all__ = ["KeptUnitStates"]


@dataclass(frozen=True)
class _Built:
    """A unit's state as built, with what it was built from."""

    unit: state.UnitRecord
    app: state.ApplicationRecord
    charm: state.CharmRecord
    address: str | None
    remote: bus.UnitRemoteState
    digest: str


@dataclass
class _ModelKept:
    shared: tuple[Any, ...]
    units: dict[str, _Built]


def _shared(
    model: state.ModelRecord,
    units: Sequence[state.UnitRecord],
    relations: _plan.RelationState,
    actions: Sequence[state.ActionRecord],
    secrets: state.SecretRows,
    storage: Sequence[state.StorageRecord],
    resources: Sequence[state.ResourceRecord],
) -> tuple[Any, ...]:
    """What any unit's state may depend on beyond its own rows (see the module docstring)."""
    placed = tuple((u.name, u.application_id, u.life, u.principal, u.machine_number) for u in units)
    return (
        model.name,
        model.config,
        tuple(relations.relations),
        tuple(relations.endpoints),
        tuple(relations.scopes),
        tuple(relations.databags),
        tuple(actions),
        secrets,
        tuple(storage),
        tuple(resources),
        placed,
    )


class KeptUnitStates:
    """Per model, each unit's desired state as last built (see the module docstring)."""

    def __init__(self) -> None:
        self._models: dict[str, _ModelKept] = {}
        self.built = 0
        """Unit states built so far (those kept are not counted): what passes cost."""

    def keep_only(self, model_uuids: Sequence[str]) -> None:
        """Drop what is held of every other model (those gone)."""
        keep = set(model_uuids)
        self._models = {uuid: kept for uuid, kept in self._models.items() if uuid in keep}

    def machine_snapshots(
        self,
        model: state.ModelRecord,
        applications: Sequence[state.ApplicationRecord],
        units: Sequence[state.UnitRecord],
        machines: Sequence[state.MachineRecord],
        charms: Mapping[str, state.CharmRecord],
        relations: _plan.RelationState | None = None,
        actions: Sequence[state.ActionRecord] = (),
        secrets: state.SecretRows | None = None,
        storage: Sequence[state.StorageRecord] = (),
        resources: Sequence[state.ResourceRecord] = (),
    ) -> tuple[dict[int, bus.MachineSnapshot], dict[int, str]]:
        """`_plan.machine_snapshots` of the same rows, and each snapshot's
        `_plan.snapshot_digest`."""
        relations = relations or _plan.RelationState()
        secrets = secrets or state.SecretRows()
        shared = _shared(model, units, relations, actions, secrets, storage, resources)
        before = self._models.get(model.uuid)
        held = before.units if before is not None and before.shared == shared else {}
        addresses = {m.number: m.address for m in machines}
        apps = {a.id: a for a in applications}
        facts: _plan.ModelFacts | None = None
        now: dict[str, _Built] = {}
        by_machine: dict[int, list[_Built]] = defaultdict(list)
        for unit in units:
            if unit.machine_number is None:
                continue
            app = apps[unit.application_id]
            charm = charms[app.charm_sha256]
            address = addresses.get(unit.machine_number)
            built = held.get(unit.name)
            if built is None or (built.unit, built.app, built.charm, built.address) != (
                unit,
                app,
                charm,
                address,
            ):
                if facts is None:
                    facts = _plan.ModelFacts.index(
                        model, units, machines, relations, actions, secrets, storage, resources
                    )
                remote = _plan.unit_remote(facts, unit, app, charm)
                built = _Built(unit, app, charm, address, remote, _plan.unit_digest(remote))
                self.built += 1
            now[unit.name] = built
            by_machine[unit.machine_number].append(built)
        self._models[model.uuid] = _ModelKept(shared, now)
        snapshots: dict[int, bus.MachineSnapshot] = {}
        digests: dict[int, str] = {}
        for machine in machines:
            mine = by_machine.get(machine.number, [])
            if machine.life != "alive" and not mine:
                continue
            snapshot = bus.MachineSnapshot(
                revision=model.revision,
                model_name=model.name,
                model_uuid=model.uuid,
                machine_id=str(machine.number),
                units=tuple(b.remote for b in mine),
            )
            snapshots[machine.number] = snapshot
            digests[machine.number] = _plan.machine_digest(snapshot, [b.digest for b in mine])
        return snapshots, digests
