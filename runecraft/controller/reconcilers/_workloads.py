"""Applications on a substrate that runs them itself (Kubernetes): the specs the substrate
is given, and what it says of each unit's pod.

`application_specs` and `plan_workloads` are pure. `Workloads` keeps, per model, the digest of
the spec last applied to each application (an unchanged application costs nothing; a
restarted controller applies each once more, which is idempotent) and each failing
application's back-off, and writes what the substrate reports of the units' pods into their
machines' rows: the pod's address, and why it is not up.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import structlog

from runecraft import errors
from runecraft.controller.providers import (
    ApplicationSpec,
    InstanceState,
    Provider,
    WorkloadProvider,
)
from runecraft.controller.reconcilers._actions import ModelState
from runecraft.controller.reconcilers._provisioning import backoff
from runecraft.controller.state import (
    ApplicationRecord,
    CharmRecord,
    MachineRecord,
    ModelRecord,
    ModelSnapshot,
    Store,
    UnitRecord,
)
from runecraft.schemas import resources as resource_schema

__all__ = [
    "EnsureApplication",
    "RemoveApplication",
    "Workloads",
    "application_specs",
    "machine_updates",
    "plan_workloads",
]

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EnsureApplication:
    spec: ApplicationSpec
    digest: str


@dataclass(frozen=True)
class RemoveApplication:
    name: str


def _ports(units: Sequence[UnitRecord]) -> tuple[tuple[str, int, int], ...]:
    """The units' opened ports as (protocol, from, to); `icmp` has none."""
    found = set()
    for unit in units:
        for opened in unit.opened_ports:
            ports, _, protocol = opened.partition("/")
            if ports == "icmp" or not protocol:
                continue
            low, _, high = ports.partition("-")
            found.add((protocol, int(low), int(high or low)))
    return tuple(sorted(found))


def _images(charm: CharmRecord, attached: Mapping[str, str]) -> dict[str, str]:
    """Each workload container's image: its `oci-image` resource as attached, else the
    resource's `upstream-source`."""
    resources = charm.meta.get("resources") or {}
    images = {}
    for name, container in (charm.meta.get("containers") or {}).items():
        resource = (container or {}).get("resource")
        upstream = (resources.get(resource) or {}).get("upstream-source", "")
        images[name] = attached.get(resource or "") or upstream or ""
    return images


def _scale(units: Sequence[UnitRecord], provisioned: frozenset[int]) -> int:
    """Pods the StatefulSet keeps: units 0..n-1 whose machines are provisioned (their
    agent's credential is in the Secret before their pod starts), dying ones included (a
    leaving unit runs its departure hooks in its pod, which goes once the unit does)."""
    ready = {u.number for u in units if u.machine_number in provisioned}
    scale = 0
    while scale in ready:
        scale += 1
    return scale


def application_specs(
    model: ModelRecord,
    applications: Sequence[ApplicationRecord],
    units: Sequence[UnitRecord],
    charms: Mapping[str, CharmRecord],
    images: Mapping[tuple[str, str], str],
    api_url: str,
    provisioned: frozenset[int] = frozenset(),
) -> list[ApplicationSpec]:
    """What the substrate must run for each application (`_scale` says how many pods).
    `images`: attached oci-image resources by (application, resource); `provisioned`: the
    machines whose instance the provider made."""
    specs = []
    for app in applications:
        mine = [u for u in units if u.application_id == app.id]
        charm = charms[app.charm_sha256]
        attached = {res: image for (owner, res), image in images.items() if owner == app.name}
        specs.append(
            ApplicationSpec(
                model_name=model.name,
                model_uuid=model.uuid,
                name=app.name,
                charm=charm.name,
                scale=_scale(mine, provisioned),
                containers=_images(charm, attached),
                agent_image=str(model.config.get("agent-image") or ""),
                api_url=api_url,
                trust=app.trust,
                ports=_ports(mine),
            )
        )
    return specs


def spec_digest(spec: ApplicationSpec) -> str:
    return hashlib.sha256(json.dumps(asdict(spec), sort_keys=True).encode()).hexdigest()


