"""Pure planning: what the reconcilers should do, as functions of stored state.

Nothing here does I/O, so every rule is tested by tables.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    MachineRecord,
    ModelRecord,
    UnitRecord,
)
from runecraft.schemas import bus
from runecraft.schemas.duration import parse_duration

__all__ = [
    "LeaderChange",
    "config_hash",
    "effective_config",
    "machine_snapshots",
    "plan_leaders",
]


def effective_config(charm: CharmRecord, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid by user settings, nulls left out: what `config-get` prints."""
    options: Mapping[str, Any] = charm.config.get("options") or {}
    result: dict[str, Any] = {}
    for name, option in options.items():
        value = settings.get(name, (option or {}).get("default"))
        if value is not None:
            result[name] = value
    return result


def config_hash(charm_sha256: str, config: Mapping[str, Any]) -> str:
    """Changes when the charm or its effective config changes (drives `config-changed`)."""
    canonical = json.dumps({"charm": charm_sha256, "config": config}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LeaderChange:
    application_id: int
    application: str
    leader: str | None


def plan_leaders(
    applications: Iterable[ApplicationRecord], units: Iterable[UnitRecord], now: float
) -> list[LeaderChange]:
    """Keep one leader per application.

    The holder stays while it is alive and its lease runs (its agent renews it). A holder
    that is gone is replaced by the lowest-numbered alive unit; a holder whose lease ran out
    (its agent stopped renewing) is replaced by another alive unit when there is one, or
    re-granted. Every change in the result also grants a fresh lease.
    """
    alive: dict[int, list[str]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: u.number):
        if unit.life == "alive":
            alive[unit.application_id].append(unit.name)
    changes = []
    for app in applications:
        candidates = alive.get(app.id, []) if app.life == "alive" else []
        holder = app.leader
        if holder in candidates and app.lease_expiry is not None and app.lease_expiry > now:
            continue
        if holder in candidates:
            others = [name for name in candidates if name != holder]
            new: str | None = others[0] if others else holder
        else:
            new = candidates[0] if candidates else None
        if new is None and holder is None:
            continue
        changes.append(LeaderChange(app.id, app.name, new))
    return changes


def machine_snapshots(
    model: ModelRecord,
    applications: Sequence[ApplicationRecord],
    units: Sequence[UnitRecord],
    machines: Sequence[MachineRecord],
    charms: Mapping[str, CharmRecord],
) -> dict[int, bus.MachineSnapshot]:
    """The desired state of every machine's units (revision is the model's)."""
    apps = {a.id: a for a in applications}
    interval = parse_duration(model.config.get("update-status-hook-interval", "5m"))
    by_machine: dict[int, list[bus.UnitRemoteState]] = defaultdict(list)
    for unit in units:
        if unit.machine_number is None:
            continue
        app = apps[unit.application_id]
        charm = charms[app.charm_sha256]
        config = effective_config(charm, app.config)
        by_machine[unit.machine_number].append(
            bus.UnitRemoteState(
                unit=unit.name,
                application=app.name,
                life="alive" if unit.life == "alive" else "dying",
                charm=bus.CharmRef(sha256=charm.sha256, name=charm.name),
                config=config,
                config_hash=config_hash(charm.sha256, config),
                leader=app.leader == unit.name,
                update_status_interval=interval,
            )
        )
    return {
        machine.number: bus.MachineSnapshot(
            revision=model.revision,
            model_name=model.name,
            model_uuid=model.uuid,
            machine_id=str(machine.number),
            units=tuple(by_machine.get(machine.number, ())),
        )
        for machine in machines
        if machine.life == "alive" or by_machine.get(machine.number)
    }


def snapshot_digest(snapshot: bus.MachineSnapshot) -> str:
    """Identity of a snapshot's content, ignoring its revision (to skip no-op sends)."""
    body = snapshot.model_dump(mode="json", exclude={"revision"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
