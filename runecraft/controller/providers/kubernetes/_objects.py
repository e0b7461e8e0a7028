"""What a model looks like on Kubernetes, as plain manifests: pure functions of the specs.

A model is a namespace (named after it, as Juju does); an application is a StatefulSet
(replicas = its units, pods named `<application>-<unit number>`), a headless Service for the
pods' DNS, a Service that carries the opened ports, a ServiceAccount (given a Role when the
application is trusted) and a Secret holding each unit agent's credential under
`unit-<number>.json`. Every object carries our labels; nothing without them is touched.

A pod is wired for Pebble as Juju 3.x wires it: the emptyDir `charm-data` is shared by all
its containers; the init container `charm-init` (the agent image) installs the Pebble agent,
a zipapp, at `/charm/bin/pebble` on it; each workload container runs that file as its
entrypoint, with its `/charm/container` being the charm container's `/charm/containers/<c>`,
so the workload's `/charm/container/pebble.socket` is the socket ops opens at
`/charm/containers/<c>/pebble.socket`. Juju's `--http :<38813+i>` listener and the probes on
it are left out: nothing but the probes uses them, and a node that runs pods on its host's
network (as the test cluster does) cannot give every pod the same fixed ports.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from runecraft.controller.providers._base import ApplicationSpec, InstanceState

__all__ = [
    "AGENT_CONFIG_DIR",
    "AGENT_DATA_DIR",
    "CHARM_CONTAINER",
    "CHARM_DATA_VOLUME",
    "CONTAINERS_DIR",
    "INIT_CONTAINER",
    "MANAGED_BY",
    "MODEL_LABEL",
    "PEBBLE_BIN",
    "agent_secret",
    "agent_secret_name",
    "app_labels",
    "endpoints_service",
    "instance_state",
    "model_labels",
    "namespace",
    "ordinal",
    "owned",
    "role",
    "role_binding",
    "service",
    "service_account",
    "stateful_set",
    "unit_key",
]

MANAGED_BY = ("app.kubernetes.io/managed-by", "runecraft")
MODEL_LABEL = "runecraft.io/model-uuid"
APP_LABEL = "app.kubernetes.io/name"
CHARM_CONTAINER = "charm"
INIT_CONTAINER = "charm-init"
CHARM_DATA_VOLUME = "charm-data"
PEBBLE_BIN = "/charm/bin/pebble"
CONTAINERS_DIR = "/charm/containers"
"""Where the charm container sees each workload's `/charm/container` (as `<c>/`)."""
WORKLOAD_DIR = "/charm/container"
PEBBLE_COPY_ONCE = "/var/lib/pebble/default"
"""Where a rock keeps its own layers: Pebble copies them to `$PEBBLE` when that is empty."""
AGENT_CONFIG_DIR = "/var/lib/runecraft/agent-config"
AGENT_DATA_DIR = "/var/lib/runecraft/agent"
PLACEHOLDER_PORT = {"name": "placeholder", "port": 65535, "protocol": "TCP"}
"""A Service needs a port; Juju gives an application with none opened this one."""

# Reasons a container waits for that will not pass by themselves.
_STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def model_labels(model_uuid: str) -> dict[str, str]:
    return {MANAGED_BY[0]: MANAGED_BY[1], MODEL_LABEL: model_uuid}


def app_labels(model_uuid: str, app: str) -> dict[str, str]:
    return {**model_labels(model_uuid), APP_LABEL: app}


def owned(obj: Mapping[str, Any], model_uuid: str) -> bool:
    """Whether the object is ours, for this model (the only objects ever changed)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return bool(
        labels.get(MANAGED_BY[0]) == MANAGED_BY[1] and labels.get(MODEL_LABEL) == model_uuid
    )


def _meta(name: str, labels: dict[str, str], ns: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if ns is not None:
        meta["namespace"] = ns
    return meta


def namespace(name: str, model_uuid: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(name, model_labels(model_uuid)),
    }


def service_account(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    labels = app_labels(spec.model_uuid, spec.name)
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(spec.name, labels, ns),
        "automountServiceAccountToken": spec.trust,
    }


def _service_ports(ports: tuple[tuple[str, int, int], ...]) -> list[dict[str, Any]]:
    result = []
    for protocol, first, last in sorted(set(ports)):
        if protocol not in ("tcp", "udp", "sctp"):
            continue  # icmp has no port a Service can carry
        for port in range(first, last + 1):
            result.append(
                {"name": f"{protocol}-{port}", "port": port, "protocol": protocol.upper()}
            )
    return result or [PLACEHOLDER_PORT]


def service(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    """The application's Service: its opened ports, a load balancer when exposed."""
    labels = app_labels(spec.model_uuid, spec.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec.name, labels, ns),
        "spec": {
            "type": "LoadBalancer" if spec.exposed else "ClusterIP",
            "selector": labels,
            "ports": _service_ports(spec.ports),
        },
    }


