"""Juju-shaped status, computed from one model snapshot (so a constant number of queries).

Beyond Juju's keys the document carries `model.revision`/`reconciled`/`settled`, each
unit's `settled`, and `integrations` (every relation with its provider, requirer and type,
for `rune status --relations`); jubilant ignores keys it does not know.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from runecraft.controller.state import (
    ApplicationRecord,
    EndpointRecord,
    ModelSnapshot,
    UnitRecord,
)
from runecraft.schemas.juju import JUJU_VERSION

__all__ = ["JUJU_VERSION", "build_status", "derive_application_status", "format_since"]


_SEVERITY = {
    "error": 0,
    "blocked": 1,
    "maintenance": 2,
    "waiting": 3,
    "active": 4,
    "unknown": 5,
    "terminated": 6,
}


def format_since(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%d %b %Y %H:%M:%SZ")


def derive_application_status(
    app: ApplicationRecord, units: list[UnitRecord]
) -> tuple[str, str, float | None]:
    """The leader-set status, else the most severe unit status (leader first on ties,
    then the lowest unit number), as Juju 4.0.15 does."""
    if app.status is not None:
        return app.status, app.status_message, app.status_since
    if not units:
        return "unknown", "", app.created
    ranked = sorted(
        units,
        key=lambda u: (_SEVERITY.get(u.workload_status, 9), u.name != app.leader, u.number),
    )
    top = ranked[0]
    return top.workload_status, top.workload_message, top.workload_since


def _base(text: str) -> dict[str, str]:
    """`ubuntu@22.04` → Juju's `{name, channel}`; the default base when none was asked for."""
    name, _, channel = (text or "ubuntu@24.04").partition("@")
    return {"name": name, "channel": channel}


def unit_observed(unit: UnitRecord, published: int | None) -> bool:
    """The unit has reported on the latest snapshot sent to its machine."""
    return published is not None and unit.snapshot_revision >= published


def unit_settled(unit: UnitRecord, published: int | None) -> bool:
    """Idle on the latest snapshot sent to its machine."""
    return unit.life == "alive" and unit.agent_status == "idle" and unit_observed(unit, published)


def relations_status(
    snapshot: ModelSnapshot,
) -> tuple[dict[str, dict[str, list[dict[str, str]]]], list[dict[str, Any]]]:
    """Per application, Juju's `relations` (`{endpoint: [{related-application, interface,
    scope}]}`); and the model's integrations for the `--relations` table."""
    endpoints: dict[int, list[EndpointRecord]] = defaultdict(list)
    for endpoint in snapshot.endpoints:
        endpoints[endpoint.relation_id].append(endpoint)
    per_app: dict[str, dict[str, list[dict[str, str]]]] = defaultdict(lambda: defaultdict(list))
    integrations = []
    for relation in sorted(snapshot.relations, key=lambda r: r.id):
        eps = endpoints.get(relation.id, [])
        if not eps:
            continue
        scope = "container" if any(e.scope == "container" for e in eps) else "global"
        for endpoint in eps:
            others = [e for e in eps if e is not endpoint] or [endpoint]
            for other in others:
                per_app[endpoint.application][endpoint.endpoint].append(
                    {
                        "related-application": other.application,
                        "interface": endpoint.interface,
                        "scope": scope,
                    }
                )
        provider = next((e for e in eps if e.role != "requirer"), eps[0])
        requirer = next((e for e in eps if e.role == "requirer"), provider)
        integrations.append(
            {
                "id": relation.id,
                "key": relation.key,
                "provider": str(provider),
                "requirer": str(requirer),
                "interface": provider.interface,
                "type": "peer" if len(eps) == 1 else "regular",
                "scope": scope,
                "life": "" if relation.life == "alive" else relation.life,
            }
        )
    return {app: dict(eps) for app, eps in per_app.items()}, integrations


