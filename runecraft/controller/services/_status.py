"""Juju-shaped status, computed from one model snapshot (so a constant number of queries).

On a k8s model (type "caas") there are no machines: each unit's pod is recorded as a
hidden machine of its own, whose provider writes the pod's IP (`address`), name
(`hostname`) and state (`status`, `status_message`); the unit shows them as Juju does
(`address`, `provider-id`, and `allocating`/`waiting` or `error` while the pod is not up).

Beyond Juju's keys the document carries `model.revision`/`reconciled`/`settled`, each
unit's `settled`, `integrations` (every relation with its provider, requirer and type,
for `rune status --relations`) and `controller.broker-status` (the broker's state, in
Juju's `{current, message}` shape, beside the `timestamp` Juju puts there); jubilant
ignores keys it does not know.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from runecraft.controller.providers import local
from runecraft.controller.services import _endpoints
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._ports import StoreService
from runecraft.controller.services._scaling import is_caas
from runecraft.controller.services._status_parts import (
    UnitDocument,
    UnitText,
    UnitTexts,
    encode_status,
)
from runecraft.controller.services._unitinfo import build_unit_info, placement
from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    EndpointRecord,
    MachineRecord,
    ModelSnapshot,
    Store,
    UnitRecord,
    collections_paused,
)
from runecraft.schemas import charm as charm_schema
from runecraft.schemas.controller import BrokerHealth
from runecraft.schemas.juju import JUJU_VERSION

__all__ = [
    "JUJU_VERSION",
    "StatusService",
    "build_status",
    "derive_application_status",
    "format_since",
    "pod_unit",
    "storage_docs",
]


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
    return _format_moment(timestamp)


@functools.lru_cache(maxsize=1 << 16)
def _format_moment(timestamp: float) -> str:
    """Remembered: a status of 10,000 units formats 20,000 moments, mostly the same ones
    as the status before."""
    return time.strftime("%d %b %Y %H:%M:%SZ", time.gmtime(timestamp))


def derive_application_status(
    app: ApplicationRecord, units: list[UnitRecord]
) -> tuple[str, str, float | None]:
    """The leader-set status, else the most severe unit status (leader first on ties,
    then the lowest unit number), as Juju 4.0.15 does."""
    if app.status is not None:
        return app.status, app.status_message, app.status_since
    if not units:
        return "unknown", "", app.created
    top = min(
        units,
        key=lambda u: (_SEVERITY.get(u.workload_status, 9), u.name != app.leader, u.number),
    )
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


def _machine_doc(machine: MachineRecord, local_isolated: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
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
        doc["container-type"] = machine.substrate
    isolation = local.isolation_message(machine.instance_id or "", isolated=local_isolated)
    if isolation:
        doc["machine-status"]["message"] = isolation
    return doc


POD_STARTING = "installing agent"
"""A k8s unit's message while its pod is not up and the provider said nothing more."""


def pod_unit(unit: UnitRecord, pod: MachineRecord | None) -> UnitRecord:
    """A k8s unit as status shows it: while its pod (its hidden machine) is not up, agent
    `allocating` and workload `waiting` with the pod's state; a pod in error (a crash
    loop, an image it cannot pull) makes the workload `error` with the provider's words."""
    if pod is None or pod.status == "started":
        return unit
    if pod.status == "error":
        return dataclasses.replace(
            unit,
            workload_status="error",
            workload_message=pod.status_message,
            workload_since=pod.status_since,
        )
    return dataclasses.replace(
        unit,
        workload_status="waiting",
        workload_message=pod.status_message or POD_STARTING,
        workload_since=pod.status_since,
        agent_status="allocating",
        agent_message="",
        agent_since=pod.status_since,
    )


