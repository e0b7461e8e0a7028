"""The StatefulSet controller of kube-controller-manager, cut down to what tests need.

Works only through the API (two informers and lightkube calls). Pods are managed in
parallel (`podManagementPolicy: Parallel` semantics whatever the spec says): pods
`NAME-0 … NAME-(replicas-1)` exist, higher ordinals are deleted highest first, and a pod
deleted behind the controller's back is made again.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import re
from pathlib import Path

import structlog
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.resources.apps_v1 import StatefulSet, StatefulSetStatus
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tests.k8s_cluster.informer import JSON, Informer
from tests.k8s_cluster.waiting import build

log = structlog.get_logger("tests.k8s_cluster")


def owner_uid(pod: JSON) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "StatefulSet" and ref.get("controller"):
            return str(ref.get("uid"))
    return None


def ordinal(sts_name: str, pod_name: str) -> int | None:
    match = re.fullmatch(re.escape(sts_name) + r"-(\d+)", pod_name)
    return int(match[1]) if match else None


def pod_for(sts: JSON, index: int) -> JSON:
    """The pod the StatefulSet wants at this ordinal, made from its template."""
    meta, spec = sts["metadata"], sts["spec"]
    template = copy.deepcopy(spec.get("template", {}))
    name = f"{meta['name']}-{index}"
    pod_meta = template.get("metadata", {})
    labels = dict(pod_meta.get("labels") or {})
    labels["statefulset.kubernetes.io/pod-name"] = name
    labels["apps.kubernetes.io/pod-index"] = str(index)
    pod_spec = template.get("spec", {})
    pod_spec["hostname"] = name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    volumes = pod_spec.setdefault("volumes", [])
    for claim in spec.get("volumeClaimTemplates") or []:
        claim_name = claim["metadata"]["name"]
        volumes.append(
            {
                "name": claim_name,
                "persistentVolumeClaim": {"claimName": f"{claim_name}-{name}"},
            }
        )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(pod_meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "StatefulSet",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": pod_spec,
    }


def _ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class StatefulSetController:
    """Keeps every StatefulSet's pods and status; `start`/`stop` around a test."""

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self._client: AsyncClient | None = None
        self._sets: Informer | None = None
        self._pods: Informer | None = None
        self._dirty: set[tuple[str, str]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = AsyncClient(config=KubeConfig.from_file(self._kubeconfig))
        self._sets = Informer(self._client, StatefulSet, self._on_set)
        self._pods = Informer(self._client, Pod, self._on_pod)
        self._sets.start()
        self._pods.start()
        self._task = asyncio.create_task(self._loop(), name="statefulset-controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for informer in (self._sets, self._pods):
            if informer is not None:
                await informer.stop()
        if self._client is not None:
            await self._client.close()

    async def _on_set(self, event: str, sts: JSON) -> None:
        self._mark(sts["metadata"]["namespace"], sts["metadata"]["name"])

    async def _on_pod(self, event: str, pod: JSON) -> None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "StatefulSet":
                self._mark(pod["metadata"]["namespace"], ref["name"])

    def _mark(self, namespace: str, name: str) -> None:
        self._dirty.add((namespace, name))
        self._wake.set()

    async def _loop(self) -> None:
        assert self._sets is not None and self._pods is not None
        await self._sets.synced.wait()
        await self._pods.synced.wait()
        while True:
            await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for key in sorted(dirty):
                try:
                    await self._reconcile(key)
                except Exception as exc:  # the API went away or refused: try again soon
                    log.info("statefulset.retry", key=key, error=str(exc))
                    self._dirty.add(key)
            if self._dirty:
                await asyncio.sleep(0.1)
                self._wake.set()

    async def _reconcile(self, key: tuple[str, str]) -> None:
        assert self._sets is not None and self._pods is not None and self._client is not None
        sts = self._sets.cache.get(key)
        if sts is None:
            return  # its pods go by garbage collection
        uid = sts["metadata"]["uid"]
        owned = {
            pod["metadata"]["name"]: pod
            for (namespace, _), pod in self._pods.cache.items()
            if namespace == key[0] and owner_uid(pod) == uid
        }
        replicas = int(sts["spec"].get("replicas", 1))
        for index in range(replicas):
            if f"{key[1]}-{index}" not in owned:
                await self._create(pod_for(sts, index))
        extra = sorted(
            (ordinal(key[1], name) or 0, name)
            for name in owned
            if (ordinal(key[1], name) or 0) >= replicas
        )
        for _, name in reversed(extra):
            with contextlib.suppress(ApiError):
                await self._client.delete(Pod, name, namespace=key[0])
        await self._update_status(
            sts, [pod for name, pod in owned.items() if name not in dict((n, 0) for _, n in extra)]
        )

    async def _create(self, pod: JSON) -> None:
        assert self._client is not None
        try:
            await self._client.create(build(Pod, pod))
        except ApiError as exc:
            if exc.status.code != 409:
                raise

    async def _update_status(self, sts: JSON, pods: list[JSON]) -> None:
        assert self._client is not None
        ready = sum(1 for pod in pods if _ready(pod))
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": len(pods),
            "updatedReplicas": len(pods),
            "availableReplicas": ready,
        }
        current = sts.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        await self._client.patch(
            StatefulSetStatus,
            sts["metadata"]["name"],
            {"status": status},
            namespace=sts["metadata"]["namespace"],
            patch_type=PatchType.MERGE,
        )