def build_status(
    snapshot: ModelSnapshot,
    *,
    controller_name: str,
    published_revision: Callable[[str], int | None],
    reconciled: bool,
) -> dict[str, Any]:
    """The `status --format json` document of the snapshot's one model."""
    model = snapshot.models[0]
    units_by_app: dict[int, list[UnitRecord]] = defaultdict(list)
    for unit in snapshot.units:
        units_by_app[unit.application_id].append(unit)
    machine_agents = {m.number: m.agent for m in snapshot.machines}

    machines: dict[str, Any] = {}
    for machine in snapshot.machines:
        machines[str(machine.number)] = {
            "juju-status": {
                "current": machine.status,
                "message": machine.status_message,
                "since": format_since(machine.status_since),
                "version": JUJU_VERSION,
            },
            "hostname": machine.hostname,
            "dns-name": machine.address,
            "ip-addresses": [machine.address] if machine.address else [],
            "instance-id": machine.instance_id or "pending",
            "machine-status": {
                "current": "running" if machine.instance_id else "pending",
                "since": format_since(machine.status_since),
            },
            "modification-status": {"current": "idle", "since": format_since(machine.created)},
            "base": {"name": "ubuntu", "channel": "24.04"},
        }
        if machine.substrate is not None:  # a container placed with `--to lxd`
            machines[str(machine.number)]["container-type"] = machine.substrate
    addresses = {m.number: m.address for m in snapshot.machines}

    app_relations, integrations = relations_status(snapshot)
    applications: dict[str, Any] = {}
    # A dying relation is work in progress: its units still have to leave its scope.
    settled = reconciled and all(r.life == "alive" for r in snapshot.relations)
    for app in snapshot.applications:
        charm = snapshot.charms[app.charm_sha256]
        units = units_by_app.get(app.id, [])
        status, message, since = derive_application_status(app, units)
        unit_docs: dict[str, Any] = {}
        version = ""
        for unit in units:
            published = (
                published_revision(machine_agents[unit.machine_number])
                if unit.machine_number in machine_agents
                else None
            )
            unit_settled_now = unit_settled(unit, published)
            settled &= unit_settled_now
            doc: dict[str, Any] = {
                "workload-status": {
                    "current": unit.workload_status,
                    "message": unit.workload_message,
                    "since": format_since(unit.workload_since),
                },
                "juju-status": {
                    "current": unit.agent_status,
                    "message": unit.agent_message,
                    "since": format_since(unit.agent_since),
                    "version": JUJU_VERSION,
                },
                "life": "" if unit.life == "alive" else unit.life,
                "settled": unit_settled_now,
                "observed": unit_observed(unit, published),
            }
            if app.leader == unit.name:
                doc["leader"] = True
            if unit.machine_number is not None:
                doc["machine"] = str(unit.machine_number)
                address = addresses.get(unit.machine_number, "")
                if address:
                    doc["public-address"] = address
                    doc["address"] = address
            if unit.opened_ports:
                doc["open-ports"] = list(unit.opened_ports)
            if unit.workload_version:
                version = version or unit.workload_version
            unit_docs[unit.name] = doc
        if app.life != "alive":
            settled = False
        applications[app.name] = {
            "charm": f"local:{charm.name}-{app.charm_revision}",
            "charm-origin": "local",
            "charm-name": charm.name,
            "charm-rev": app.charm_revision,
            "exposed": False,
            "base": _base(app.base),
            "life": "" if app.life == "alive" else app.life,
            "application-status": {
                "current": status,
                "message": message,
                "since": format_since(since),
            },
            "units": unit_docs,
            "version": version,
            "scale": len(units),
        }
        if app.name in app_relations:
            applications[app.name]["relations"] = app_relations[app.name]
    return {
        "model": {
            "name": model.name,
            "type": "iaas",
            "controller": controller_name,
            "cloud": model.cloud,
            "region": "default",
            "version": JUJU_VERSION,
            "model-status": {"current": "available" if model.life == "alive" else "destroying"},
            "revision": model.revision,
            "reconciled": reconciled,
            "settled": settled,
        },
        "machines": machines,
        "applications": applications,
        "integrations": integrations,
    }