def _unit_doc(
    unit: UnitRecord,
    app: ApplicationRecord,
    machine: MachineRecord | None,
    published_revision: Callable[[str], int | None],
    *,
    caas: bool = False,
) -> dict[str, Any]:
    """One unit's document: from the unit, its machine, the revision published to that
    machine, whether it leads `app` and `caas` alone, the inputs `UnitTexts.text` keeps
    its text by (a document that reads more must add it to that key)."""
    published = published_revision(machine.agent) if machine is not None else None
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
        "settled": unit_settled(unit, published),
        "observed": unit_observed(unit, published),
    }
    if app.leader == unit.name:
        doc["leader"] = True
    doc |= placement(unit, machine, caas=caas)
    if unit.opened_ports:
        doc["open-ports"] = list(unit.opened_ports)
    return doc


def _application_doc(
    app: ApplicationRecord,
    charm: CharmRecord,
    units: list[UnitRecord],
    unit_docs: dict[str, Any],
    *,
    caas: bool = False,
) -> dict[str, Any]:
    status, message, since = derive_application_status(app, units)
    alive = sum(1 for u in units if u.life == "alive")
    return {
        **charm_origin_doc(app, charm),
        "exposed": app.exposed,
        "base": _base(app.base),
        "life": "" if app.life == "alive" else app.life,
        "application-status": {"current": status, "message": message, "since": format_since(since)},
        "units": unit_docs,
        "version": next((u.workload_version for u in units if u.workload_version), ""),
        # On k8s the StatefulSet's replicas: the units that stay (Juju's `scale`).
        "scale": alive if caas else len(units),
    }


def charm_origin_doc(app: ApplicationRecord, charm: CharmRecord) -> dict[str, Any]:
    """Juju's charm keys: a Charmhub charm by its name, with its Charmhub revision and the
    channel it follows; a local one as `local:NAME-REV` with the controller's revision."""
    if app.origin_source == "charmhub":
        return {
            "charm": app.origin_name or charm.name,
            "charm-origin": "charmhub",
            "charm-name": app.origin_name or charm.name,
            "charm-rev": app.origin_revision if app.origin_revision is not None else -1,
            "charm-channel": app.origin_channel,
        }
    return {
        "charm": f"local:{charm.name}-{app.charm_revision}",
        "charm-origin": "local",
        "charm-name": charm.name,
        "charm-rev": app.charm_revision,
    }


def subordinate_to(snapshot: ModelSnapshot) -> dict[str, list[str]]:
    """Juju's `subordinate-to`: per subordinate application, the principal applications
    it is joined to by a container-scoped relation (sorted)."""
    subordinate = {
        a.name
        for a in snapshot.applications
        if snapshot.charms[a.charm_sha256].meta.get("subordinate") is True
    }
    apps_of: dict[int, list[EndpointRecord]] = defaultdict(list)
    for endpoint in snapshot.endpoints:
        apps_of[endpoint.relation_id].append(endpoint)
    found: dict[str, set[str]] = {name: set() for name in subordinate}
    for eps in apps_of.values():
        if len(eps) != 2 or not any(e.scope == "container" for e in eps):
            continue
        for sub, principal in ((eps[0], eps[1]), (eps[1], eps[0])):
            if sub.application in subordinate and principal.application not in subordinate:
                found[sub.application].add(principal.application)
    return {name: sorted(principals) for name, principals in found.items()}