def endpoints_service(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    """The headless Service that gives each pod a stable DNS name."""
    labels = app_labels(spec.model_uuid, spec.name)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(f"{spec.name}-endpoints", labels, ns),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": labels,
            "ports": [PLACEHOLDER_PORT],
        },
    }


def agent_secret_name(app: str) -> str:
    return f"{app}-runecraft-agents"


def unit_key(number: int) -> str:
    return f"unit-{number}.json"


def agent_secret(
    model_uuid: str, app: str, ns: str, configs: Mapping[int, str] | None = None
) -> dict[str, Any]:
    """The Secret with each unit agent's config (JSON, with its credential) by unit number."""
    data = {
        unit_key(number): base64.b64encode(config.encode()).decode()
        for number, config in sorted((configs or {}).items())
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(agent_secret_name(app), app_labels(model_uuid, app), ns),
        "type": "Opaque",
        "data": data,
    }


def _charm_container(spec: ApplicationSpec) -> dict[str, Any]:
    """The container that runs the unit agent: it reads its own config from the Secret by
    its pod's name, keeps its state on the pod's volume, and finds each workload's Pebble
    socket under `RUNECRAFT_CONTAINERS_DIR`."""
    return {
        "name": CHARM_CONTAINER,
        "image": spec.agent_image,
        "command": ["python3", "-m", "runecraft.agents"],
        "args": [
            "--config-dir",
            AGENT_CONFIG_DIR,
            "--pod",
            "$(RUNECRAFT_POD_NAME)",
            "--data-dir",
            AGENT_DATA_DIR,
        ],
        "env": [
            {
                "name": "RUNECRAFT_POD_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            },
            {"name": "JUJU_CONTAINER_NAMES", "value": ",".join(sorted(spec.containers))},
            {"name": "RUNECRAFT_CONTAINERS_DIR", "value": CONTAINERS_DIR},
        ],
        "volumeMounts": [
            {"name": "runecraft-agent-config", "mountPath": AGENT_CONFIG_DIR, "readOnly": True},
            {"name": "runecraft-agent-data", "mountPath": AGENT_DATA_DIR},
            {
                "name": CHARM_DATA_VOLUME,
                "mountPath": "/charm/bin",
                "subPath": "charm/bin",
                "readOnly": True,
            },
            {
                "name": CHARM_DATA_VOLUME,
                "mountPath": CONTAINERS_DIR,
                "subPath": "charm/containers",
            },
        ],
    }


def _init_container(spec: ApplicationSpec) -> dict[str, Any]:
    """Installs the Pebble agent (a zipapp of the agent image's copy) where the workload
    containers run it from."""
    return {
        "name": INIT_CONTAINER,
        "image": spec.agent_image,
        "command": ["python3", "-m", "runecraft.agents.pebble", "install", PEBBLE_BIN],
        "volumeMounts": [
            {"name": CHARM_DATA_VOLUME, "mountPath": "/charm/bin", "subPath": "charm/bin"}
        ],
    }


def _workload_container(name: str, image: str) -> dict[str, Any]:
    """A workload container: its image with Pebble as the entrypoint, as Juju runs it
    (`--hold`: services start when the charm replans, not at boot)."""
    return {
        "name": name,
        "image": image,
        "command": [PEBBLE_BIN],
        "args": ["run", "--create-dirs", "--hold", "--verbose"],
        "env": [
            {"name": "JUJU_CONTAINER_NAME", "value": name},
            {"name": "PEBBLE", "value": f"{WORKLOAD_DIR}/pebble"},
            {"name": "PEBBLE_SOCKET", "value": f"{WORKLOAD_DIR}/pebble.socket"},
            {"name": "PEBBLE_COPY_ONCE", "value": PEBBLE_COPY_ONCE},
        ],
        "volumeMounts": [
            {
                "name": CHARM_DATA_VOLUME,
                "mountPath": PEBBLE_BIN,
                "subPath": "charm/bin/pebble",
                "readOnly": True,
            },
            {
                "name": CHARM_DATA_VOLUME,
                "mountPath": WORKLOAD_DIR,
                "subPath": f"charm/containers/{name}",
            },
        ],
    }


def stateful_set(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    """The application's StatefulSet: one pod per unit, the charm container beside the
    workload containers the charm declares. The agent's state lives on a claim of its own,
    so a pod deleted and made again resumes where its unit was. Every pod has the
    `charm-data` volume and the charm container's mounts of it (one shape for every
    charm); only a charm with workload containers needs Pebble installed, so only its pods
    have the init container."""
    labels = app_labels(spec.model_uuid, spec.name)
    workloads = [
        _workload_container(name, image) for name, image in sorted(spec.containers.items())
    ]
    pod: dict[str, Any] = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": spec.trust,
        "terminationGracePeriodSeconds": 30,
        "volumes": [
            {
                "name": "runecraft-agent-config",
                "secret": {"secretName": agent_secret_name(spec.name)},
            },
            {"name": CHARM_DATA_VOLUME, "emptyDir": {}},
        ],
        "containers": [_charm_container(spec), *workloads],
    }
    if workloads:
        pod["initContainers"] = [_init_container(spec)]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {
            **_meta(spec.name, labels, ns),
            "annotations": {"runecraft.io/charm": spec.charm},
        },
        "spec": {
            "replicas": spec.scale,
            "serviceName": f"{spec.name}-endpoints",
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": pod,
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "runecraft-agent-data", "labels": labels},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "64Mi"}},
                    },
                }
            ],
        },
    }


