"""Juju's `show-unit --format json` document, computed from one model snapshot.

Per relation of the unit's application it carries the related application's databag, the
unit's own databag and the databags of the related units, as Juju does; jubilant parses it
into `UnitInfo`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from runecraft import errors
from runecraft.charms import host_architecture
from runecraft.controller.services._names import parse_unit_name
from runecraft.controller.services._scaling import is_caas
from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelSnapshot,
    UnitRecord,
)

__all__ = ["build_unit_info", "charm_url", "placement"]


def charm_url(app: ApplicationRecord, charm: CharmRecord) -> str:
    """Juju's charm URL of the application: `ch:ARCH/NAME-REV` for a Charmhub charm (the
    architecture its constraints ask for, else the controller's), `local:NAME-REV` with
    the controller's revision for a local one."""
    if app.origin_source == "charmhub":
        arch = app.constraints.get("arch") or host_architecture()
        revision = app.origin_revision if app.origin_revision is not None else -1
        return f"ch:{arch}/{app.origin_name or charm.name}-{revision}"
    return f"local:{charm.name}-{app.charm_revision}"


def _relation_info(
    unit: str,
    mine: EndpointRecord,
    others: list[EndpointRecord],
    in_scope: set[str],
    bags: dict[tuple[str, str], DatabagRecord],
) -> dict[str, Any]:
    related = others[0] if others else mine
    app_bag = bags.get(("app", related.application))
    local = bags.get(("unit", unit))
    related_units = sorted(
        (n for n in in_scope if n.split("/", 1)[0] == related.application and n != unit),
        key=lambda name: int(name.rsplit("/", 1)[1]),
    )
    return {
        "relation-id": mine.relation_id,
        "endpoint": mine.endpoint,
        "related-endpoint": related.endpoint,
        "application-data": dict(app_bag.data) if app_bag else {},
        "local-unit": {
            "in-scope": unit in in_scope,
            "data": dict(local.data) if local else {},
        },
        "related-units": {
            name: {
                "in-scope": name in in_scope,
                "data": dict(bag.data) if (bag := bags.get(("unit", name))) else {},
            }
            for name in related_units
        },
    }


def build_unit_info(snapshot: ModelSnapshot, unit_name: str) -> dict[str, Any]:
    """`{unit: {...}}` for one unit of the snapshot's model; unknown units are not found."""
    application, _ = parse_unit_name(unit_name)
    unit = next((u for u in snapshot.units if u.name == unit_name), None)
    app = next((a for a in snapshot.applications if a.name == application), None)
    if unit is None or app is None:
        raise errors.NotFoundError(f'unit "{unit_name}" not found')
    charm = snapshot.charms[app.charm_sha256]
    machines = {m.number: m for m in snapshot.machines}
    endpoints: dict[int, list[EndpointRecord]] = defaultdict(list)
    for endpoint in snapshot.endpoints:
        endpoints[endpoint.relation_id].append(endpoint)
    scopes: dict[int, set[str]] = defaultdict(set)
    for scope in snapshot.scopes:
        scopes[scope.relation_id].add(scope.unit)
    bags: dict[int, dict[tuple[str, str], DatabagRecord]] = defaultdict(dict)
    for bag in snapshot.databags:
        bags[bag.relation_id][(bag.owner_kind, bag.owner)] = bag

    model_uuid = snapshot.models[0].uuid
    cross_model = {
        link.relation_id if link.model_uuid == model_uuid else link.offer_relation_id
        for link in snapshot.cross_model
    }
    relation_info = []
    for relation in sorted(snapshot.relations, key=lambda r: r.id):
        eps = endpoints.get(relation.id, [])
        mine = next((e for e in eps if e.application == application), None)
        if mine is None:
            continue
        others = [e for e in eps if e is not mine]
        in_scope = scopes[relation.id]
        if any(e.scope == "container" for e in eps):  # only its principal or subordinate
            units = {u.name: u for u in snapshot.units}
            in_scope = {
                n
                for n in in_scope
                if n == unit_name or n not in units or unit.shares_container_with(units[n])
            }
        info = _relation_info(unit_name, mine, others, in_scope, bags[relation.id])
        if relation.id in cross_model:
            info["cross-model"] = True
        relation_info.append(info)

    document: dict[str, Any] = {
        "opened-ports": list(unit.opened_ports),
        "charm": charm_url(app, charm),
        "leader": app.leader == unit.name,
        "life": unit.life,
        "relation-info": relation_info,
    }
    if unit.workload_version:
        document["workload-version"] = unit.workload_version
    machine = machines.get(unit.machine_number) if unit.machine_number is not None else None
    document |= placement(unit, machine, caas=is_caas(snapshot.models[0]))
    if unit.principal is not None:
        document["principal"] = unit.principal
    return {unit_name: document}


def placement(unit: UnitRecord, machine: MachineRecord | None, *, caas: bool) -> dict[str, str]:
    """Where a unit runs, as status and show-unit say it: its machine and address, or on a
    k8s model (no machines) its pod's address and name."""
    found: dict[str, str] = {}
    if caas:
        if machine is not None and machine.address:
            found["address"] = machine.address
        if machine is not None and machine.hostname:
            found["provider-id"] = machine.hostname
    elif unit.machine_number is not None:
        found["machine"] = str(unit.machine_number)
        if machine is not None and machine.address:
            found["public-address"] = machine.address
            found["address"] = machine.address
    return found