def _applications(
    snapshot: ModelSnapshot,
    published_revision: Callable[[str], int | None],
    app_relations: dict[str, dict[str, list[dict[str, str]]]],
    unit_text: UnitDocument | Callable[..., UnitText] = _unit_doc,
) -> dict[str, Any]:
    """Juju's `applications`, each with its units and (if any) its relations; a subordinate
    application has `subordinate-to` and no units of its own: they are under their
    principal units' `subordinates`. `unit_text` gives each unit's document, or its text
    (`UnitTexts.text`), but for subordinate units and their principals: those documents
    are put together here."""
    caas = is_caas(snapshot.models[0])
    machines = {m.number: m for m in snapshot.machines}
    units_by_app: dict[int, list[tuple[UnitRecord, MachineRecord | None]]] = defaultdict(list)
    for unit in snapshot.units:
        machine = machines.get(unit.machine_number) if unit.machine_number is not None else None
        shown = pod_unit(unit, machine) if caas else unit
        units_by_app[unit.application_id].append((shown, machine))
    subordinates = subordinate_to(snapshot)
    apps = {a.id: a for a in snapshot.applications}
    joined = [u for u in snapshot.units if u.principal is not None]
    apart = {u.name for u in joined} | {u.principal for u in joined}
    docs: dict[str, Any] = {}
    for placed_units in units_by_app.values():
        for unit, machine in placed_units:
            render = _unit_doc if unit.name in apart else unit_text
            docs[unit.name] = render(
                unit, apps[unit.application_id], machine, published_revision, caas=caas
            )
    for unit in sorted(joined, key=lambda u: (u.application, u.number)):
        if unit.principal in docs:
            sub = docs[unit.name]
            sub.pop("machine", None)  # Juju shows it on the principal only
            docs[unit.principal].setdefault("subordinates", {})[unit.name] = sub
    applications: dict[str, Any] = {}
    for app in snapshot.applications:
        placed = units_by_app.get(app.id, [])
        units = [unit for unit, _ in placed]
        unit_docs = {unit.name: docs[unit.name] for unit, _ in placed}
        doc = _application_doc(app, snapshot.charms[app.charm_sha256], units, unit_docs, caas=caas)
        if app.name in subordinates:
            # Empty here (the API document always has `units`); `rune status` leaves it out.
            doc["units"] = {}
            doc["subordinate-to"] = subordinates[app.name]
        if app.name in app_relations:
            doc["relations"] = app_relations[app.name]
        applications[app.name] = doc
    return applications


def _cross_model(
    snapshot: ModelSnapshot, app_relations: dict[str, dict[str, list[dict[str, str]]]]
) -> dict[str, Any]:
    """Juju's `application-endpoints` (the SAAS the model consumes) and `offers` (what it
    offers), each left out when empty."""
    doc: dict[str, Any] = {}
    if snapshot.saas:
        doc["application-endpoints"] = {
            saas.name: {
                "url": saas.url,
                "endpoints": saas.endpoints,
                "life": "" if saas.life == "alive" else saas.life,
                "application-status": {"current": "active"},
                **(
                    {
                        "relations": {
                            endpoint: [r["related-application"] for r in related]
                            for endpoint, related in app_relations[saas.name].items()
                        }
                    }
                    if saas.name in app_relations
                    else {}
                ),
            }
            for saas in snapshot.saas
        }
    if snapshot.offers:
        apps = {a.name: a for a in snapshot.applications}
        offers: dict[str, Any] = {}
        for offer in snapshot.offers:
            app = apps.get(offer.application)
            charm = snapshot.charms.get(app.charm_sha256) if app is not None else None
            meta = charm_schema.CharmMeta.model_validate(charm.meta if charm else {"name": ""})
            declared = {
                e.endpoint: {"interface": e.interface, "role": e.role}
                for e in _endpoints.charm_endpoints(offer.application, meta)
            }
            links = [
                link
                for link in snapshot.cross_model
                if link.offer_model_uuid == offer.model_uuid and link.offer_name == offer.name
            ]
            offers[offer.name] = {
                "application": offer.application,
                "charm": meta.name,
                "endpoints": {name: declared[name] for name in offer.endpoints if name in declared},
                "total-connected-count": len(links),
                "active-connected-count": len(links),
            }
        doc["offers"] = offers
    return doc


def _unit_docs(applications: dict[str, Any]) -> list[dict[str, Any] | UnitText]:
    """Every unit document (or text), subordinates under their principals included."""
    found: list[dict[str, Any] | UnitText] = []
    for app in applications.values():
        for unit in app.get("units", {}).values():
            found.append(unit)
            if not isinstance(unit, UnitText):
                found.extend(unit.get("subordinates", {}).values())
    return found


def _unit_settled(unit: dict[str, Any] | UnitText) -> bool:
    return unit.settled if isinstance(unit, UnitText) else bool(unit["settled"])