def plan_workloads(
    specs: Sequence[ApplicationSpec],
    applied: Mapping[str, str],
    retry_at: Mapping[str, float],
    now: float,
) -> list[EnsureApplication | RemoveApplication]:
    """Ensure each application whose spec changed since it was last applied (once its
    retry is due); remove those applied that are no longer in the model."""
    actions: list[EnsureApplication | RemoveApplication] = []
    for spec in specs:
        digest = spec_digest(spec)
        if applied.get(spec.name) != digest and retry_at.get(spec.name, 0.0) <= now:
            actions.append(EnsureApplication(spec, digest))
    names = {spec.name for spec in specs}
    actions += [
        RemoveApplication(name)
        for name in sorted(set(applied) - names)
        if retry_at.get(name, 0.0) <= now
    ]
    return actions


def machine_updates(
    machines: Sequence[MachineRecord], states: Mapping[int, InstanceState], now: float
) -> dict[int, dict[str, Any]]:
    """The machine-row changes that the pods' states call for. A pod that is stuck
    (crash loop, image pull) is an error whatever the agent said last; why a pod is not up
    yet shows only on a machine whose agent has not started (the agent's own reports win
    over a passing note such as an unreachable API)."""
    updates: dict[int, dict[str, Any]] = {}
    for machine in machines:
        state = states.get(machine.number)
        if state is None:
            continue
        values: dict[str, Any] = {}
        if state.address and state.address != machine.address:
            values["address"] = state.address
        if state.failed:
            wanted: tuple[str, str] | None = ("error", state.message)
        elif machine.status == "error" or (machine.status != "started" and state.message):
            wanted = ("pending", state.message)
        else:
            wanted = None
        if wanted is not None and wanted != (machine.status, machine.status_message):
            values |= {"status": wanted[0], "status_message": wanted[1], "status_since": now}
        if values:
            updates[machine.number] = values
    return updates


@dataclass(frozen=True)
class _Failure:
    """An application the substrate refused: how often, when it is tried again, and why
    (which its units that are not up show meanwhile)."""

    count: int
    retry_at: float
    message: str


