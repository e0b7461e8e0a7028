"""Pure planning: what the reconcilers should do, as functions of stored state.

Nothing here does I/O, so every rule is tested by tables.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runecraft.controller import state
from runecraft.controller.reconcilers._secret_plan import SecretIndex, unit_secrets
from runecraft.controller.services import charm_config
from runecraft.schemas import bus, logs
from runecraft.schemas import storage as storage_schema
from runecraft.schemas.duration import parse_duration
from runecraft.schemas.resources import ResourceRemote

__all__ = [
    "ALWAYS_REACHABLE",
    "AgentReach",
    "LeaderChange",
    "ModelFacts",
    "RelationIndex",
    "RelationState",
    "config_hash",
    "dead_relations",
    "deletable_applications",
    "doomed_relations",
    "effective_config",
    "holder_lease_end",
    "lease_end",
    "machine_digest",
    "machine_snapshots",
    "plan_leaders",
    "relation_views",
    "renewals_heard",
    "snapshot_digest",
    "subordinate_changes",
    "unit_digest",
    "unit_remote",
]


def effective_config(charm: state.CharmRecord, settings: Mapping[str, Any]) -> dict[str, Any]:
    """What `config-get` prints (the charm schema's rule)."""
    return charm_config(charm).effective(settings)


def config_hash(charm_sha256: str, config: Mapping[str, Any]) -> str:
    """Changes when the charm or its effective config changes (drives `config-changed`)."""
    canonical = json.dumps({"charm": charm_sha256, "config": config}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LeaderChange:
    application_id: int
    application: str
    leader: str | None
    previous: str | None = None

    @property
    def moved(self) -> bool:
        """Leadership passed from one unit to another: the leader settings version moves
        too, so the followers run `leader-settings-changed` (Juju 3.6)."""
        return self.previous is not None and self.leader not in (None, self.previous)


@dataclass(frozen=True)
class AgentReach:
    """Whether the controller can hear its agents now (over the bus, and into the database),
    and since when.

    A lease is renewed by its holder's agent over the bus, and the renewal is stored by the
    controller's agent-message worker, so it only runs while both work: while the
    controller's own bus is down, or the worker cannot store what agents send (an outage of
    the database), no lease runs out, and after both are back every lease runs at least
    `lease_seconds` from the later recovery."""

    since: float | None
    """When the controller could hear its agents again (None: it cannot now)."""
    lease_seconds: float = 0.0
    """The lease length granted from `since`."""
    stalls: tuple[tuple[float, float], ...] = ()
    """Spans (began, ended) in which the controller itself heard nothing (its loop
    blocked, its process stopped, its clock jumped; `services.StallWatch`): a lease runs on
    by the stalled time after it was last renewed."""
    heard: Mapping[str, float] = field(default_factory=dict)
    """Leases renewed by heartbeats received and not stored yet, by unit: the expiry each
    runs to (`renewals_heard`)."""

    @classmethod
    def of(
        cls,
        bus_since: float | None,
        stored_since: float | None,
        lease_seconds: float,
        stalls: tuple[tuple[float, float], ...] = (),
        heard: Mapping[str, float] | None = None,
    ) -> AgentReach:
        """From when the bus session began and when the agent-message worker last came back
        from an outage (None for either: it is down now), the controller's stalls, and the
        renewals heard but not stored."""
        since = None if bus_since is None or stored_since is None else max(bus_since, stored_since)
        return cls(since, lease_seconds, stalls, heard or {})


def renewals_heard(
    heartbeats: Mapping[str, tuple[float, Sequence[str]]],
    machines: Iterable[state.MachineRecord],
    units: Iterable[state.UnitRecord],
) -> dict[str, float]:
    """The lease expiry each unit's waiting heartbeat renews it to, from each agent's
    latest heartbeat (agent: (expiry, units named)); a unit counts only when it is on the
    machine of the agent that named it, as when the heartbeat is stored."""
    agent_of = {m.number: m.agent for m in machines}
    heard: dict[str, float] = {}
    for unit in units:
        agent = None if unit.machine_number is None else agent_of.get(unit.machine_number)
        beat = None if agent is None else heartbeats.get(agent)
        if beat is not None and unit.name in beat[1]:
            heard[unit.name] = beat[0]
    return heard


ALWAYS_REACHABLE = AgentReach(since=-math.inf)
"""Agents reachable all along: a lease ends when it is stored to."""


def lease_end(expiry: float | None, reach: AgentReach) -> float | None:
    """When a lease stored as running out at `expiry` really runs out (None: no lease):
    never while agents cannot be reached, not before a full lease after they can, and later
    by the time the controller stalled since the lease was last renewed (its holder's
    renewals waited unread meanwhile)."""
    if expiry is None:
        return None
    if reach.since is None:
        return math.inf
    renewed = expiry - reach.lease_seconds
    stalled = sum(ended - max(began, renewed) for began, ended in reach.stalls if ended > renewed)
    return max(expiry + stalled, reach.since + reach.lease_seconds)


def holder_lease_end(app: state.ApplicationRecord, reach: AgentReach) -> float | None:
    """When the lease of `app`'s leader runs out: as stored (`lease_end`), or later when a
    heartbeat renewing it was received and waits to be stored."""
    end = lease_end(app.lease_expiry, reach)
    heard = reach.heard.get(app.leader) if app.leader is not None else None
    if heard is None or end is None:
        return end
    return max(end, heard)


def plan_leaders(
    applications: Iterable[state.ApplicationRecord],
    units: Iterable[state.UnitRecord],
    now: float,
    reach: AgentReach = ALWAYS_REACHABLE,
) -> list[LeaderChange]:
    """Keep one leader per application.

    The holder stays while it is alive and its lease runs (its agent renews it; see
    `AgentReach` for why a lease never runs out while the controller's bus is down). A
    holder that is gone is replaced by the lowest-numbered alive unit; a holder whose lease
    ran out (its agent stopped renewing) is replaced by another alive unit when there is
    one, or re-granted. Every change in the result also grants a fresh lease.
    """
    alive: dict[int, list[str]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: u.number):
        if unit.life == "alive":
            alive[unit.application_id].append(unit.name)
    changes = []
    for app in applications:
        candidates = alive.get(app.id, []) if app.life == "alive" else []
        holder = app.leader
        end = holder_lease_end(app, reach)
        if holder in candidates and end is not None and end > now:
            continue
        if holder in candidates:
            others = [name for name in candidates if name != holder]
            new: str | None = others[0] if others else holder
        else:
            new = candidates[0] if candidates else None
        if new is None and holder is None:
            continue
        changes.append(LeaderChange(app.id, app.name, new, holder))
    return changes


@dataclass(frozen=True)
class RelationState:
    """The relation rows of one model, as stored."""

    relations: Sequence[state.RelationRecord] = ()
    endpoints: Sequence[state.EndpointRecord] = ()
    scopes: Sequence[state.ScopeRecord] = ()
    databags: Sequence[state.DatabagRecord] = ()


def dead_relations(rows: RelationState) -> list[int]:
    """Dying relations no unit is in scope of any more: the controller deletes them."""
    occupied = {s.relation_id for s in rows.scopes if not s.remote}
    return [r.id for r in rows.relations if r.life != "alive" and r.id not in occupied]


def doomed_relations(
    applications: Iterable[state.ApplicationRecord], rows: RelationState, model_dying: bool = False
) -> list[state.RelationRecord]:
    """Alive relations between applications of which one is dying: they die with it (peer
    relations end with their units instead)."""
    dying = {a.name for a in applications if a.life != "alive" or model_dying}
    apps_of: dict[int, set[str]] = defaultdict(set)
    for endpoint in rows.endpoints:
        apps_of[endpoint.relation_id].add(endpoint.application)
    return [
        r
        for r in rows.relations
        if r.life == "alive" and len(apps_of[r.id]) > 1 and apps_of[r.id] & dying
    ]


def deletable_applications(
    applications: Iterable[state.ApplicationRecord],
    units: Iterable[state.UnitRecord],
    rows: RelationState,
    model_dying: bool = False,
) -> list[state.ApplicationRecord]:
    """Dying applications with no unit left and no relation with another application (their
    peer relations go with them)."""
    with_units = {u.application_id for u in units}
    in_relations: dict[int, set[str]] = defaultdict(set)
    for endpoint in rows.endpoints:
        in_relations[endpoint.relation_id].add(endpoint.application)
    related = {app for apps in in_relations.values() if len(apps) > 1 for app in apps}
    return [
        a
        for a in applications
        if (a.life == "dying" or model_dying) and a.id not in with_units and a.name not in related
    ]


@dataclass(frozen=True)
class SubordinateChanges:
    """What keeps one subordinate unit beside each principal unit: the units to add (per
    subordinate application, the principal units that need one) and the ones to remove."""

    add: Mapping[int, tuple[state.UnitRecord, ...]]
    """Subordinate application id → principal units (on a machine) without its unit."""
    kill: tuple[state.UnitRecord, ...]
    forced: Mapping[str, float] = field(default_factory=dict)
    """Subordinate units whose principal unit is removed with `--force` → when that one
    is forgotten at the latest: they are removed so too."""


def _container_pairs(
    applications: Sequence[state.ApplicationRecord],
    rows: RelationState,
    subordinates: frozenset[str],
) -> set[tuple[str, str]]:
    """(subordinate, principal) application names joined by an alive container-scoped
    relation."""
    apps_of: dict[int, list[str]] = defaultdict(list)
    container: set[int] = set()
    for endpoint in rows.endpoints:
        apps_of[endpoint.relation_id].append(endpoint.application)
        if endpoint.scope == "container":
            container.add(endpoint.relation_id)
    alive_apps = {a.name for a in applications if a.life == "alive"}
    pairs = set()
    for relation in rows.relations:
        names = apps_of.get(relation.id, [])
        if relation.life != "alive" or relation.id not in container or len(names) != 2:
            continue
        if not set(names) <= alive_apps:
            continue
        for sub, principal in (names, names[::-1]):
            if sub in subordinates and principal not in subordinates:
                pairs.add((sub, principal))
    return pairs


def subordinate_changes(
    applications: Sequence[state.ApplicationRecord],
    units: Sequence[state.UnitRecord],
    rows: RelationState,
    subordinates: frozenset[str],
) -> SubordinateChanges:
    """Juju's subordinate rule: while a subordinate application and a principal one are
    joined by an alive container-scoped relation, every alive principal unit with a machine
    has one unit of the subordinate beside it. A subordinate unit dies with its principal
    unit, and when that relation (or either application) goes."""
    pairs = _container_pairs(applications, rows, subordinates)
    apps = {a.name: a for a in applications}
    by_name = {u.name: u for u in units}
    has: set[tuple[str, str]] = {(u.application, u.principal) for u in units if u.principal}
    add: dict[int, list[state.UnitRecord]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: (u.application, u.number)):
        if unit.life != "alive" or unit.machine_number is None or unit.principal is not None:
            continue
        for sub, principal in sorted(pairs):
            if principal == unit.application and (sub, unit.name) not in has:
                add[apps[sub].id].append(unit)
    kill = []
    forced: dict[str, float] = {}
    for unit in units:
        beside = by_name.get(unit.principal) if unit.principal is not None else None
        if (
            beside is not None
            and beside.force_removal
            and beside.remove_after is not None
            and not unit.force_removal
        ):
            forced[unit.name] = beside.remove_after
        if unit.principal is None or unit.life != "alive":
            continue
        if (
            beside is None
            or beside.life != "alive"
            or (unit.application, beside.application) not in pairs
        ):
            kill.append(unit)
    killed = {u.name for u in kill}
    forced_kills = [u for u in units if u.name in forced and u.name not in killed]
    return SubordinateChanges(
        {k: tuple(v) for k, v in add.items()}, tuple(kill + forced_kills), forced
    )


class RelationIndex:
    """The relation rows of one model indexed for building every unit's view at once."""

    def __init__(self, rows: RelationState, units: Sequence[state.UnitRecord]) -> None:
        self.relations = sorted(rows.relations, key=lambda r: r.id)
        self.endpoints: dict[int, list[state.EndpointRecord]] = defaultdict(list)
        for endpoint in rows.endpoints:
            self.endpoints[endpoint.relation_id].append(endpoint)
        self.in_scope: dict[int, set[str]] = defaultdict(set)
        for scope in rows.scopes:
            self.in_scope[scope.relation_id].add(scope.unit)
        self.bags: dict[tuple[int, str, str], state.DatabagRecord] = {
            (b.relation_id, b.owner_kind, b.owner): b for b in rows.databags
        }
        self.unit_bags: dict[tuple[int, str], list[state.DatabagRecord]] = defaultdict(list)
        for bag in rows.databags:
            if bag.owner_kind == "unit":
                self.unit_bags[(bag.relation_id, bag.application)].append(bag)
        self.units = {u.name: u for u in units}
        self.remote_units = {s.unit for s in rows.scopes if s.remote}

    def version(self, relation_id: int, owner_kind: str, owner: str) -> int:
        bag = self.bags.get((relation_id, owner_kind, owner))
        return 0 if bag is None else bag.version

    def data(self, relation_id: int, owner_kind: str, owner: str) -> dict[str, str]:
        bag = self.bags.get((relation_id, owner_kind, owner))
        return {} if bag is None else dict(bag.data)


def relation_views(
    unit: state.UnitRecord, app: state.ApplicationRecord, index: RelationIndex, model_uuid: str = ""
) -> tuple[bus.RelationRemote, ...]:
    """Every relation as `unit` sees it (docs/runtime-contract.md, "Relations").

    A unit sees an alive relation of its application while it is alive, and any relation
    whose scope it is in (so a dying unit or relation can depart and break). `units` lists
    the remote units (for peers: the other units) in scope and alive, with the version of
    their bag; `unit_data` keeps the bags of units that departed while the relation lives.
    The own application's bag is readable by the leader, and by everyone for peers.
    """
    views = []
    for relation in index.relations:
        endpoints = index.endpoints.get(relation.id, [])
        mine = [e for e in endpoints if e.application == app.name]
        if not mine:
            continue
        local = mine[0]
        scope = index.in_scope[relation.id]
        if unit.name not in scope and (relation.life != "alive" or unit.life != "alive"):
            continue
        peer = local.role == "peer"
        others = [e for e in endpoints if e is not local]
        remote_app = app.name if peer or not others else others[0].application
        container = any(e.scope == "container" for e in endpoints)

        def visible(name: str, container: bool = container) -> bool:
            other = index.units.get(name)
            return not container or other is None or unit.shares_container_with(other)

        members = {
            name: index.version(relation.id, "unit", name)
            for name in sorted(scope)
            if name != unit.name
            and name.split("/", 1)[0] == remote_app
            and (
                name in index.remote_units
                or (name in index.units and index.units[name].life == "alive" and visible(name))
            )
        }
        views.append(
            bus.RelationRemote(
                id=relation.id,
                endpoint=local.endpoint,
                interface=local.interface,
                role="peer" if peer else ("provider" if local.role == "provider" else "requirer"),
                remote_application=remote_app,
                life="alive" if relation.life == "alive" else "dying",
                units=members,
                app_version=index.version(relation.id, "app", remote_app),
                unit_data={
                    bag.owner: dict(bag.data)
                    for bag in index.unit_bags[(relation.id, remote_app)]
                    if bag.owner != unit.name and visible(bag.owner)
                },
                app_data=index.data(relation.id, "app", remote_app),
                local_unit_data=index.data(relation.id, "unit", unit.name),
                local_app_data=(
                    index.data(relation.id, "app", app.name)
                    if peer or app.leader == unit.name
                    else None
                ),
                remote_model_uuid=model_uuid,
            )
        )
    return tuple(views)


def resource_views(
    charm: state.CharmRecord, records: Sequence[state.ResourceRecord]
) -> tuple[ResourceRemote, ...]:
    """The application's attached resources, with the file names the charm declares."""
    declared = charm.meta.get("resources") or {}
    views = []
    for record in records:
        spec = declared.get(record.name) if isinstance(declared, dict) else None
        filename = spec.get("filename") if isinstance(spec, dict) else None
        views.append(
            ResourceRemote(
                name=record.name,
                filename=str(filename or record.name),
                sha256=record.sha256,
                revision=record.revision,
            )
        )
    return tuple(views)


@dataclass(frozen=True)
class ModelFacts:
    """What every unit's desired state is built from, indexed once per model."""

    model: state.ModelRecord
    relations: RelationIndex
    secrets: SecretIndex
    addresses: Mapping[int, str]
    actions: Mapping[str, Sequence[bus.ActionRequest]]
    storage: Mapping[str, Sequence[storage_schema.StorageRemote]]
    resources: Mapping[str, Sequence[state.ResourceRecord]]
    update_status_interval: float
    retry_hooks: bool
    fork_hooks: bool
    logging_config: Mapping[str, str]

    @classmethod
    def index(
        cls,
        model: state.ModelRecord,
        units: Sequence[state.UnitRecord],
        machines: Sequence[state.MachineRecord],
        relations: RelationState,
        actions: Sequence[state.ActionRecord],
        secrets: state.SecretRows,
        storage: Sequence[state.StorageRecord],
        resources: Sequence[state.ResourceRecord],
    ) -> ModelFacts:
        app_resources: dict[str, list[state.ResourceRecord]] = defaultdict(list)
        for resource in resources:
            app_resources[resource.application].append(resource)
        attached: dict[str, list[storage_schema.StorageRemote]] = defaultdict(list)
        for instance in storage:
            attached[instance.unit].append(instance.remote())
        queued: dict[str, list[bus.ActionRequest]] = defaultdict(list)
        for action in sorted(actions, key=lambda a: a.id):
            if action.status in ("pending", "running"):
                queued[action.unit].append(
                    bus.ActionRequest(id=str(action.id), name=action.name, params=action.params)
                )
        index = RelationIndex(relations, units)
        config = model.config
        return cls(
            model=model,
            relations=index,
            secrets=SecretIndex(
                secrets, (r.id for r in index.relations), (u.name for u in units), model.uuid
            ),
            addresses={m.number: m.address for m in machines},
            actions=queued,
            storage=attached,
            resources=app_resources,
            update_status_interval=parse_duration(config.get("update-status-hook-interval", "5m")),
            retry_hooks=config.get("automatically-retry-hooks", True) is not False,
            fork_hooks=config.get("hook-fork-server", True) is not False,
            logging_config=logs.parse_logging_config(
                str(config.get("logging-config") or logs.DEFAULT_LOGGING_CONFIG)
            ),
        )


def unit_remote(
    facts: ModelFacts,
    unit: state.UnitRecord,
    app: state.ApplicationRecord,
    charm: state.CharmRecord,
) -> bus.UnitRemoteState:
    """The desired state of one unit, as its agent receives it."""
    config = effective_config(charm, app.config)
    address = facts.addresses.get(unit.machine_number) if unit.machine_number is not None else ""
    return bus.UnitRemoteState(
        unit=unit.name,
        application=app.name,
        life="alive" if unit.life == "alive" else "dying",
        principal=unit.principal or "",
        charm=bus.CharmRef(sha256=charm.sha256, name=charm.name, revision=app.charm_revision),
        config=config,
        config_hash=config_hash(charm.sha256, config),
        leader=app.leader == unit.name,
        update_status_interval=facts.update_status_interval,
        relations=relation_views(unit, app, facts.relations, facts.model.uuid),
        commit_seq=unit.commit_seq,
        leader_settings=dict(app.leader_settings),
        leader_settings_version=app.leader_settings_version,
        state=dict(unit.charm_state),
        actions=tuple(facts.actions.get(unit.name, ())),
        resolved="retry"
        if unit.resolved == "retry"
        else ("no-retry" if unit.resolved == "no-retry" else "none"),
        resolved_seq=unit.resolved_seq,
        private_address=address or "127.0.0.1",
        retry_hooks=facts.retry_hooks,
        fork_hooks=facts.fork_hooks,
        log_level=logs.unit_log_level(facts.logging_config, unit.name),
        secrets=unit_secrets(facts.secrets, unit, app),
        storage=tuple(facts.storage.get(unit.name, ())),
        resources=resource_views(charm, facts.resources.get(app.name, ())),
        report_seq=state.accepted_seq(
            unit.name, unit.report_seq, unit.leader_set_seq, app.leader, app.status_seq
        ),
        force=unit.life != "alive" and unit.force_removal,
    )


def machine_snapshots(
    model: state.ModelRecord,
    applications: Sequence[state.ApplicationRecord],
    units: Sequence[state.UnitRecord],
    machines: Sequence[state.MachineRecord],
    charms: Mapping[str, state.CharmRecord],
    relations: RelationState | None = None,
    actions: Sequence[state.ActionRecord] = (),
    secrets: state.SecretRows | None = None,
    storage: Sequence[state.StorageRecord] = (),
    resources: Sequence[state.ResourceRecord] = (),
) -> dict[int, bus.MachineSnapshot]:
    """The desired state of every machine's units (revision is the model's)."""
    facts = ModelFacts.index(
        model,
        units,
        machines,
        relations or RelationState(),
        actions,
        secrets or state.SecretRows(),
        storage,
        resources,
    )
    apps = {a.id: a for a in applications}
    by_machine: dict[int, list[bus.UnitRemoteState]] = defaultdict(list)
    for unit in units:
        if unit.machine_number is None:
            continue
        app = apps[unit.application_id]
        by_machine[unit.machine_number].append(
            unit_remote(facts, unit, app, charms[app.charm_sha256])
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


def unit_digest(unit: bus.UnitRemoteState) -> str:
    """Identity of a unit's desired state, less its report number (see `snapshot_digest`)."""
    return hashlib.sha256(unit.model_dump_json(exclude={"report_seq"}).encode()).hexdigest()


def machine_digest(snapshot: bus.MachineSnapshot, unit_digests: Sequence[str]) -> str:
    """`snapshot_digest`, from the `unit_digest` of each of its units in order."""
    header = snapshot.model_dump_json(exclude={"revision", "units"})
    return hashlib.sha256("\n".join([header, *unit_digests]).encode()).hexdigest()


def snapshot_digest(snapshot: bus.MachineSnapshot) -> str:
    """Identity of a snapshot's content, ignoring its revision (to skip no-op sends) and the
    report numbers the controller holds (which move with every report: an agent needs them
    only after it lost its state, and then it says hello and gets a fresh snapshot). Made of
    its units' digests, so a unit's state kept from an earlier pass keeps its digest too."""
    return machine_digest(snapshot, [unit_digest(unit) for unit in snapshot.units])