def _settled(snapshot: ModelSnapshot, applications: dict[str, Any], reconciled: bool) -> bool:
    """Reconciled, every application alive and every unit settled; a dying relation is work
    in progress (its units still have to leave its scope)."""
    return (
        reconciled
        and all(r.life == "alive" for r in snapshot.relations)
        and all(app.life == "alive" for app in snapshot.applications)
        and all(_unit_settled(unit) for unit in _unit_docs(applications))
        # A subordinate unit still leaving after its principal went is shown nowhere.
        and all(u.life == "alive" for u in snapshot.units if u.principal is not None)
    )


def storage_docs(snapshot: ModelSnapshot) -> dict[str, Any]:
    """Juju's `storage`, `filesystems` and `volumes` (`status --storage`, `juju storage`);
    empty when the model has no storage instances."""
    if not snapshot.storage:
        return {}
    units = {u.name: u for u in snapshot.units}
    storage: dict[str, Any] = {}
    kinds: dict[str, dict[str, Any]] = {"filesystems": {}, "volumes": {}}
    for instance in sorted(snapshot.storage, key=lambda s: (s.name, s.number)):
        unit = units.get(instance.unit)
        attached: dict[str, Any] = {"life": "alive"}
        if unit is not None and unit.machine_number is not None:
            attached["machine"] = str(unit.machine_number)
        status = {"current": "attached", "since": format_since(instance.created)}
        kind = "block" if instance.kind == "block" else "filesystem"
        storage[instance.id] = {
            "kind": kind,
            "life": "alive",
            "status": status,
            "persistent": False,
            "attachments": {"units": {instance.unit: attached}},
        }
        section = kinds["volumes" if kind == "block" else "filesystems"]
        section[str(len(section))] = {
            "storage": instance.id,
            "size": instance.size_mib,
            "pool": "loop" if kind == "block" else "rootfs",
            "life": "alive",
            "status": status,
            "attachments": {"units": {instance.unit: {"life": "alive"}}},
        }
    return {"storage": storage, **{k: v for k, v in kinds.items() if v}}


def build_status(
    snapshot: ModelSnapshot,
    *,
    controller_name: str,
    published_revision: Callable[[str], int | None],
    reconciled: bool,
    local_isolated: bool = False,
    broker: BrokerHealth | None = None,
    unit_text: UnitDocument | Callable[..., UnitText] = _unit_doc,
) -> dict[str, Any]:
    """The `status --format json` document of the snapshot's one model; `local_isolated`
    says whether the local provider runs its machines as users of their own, `broker` how
    the controller's broker is (left out when not given). With `unit_text` (`UnitTexts.
    text`) units are given as their JSON text, for `encode_status`."""
    model = snapshot.models[0]
    app_relations, integrations = relations_status(snapshot)
    applications = _applications(snapshot, published_revision, app_relations, unit_text)
    return {
        "model": {
            "name": model.name,
            "type": model.type,
            "controller": controller_name,
            "cloud": model.cloud,
            "region": "default",
            "version": JUJU_VERSION,
            "model-status": {"current": "available" if model.life == "alive" else "destroying"},
            "revision": model.revision,
            "reconciled": reconciled,
            "settled": _settled(snapshot, applications, reconciled),
        },
        "machines": {}
        if is_caas(model)
        else {str(m.number): _machine_doc(m, local_isolated) for m in snapshot.machines},
        "applications": applications,
        **_cross_model(snapshot, app_relations),
        "integrations": integrations,
        **storage_docs(snapshot),
        **({} if broker is None else {"controller": {"broker-status": _broker_doc(broker)}}),
    }


def _broker_doc(broker: BrokerHealth) -> dict[str, str]:
    doc = {"current": broker.state.value}
    if broker.message:
        doc["message"] = broker.message
    return doc


@dataclasses.dataclass(frozen=True)
class _Cached:
    """A status document as sent, with what it was built from beside the database: the
    store's commits, the hub's generation, the reconcilers' and broker's state, and the
    revision last sent to each of its machines' agents."""

    key: tuple[object, ...]
    agents: tuple[str, ...]
    published: tuple[int | None, ...]
    body: bytes