def role(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    """What a trusted application may do: anything in its model's namespace."""
    labels = app_labels(spec.model_uuid, spec.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(spec.name, labels, ns),
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}],
    }


def role_binding(spec: ApplicationSpec, ns: str) -> dict[str, Any]:
    labels = app_labels(spec.model_uuid, spec.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(spec.name, labels, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": spec.name},
        "subjects": [{"kind": "ServiceAccount", "name": spec.name, "namespace": ns}],
    }


_ORDINAL = re.compile(r"-(\d+)\Z")


def ordinal(pod_name: str) -> int | None:
    """A StatefulSet pod's ordinal (its unit's number), from its name."""
    found = _ORDINAL.search(pod_name)
    return None if found is None else int(found.group(1))


def _container_problem(pod: Mapping[str, Any]) -> tuple[str, bool] | None:
    """The first container that waits (init containers first), as (message, stuck)."""
    status = pod.get("status", {})
    for kind, statuses in (
        ("init container", status.get("initContainerStatuses") or []),
        ("container", status.get("containerStatuses") or []),
    ):
        for container in statuses:
            waiting = (container.get("state") or {}).get("waiting")
            if not waiting:
                continue
            reason = waiting.get("reason") or "waiting"
            detail = waiting.get("message") or ""
            restarts = container.get("restartCount") or 0
            name = container.get("name")
            if reason == "CrashLoopBackOff":
                message = f'crash loop backoff: {kind} "{name}" restarted {restarts} times'
            else:
                message = f'{kind} "{name}": {reason}'
            if detail:
                message += f": {detail}"
            return message, reason in _STUCK_REASONS
    return None


def _pending_message(pod: Mapping[str, Any]) -> str:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            reason = condition.get("reason") or "not scheduled"
            detail = condition.get("message") or ""
            return f"pod pending: {reason}" + (f": {detail}" if detail else "")
    return "pod pending"


def instance_state(pod: Mapping[str, Any] | None, expected: bool) -> InstanceState:
    """A unit's machine state from its pod (None: no pod). `expected`: the StatefulSet has
    the pod's ordinal, so a missing pod is being made (again) by Kubernetes itself."""
    if pod is None:
        return InstanceState(running=expected, message="waiting for the pod")
    address = pod.get("status", {}).get("podIP") or ""
    if pod.get("metadata", {}).get("deletionTimestamp"):
        return InstanceState(running=True, address=address, message="pod terminating")
    phase = pod.get("status", {}).get("phase") or "Pending"
    if phase in ("Failed", "Succeeded"):
        reason = pod.get("status", {}).get("reason") or phase.lower()
        return InstanceState(running=True, address=address, message=f"pod {reason}", failed=True)
    problem = _container_problem(pod)
    if problem is not None:
        message, stuck = problem
        return InstanceState(running=True, address=address, message=message, failed=stuck)
    if phase == "Pending":
        return InstanceState(running=True, address=address, message=_pending_message(pod))
    return InstanceState(running=True, address=address)
