"""The `kubernetes` provider: models on a cluster, applications as StatefulSets, units as pods.

The controller core still drives one agent per machine; on Kubernetes each unit has a machine
of its own (never shown) whose "instance" is the unit's pod, `<application>-<unit number>`.
`ensure_machine` only hands the pod's agent its credential (a key of the application's
Secret); the pods themselves are the StatefulSet's, sized by `ensure_application`. A watch
per model namespace keeps the pods' states (list, then watch from its resourceVersion; list
again on 410 Gone), and wakes the reconciler when a unit's pod changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from runecraft import _retry, errors
from runecraft.controller.providers._base import (
    ApplicationSpec,
    InstanceInfo,
    InstanceState,
    MachineSpec,
    ProviderContext,
)
from runecraft.controller.providers.kubernetes import _objects as o
from runecraft.controller.providers.kubernetes._api import ClusterApi, VersionGoneError

__all__ = ["DEFAULT_AGENT_IMAGE", "KubernetesProvider"]

logger = structlog.get_logger(__name__)

DEFAULT_AGENT_IMAGE = "ghcr.io/runecraft/agent:0.1"
FIRST_LIST_WAIT = 2.0
"""Seconds a state query waits for a model's first pod listing (a pass must not hang on
an API that does not answer)."""


@dataclass(eq=False)
class _PodWatch:
    """The pods of one model's namespace, kept by list + watch."""

    model_uuid: str
    namespace: str
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""
    tried: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


def _unit_of(spec: MachineSpec) -> tuple[str, int]:
    if len(spec.units) != 1:
        raise errors.PermanentError(
            f"a Kubernetes machine runs exactly one unit; machine {spec.number} has "
            f"{len(spec.units)}"
        )
    app, _, number = spec.units[0].partition("/")
    return app, int(number)