class StatusService(StoreService[Store]):
    """Status documents and `show-unit`, each read from one model snapshot (so a constant
    number of queries whatever the model's size)."""

    CACHED_MODELS = 16
    """Models whose last status document is kept (each about 280 bytes a unit)."""

    def __init__(
        self,
        store: Store,
        hub: ChangeHub,
        *,
        controller_name: str,
        published_revision: Callable[[str], int | None],
        reconciled: Callable[[], bool],
        local_isolated: Callable[[], bool] = lambda: False,
        broker_health: Callable[[], BrokerHealth] = BrokerHealth,
    ) -> None:
        """`published_revision(agent)` is the snapshot revision last sent to a machine agent;
        `reconciled()` says whether the reconcilers have caught up with every change;
        `broker_health()` how the controller's broker is."""
        super().__init__(store, hub)
        self._controller_name = controller_name
        self._published_revision = published_revision
        self._reconciled = reconciled
        self._local_isolated = local_isolated
        self._broker_health = broker_health
        self._cache: dict[str, _Cached] = {}
        self._texts: dict[str, UnitTexts] = {}
        """Per model (by UUID), its units' texts as the last status rendered them."""
        self.units_rendered = 0
        """Unit documents the last status rendered (the other units' texts were kept)."""

    async def _snapshot(self, model_name: str) -> ModelSnapshot:
        model = await self.store.model(model_name)
        return await self.store.snapshot(model.uuid)

    async def status(
        self, model_name: str, *, after: int = -1, timeout: float = 0.0
    ) -> dict[str, Any]:
        """Status now, or (with `after` ≥ 0) once anything changed past that generation or
        `timeout` seconds passed; `model.generation` is the one to wait after next."""
        document: dict[str, Any] = json.loads(
            await self.status_json(model_name, after=after, timeout=timeout)
        )
        return document

    async def status_json(self, model_name: str, *, after: int = -1, timeout: float = 0.0) -> bytes:
        """`status` as the JSON the API sends. The last document of a model is sent again
        while nothing it was built from moved: no write committed (a unit's report is a
        write, though not a model revision), the same generation, reconciled state, broker
        state and snapshot revisions sent to its machines."""
        if after >= 0:
            await self.hub.wait_after(after, timeout)
        broker = self._broker_health()
        reconciled = self._reconciled()
        key = (
            self.store.commits,
            self.hub.version,
            reconciled,
            self._local_isolated(),
            broker.state,
            broker.message,
        )
        cached = self._cache.get(model_name)
        if (
            cached is not None
            and cached.key == key
            and cached.published == tuple(map(self._published_revision, cached.agents))
        ):
            return cached.body
        snapshot = await self.store.status_snapshot(model_name)
        agents = tuple(dict.fromkeys(m.agent for m in snapshot.machines))
        published = {agent: self._published_revision(agent) for agent in agents}
        texts = self._unit_texts(snapshot.models[0].uuid)
        snapshot.machines = texts.same_machines(snapshot.machines)
        with collections_paused():
            texts.start()
            document = build_status(
                snapshot,
                controller_name=self._controller_name,
                published_revision=published.get,
                reconciled=reconciled,
                local_isolated=key[3],
                broker=broker,
                unit_text=texts.text,
            )
            texts.finish()
            self.units_rendered = texts.rendered
            document["model"]["generation"] = key[1]
            body = encode_status(document)
        self._cache.pop(model_name, None)
        if len(self._cache) >= self.CACHED_MODELS:
            del self._cache[next(iter(self._cache))]
        self._cache[model_name] = _Cached(key, agents, tuple(published.values()), body)
        return body

    def _unit_texts(self, model_uuid: str) -> UnitTexts:
        """The model's kept unit texts (new ones for a model not seen lately)."""
        texts = self._texts.pop(model_uuid, None)
        if texts is None:
            texts = UnitTexts(model_uuid, _unit_doc)
            if len(self._texts) >= self.CACHED_MODELS:
                del self._texts[next(iter(self._texts))]
        self._texts[model_uuid] = texts
        return texts

    async def show_unit(self, model_name: str, unit: str) -> dict[str, Any]:
        """Juju's `show-unit` document of one unit."""
        return build_unit_info(await self._snapshot(model_name), unit)
