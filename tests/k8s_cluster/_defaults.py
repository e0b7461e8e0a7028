"""Fields the API server fills in on create, for the kinds where clients read them back."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from typing import Any

from tests.k8s_cluster._resources import (
    NAMESPACES,
    PODS,
    SECRETS,
    SERVICES,
    STATEFUL_SETS,
    ResourceType,
)

JSON = dict[str, Any]
_cluster_ips = itertools.count(1)


def _namespace(obj: JSON) -> None:
    obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
        "metadata"
    ]["name"]
    obj.setdefault("spec", {})
    obj["status"] = {"phase": "Active"}


def _pod(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    for container in spec.get("containers", []):
        container.setdefault("imagePullPolicy", "IfNotPresent")
    obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _service(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec.get("clusterIP") != "None":
        number = next(_cluster_ips)
        spec["clusterIP"] = f"10.152.{number // 250 % 250}.{number % 250 + 1}"
    spec["clusterIPs"] = [spec["clusterIP"]]
    for port in spec.get("ports", []):
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    obj["status"] = {"loadBalancer": {}}


def _statefulset(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
    obj["status"] = {"replicas": 0, "availableReplicas": 0}


def _secret(obj: JSON) -> None:
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


_BY_KIND: dict[ResourceType, Callable[[JSON], None]] = {
    NAMESPACES: _namespace,
    PODS: _pod,
    SERVICES: _service,
    STATEFUL_SETS: _statefulset,
    SECRETS: _secret,
}


def apply(resource: ResourceType, obj: JSON) -> None:
    """Fill in what the API server defaults on create (and reset status where the kind has a
    status subresource: a client cannot create an object with a status of its choosing)."""
    fill = _BY_KIND.get(resource)
    if fill is not None:
        fill(obj)
    elif resource.has_status:
        obj["status"] = {}