class KubernetesProvider:
    """One cluster (an added cloud), many models: one namespace each."""

    name = "kubernetes"

    def __init__(self, context: ProviderContext) -> None:
        if context.cloud is None or not context.cloud.config:
            raise errors.InvalidSpecError(
                "the kubernetes provider serves clouds added with `rune add-k8s`"
            )
        self._context = context
        self._api: ClusterApi | None = None
        self._watches: dict[str, _PodWatch] = {}
        self._replicas: dict[tuple[str, str], int] = {}
        """(model uuid, application) -> the replicas last set."""
        self._pods: dict[tuple[str, int], str] = {}
        """(model uuid, machine number) -> "namespace/pod"."""
        self._namespace_lock = asyncio.Lock()

    @property
    def api(self) -> ClusterApi:
        if self._api is None:
            assert self._context.cloud is not None
            self._api = ClusterApi(self._context.cloud.config)
        return self._api

    # --- the model's namespace -------------------------------------------------------

    async def _namespace(self, name: str, model_uuid: str) -> str:
        """The model's namespace, made once (machines of a model are made side by side)."""
        async with self._namespace_lock:
            if model_uuid not in self._watches:
                await self.api.ensure(o.namespace(name, model_uuid), model_uuid)
                self._watch(model_uuid, name)
        return name

    async def release_model(self, model_name: str, model_uuid: str) -> None:
        watch = self._watches.pop(model_uuid, None)
        if watch is not None and watch.task is not None:
            watch.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch.task
        await self.api.delete("Namespace", model_name, None, model_uuid)
        self._replicas = {k: v for k, v in self._replicas.items() if k[0] != model_uuid}
        self._pods = {k: v for k, v in self._pods.items() if k[0] != model_uuid}

    # --- applications ----------------------------------------------------------------

    async def ensure_application(self, spec: ApplicationSpec) -> None:
        ns = await self._namespace(spec.model_name, spec.model_uuid)
        uuid = spec.model_uuid
        spec = spec if spec.agent_image else replace(spec, agent_image=DEFAULT_AGENT_IMAGE)
        for manifest in (
            o.service_account(spec, ns),
            o.endpoints_service(spec, ns),
            o.service(spec, ns),
        ):
            await self.api.ensure(manifest, uuid)
        if await self.api.get("Secret", o.agent_secret_name(spec.name), ns) is None:
            await self.api.ensure(o.agent_secret(uuid, spec.name, ns), uuid)
        if spec.trust:
            await self.api.ensure(o.role(spec, ns), uuid)
            await self.api.ensure(o.role_binding(spec, ns), uuid)
        else:
            await self.api.delete("RoleBinding", spec.name, ns, uuid)
            await self.api.delete("Role", spec.name, ns, uuid)
        await self.api.ensure(o.stateful_set(spec, ns), uuid)
        self._replicas[(uuid, spec.name)] = spec.scale
        logger.info("application ensured", application=spec.name, replicas=spec.scale)

    async def remove_application(self, model_name: str, model_uuid: str, name: str) -> None:
        ns = model_name
        for kind, obj in (
            ("StatefulSet", name),
            ("Service", name),
            ("Service", f"{name}-endpoints"),
            ("RoleBinding", name),
            ("Role", name),
            ("ServiceAccount", name),
            ("Secret", o.agent_secret_name(name)),
        ):
            await self.api.delete(kind, obj, ns, model_uuid)
        self._replicas.pop((model_uuid, name), None)

    async def application_names(self, model_name: str, model_uuid: str) -> set[str]:
        return await self.api.names("StatefulSet", model_name, o.model_labels(model_uuid))

    # --- units' machines -------------------------------------------------------------

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        """Give the unit's pod its agent's config (with its new credential)."""
        app, number = _unit_of(spec)
        ns = await self._namespace(spec.model_name, spec.model_uuid)
        config = spec.agent_config.model_copy(update={"data_dir": o.AGENT_DATA_DIR})
        # A merge patch adds this unit's key and keeps the others (the Secret must be ours).
        secret = o.agent_secret(spec.model_uuid, app, ns, {number: config.model_dump_json()})
        await self.api.ensure(secret, spec.model_uuid)
        pod = f"{app}-{number}"
        self._pods[(spec.model_uuid, spec.number)] = f"{ns}/{pod}"
        found = self._watches[spec.model_uuid].pods.get(pod)
        address = (found or {}).get("status", {}).get("podIP") or ""
        return InstanceInfo(instance_id=f"{ns}/{pod}", hostname=pod, address=address)

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        instance = self._pods.get((model_uuid, number))
        if instance is None:
            return False
        states = await self.instance_states(model_uuid, {number: instance})
        return states[number].running

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        """The pod goes with the StatefulSet's replicas; only forget it here."""
        self._pods.pop((model_uuid, number), None)

    async def instance_states(
        self, model_uuid: str, instances: dict[int, str]
    ) -> dict[int, InstanceState]:
        if not instances:
            return {}
        ns = next(iter(instances.values())).partition("/")[0]
        watch = self._watch(model_uuid, ns)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watch.tried.wait(), FIRST_LIST_WAIT)
        if watch.error or not watch.tried.is_set():
            # The API's trouble, not the pods': a note for units not up yet, no verdict.
            note = InstanceState(
                running=True, message=watch.error or "waiting for the Kubernetes API"
            )
            return dict.fromkeys(instances, note)
        states = {}
        for number, instance in instances.items():
            pod_name = instance.partition("/")[2]
            self._pods[(model_uuid, number)] = instance
            expected = await self._expected(model_uuid, ns, pod_name)
            states[number] = o.instance_state(watch.pods.get(pod_name), expected)
        return states

    async def _expected(self, model_uuid: str, ns: str, pod_name: str) -> bool:
        """Whether the StatefulSet has the pod's ordinal (so Kubernetes makes it again)."""
        app, _, number = pod_name.rpartition("-")
        replicas = self._replicas.get((model_uuid, app))
        if replicas is None:
            found = await self.api.get("StatefulSet", app, ns)
            replicas = 0 if found is None else int(found.get("spec", {}).get("replicas") or 0)
            self._replicas[(model_uuid, app)] = replicas
        return number.isdigit() and int(number) < replicas

    # --- the watch -------------------------------------------------------------------

    def _watch(self, model_uuid: str, ns: str) -> _PodWatch:
        watch = self._watches.get(model_uuid)
        if watch is None:
            watch = self._watches[model_uuid] = _PodWatch(model_uuid, ns)
            watch.task = asyncio.create_task(self._keep_watching(watch))
        return watch

    async def _keep_watching(self, watch: _PodWatch) -> None:
        """List, then watch from the listing's version; list again when the version is
        gone; back off while the API fails (its error is every unit's status meanwhile)."""
        labels = o.model_labels(watch.model_uuid)
        failures = 0
        while True:
            try:
                pods, version = await self.api.list_pods(watch.namespace, labels)
                self._replace(watch, {p["metadata"]["name"]: p for p in pods}, error="")
                failures = 0
                async for event in self.api.watch_pods(watch.namespace, labels, version):
                    self._apply(watch, event.type, event.pod)
            except VersionGoneError:
                logger.info("pod watch expired; listing again", namespace=watch.namespace)
                continue
            except errors.RunecraftError as exc:
                failures += 1
                if exc.message != watch.error:
                    logger.warning("pod watch failed", namespace=watch.namespace, error=exc.message)
                self._replace(watch, watch.pods, error=exc.message)
                await asyncio.sleep(_retry.backoff_delay(failures, first=0.5, cap=30.0))

    def _replace(self, watch: _PodWatch, pods: dict[str, dict[str, Any]], error: str) -> None:
        changed = pods != watch.pods or error != watch.error
        watch.pods, watch.error = pods, error
        watch.tried.set()
        if changed:
            self._context.changed(watch.model_uuid)

    def _apply(self, watch: _PodWatch, kind: str, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        before = watch.pods.get(name)
        if kind == "DELETED":
            watch.pods.pop(name, None)
        else:
            watch.pods[name] = pod
        after = watch.pods.get(name)
        if o.instance_state(before, True) != o.instance_state(after, True):
            self._context.changed(watch.model_uuid)

    async def close(self) -> None:
        for watch in self._watches.values():
            if watch.task is not None:
                watch.task.cancel()
        await asyncio.gather(
            *(w.task for w in self._watches.values() if w.task), return_exceptions=True
        )
        self._watches.clear()
        if self._api is not None:
            await self._api.close()
            self._api = None