@dataclass(kw_only=True, eq=False)
class Workloads:
    """The workload step of a pass, for models on a WorkloadProvider's cloud."""

    store: Store
    providers: Callable[[str], Provider]
    api_url: str
    _applied: dict[str, dict[str, str]] = field(default_factory=dict, init=False)
    _failures: dict[tuple[str, str], _Failure] = field(default_factory=dict, init=False)
    _images: dict[str, str] = field(default_factory=dict, init=False)
    """Image named by an attached oci-image resource, by the resource's sha256."""

    def provider(self, model: ModelRecord) -> WorkloadProvider | None:
        if model.type != "caas":
            return None
        provider = self.providers(model.cloud)
        return provider if isinstance(provider, WorkloadProvider) else None

    def next_due(self, model_uuid: str) -> float | None:
        """When a failed application of the model is tried again."""
        times = [f.retry_at for (uuid, _), f in self._failures.items() if uuid == model_uuid]
        return min(times, default=None)

    async def observe(
        self, provider: WorkloadProvider, state: ModelState, now: float
    ) -> frozenset[int]:
        """The machines whose pod the substrate has (or is making); their rows updated."""
        occupied = {u.machine_number for u in state.units if u.machine_number is not None}
        machines = [
            m
            for m in state.machines
            if m.number in occupied and m.instance_id and m.number not in state.in_flight
        ]
        instances = {m.number: m.instance_id for m in machines if m.instance_id}
        states = await provider.instance_states(state.model.uuid, instances)
        for number, refused in self._refused(state, machines).items():
            if number in states:  # the pod's own state still says whether it is there
                states[number] = replace(refused, running=states[number].running)
        await self._write(state, machines, states, now)
        return frozenset(n for n, s in states.items() if s.running)

    def _refused(
        self, state: ModelState, machines: Sequence[MachineRecord]
    ) -> dict[int, InstanceState]:
        """The machines of units whose application the substrate refused, not up yet: the
        refusal is their state until the application is made."""
        apps = {a.id: a.name for a in state.applications}
        owner = {u.machine_number: apps.get(u.application_id) for u in state.units}
        refused = {}
        for machine in machines:
            failure = self._failures.get((state.model.uuid, owner.get(machine.number) or ""))
            if failure is not None and machine.status != "started":
                refused[machine.number] = InstanceState(
                    running=False, message=failure.message, failed=True
                )
        return refused

    async def _write(
        self,
        state: ModelState,
        machines: Sequence[MachineRecord],
        states: Mapping[int, InstanceState],
        now: float,
    ) -> None:
        updates = machine_updates(machines, states, now)
        if updates:
            by_number = {m.number: m for m in machines}
            async with self.store.write(state.model.name) as tx:
                for number, values in updates.items():
                    await tx.machines.update(by_number[number], **values)

    async def apply(
        self, provider: WorkloadProvider, state: ModelState, snap: ModelSnapshot, now: float
    ) -> bool:
        """Bring the substrate's applications to the model's; whether anything was done."""
        model = state.model
        images = await self._attached_images(snap)
        provisioned = frozenset(m.number for m in state.machines if m.instance_id)
        specs = application_specs(
            model, state.applications, state.units, snap.charms, images, self.api_url, provisioned
        )
        applied = await self._applied_of(provider, model, bool(specs))
        retry = {app: f.retry_at for (uuid, app), f in self._failures.items() if uuid == model.uuid}
        actions = plan_workloads(specs, applied, retry, now)
        for action in actions:
            if isinstance(action, RemoveApplication):
                try:
                    await provider.remove_application(model.name, model.uuid, action.name)
                except errors.RunecraftError as exc:
                    self._back_off(model.uuid, action.name, exc, now)
                    continue
                del applied[action.name]
                self._failures.pop((model.uuid, action.name), None)
                continue
            try:
                await provider.ensure_application(action.spec)
            except errors.RunecraftError as exc:
                await self._failed(state, action.spec.name, exc, now)
                continue
            applied[action.spec.name] = action.digest
            self._failures.pop((model.uuid, action.spec.name), None)
        return bool(actions)

    async def _applied_of(
        self, provider: WorkloadProvider, model: ModelRecord, has_applications: bool
    ) -> dict[str, str]:
        """What was applied for the model: remembered, or (the first time this controller
        sees it with applications) every application the substrate runs for it, as not yet
        applied, so those no longer in the model are removed and the others ensured once.
        An empty model asks nothing of the substrate (its namespace goes with it)."""
        applied = self._applied.get(model.uuid)
        if applied is None and not has_applications:
            return {}
        if applied is None:
            try:
                running = await provider.application_names(model.name, model.uuid)
            except errors.RunecraftError as exc:  # best effort: the model's own still apply
                logger.warning("cannot list the substrate's applications", error=exc.message)
                running = set()
            applied = self._applied[model.uuid] = dict.fromkeys(running, "")
        return applied

    async def release(self, provider: WorkloadProvider, model: ModelRecord) -> None:
        """The model is gone: remove its namespace and forget it."""
        await provider.release_model(model.name, model.uuid)
        self._applied.pop(model.uuid, None)
        self._failures = {k: v for k, v in self._failures.items() if k[0] != model.uuid}

    async def _failed(
        self, state: ModelState, app: str, exc: errors.RunecraftError, now: float
    ) -> None:
        """The application's units that are not up show why; it is tried again later."""
        self._back_off(state.model.uuid, app, exc, now)
        await self._write(state, state.machines, self._refused(state, state.machines), now)

    def _back_off(self, model_uuid: str, app: str, exc: errors.RunecraftError, now: float) -> None:
        """What the substrate refused for an application is tried again later, backing off."""
        before = self._failures.get((model_uuid, app))
        count = 1 if before is None else before.count + 1
        self._failures[(model_uuid, app)] = _Failure(count, now + backoff(count), exc.message)
        logger.warning("substrate refused an application", application=app, error=exc.message)

    async def _attached_images(self, snap: ModelSnapshot) -> dict[tuple[str, str], str]:
        """Attached oci-image resources: Juju's document (`registrypath`) or an image name."""
        images = {}
        for resource in snap.resources:
            app = next((a for a in snap.applications if a.name == resource.application), None)
            charm = snap.charms.get(app.charm_sha256) if app else None
            declared = ((charm.meta.get("resources") or {}) if charm else {}).get(resource.name)
            if not declared or declared.get("type") != "oci-image":
                continue
            if resource.sha256 not in self._images:
                blob = await self.store.resource_blob(resource.sha256)
                self._images[resource.sha256] = resource_schema.image_name(blob)
            images[(resource.application, resource.name)] = self._images[resource.sha256]
        return images
