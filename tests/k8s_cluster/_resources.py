"""The resources the test cluster serves, with what discovery tells clients about them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


NAMESPACES = ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), ("status",))
PODS = ResourceType("", "v1", "pods", "Pod", True, ("po",), ("status", "binding"))
SERVICES = ResourceType("", "v1", "services", "Service", True, ("svc",), ("status",))
SERVICE_ACCOUNTS = ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",))
SECRETS = ResourceType("", "v1", "secrets", "Secret", True)
CONFIG_MAPS = ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",))
EVENTS = ResourceType("", "v1", "events", "Event", True, ("ev",))
STATEFUL_SETS = ResourceType(
    "apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status", "scale")
)
_RBAC = "rbac.authorization.k8s.io"
ROLES = ResourceType(_RBAC, "v1", "roles", "Role", True)
ROLE_BINDINGS = ResourceType(_RBAC, "v1", "rolebindings", "RoleBinding", True)
CLUSTER_ROLES = ResourceType(_RBAC, "v1", "clusterroles", "ClusterRole", False)
CLUSTER_ROLE_BINDINGS = ResourceType(
    _RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", False
)

SERVED: tuple[ResourceType, ...] = (
    NAMESPACES,
    PODS,
    SERVICES,
    SERVICE_ACCOUNTS,
    SECRETS,
    CONFIG_MAPS,
    EVENTS,
    STATEFUL_SETS,
    ROLES,
    ROLE_BINDINGS,
    CLUSTER_ROLES,
    CLUSTER_ROLE_BINDINGS,
)


def find(group: str | None, version: str | None, plural: str | None) -> ResourceType | None:
    for resource in SERVED:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


# -- discovery, as kube-apiserver answers it ----------------------------------------------

_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # name -> (kind, group, version, verbs)
    "status": ("", "", "", ("get", "patch", "update")),
    "scale": ("Scale", "autoscaling", "v1", ("get", "patch", "update")),
    "binding": ("Binding", "", "v1", ("create",)),
}


def _entry(resource: ResourceType) -> dict[str, Any]:
    return {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(VERBS),
        **({"shortNames": list(resource.short_names)} if resource.short_names else {}),
    }


def _sub_entry(resource: ResourceType, sub: str) -> dict[str, Any]:
    kind, group, version, verbs = _SUBRESOURCES[sub]
    entry: dict[str, Any] = {
        "name": f"{resource.plural}/{sub}",
        "singularName": "",
        "namespaced": resource.namespaced,
        "kind": kind or resource.kind,
        "verbs": list(verbs),
    }
    if group or version:
        entry.update(group=group, version=version)
    return entry


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of /api/v1 or /apis/GROUP/VERSION (None when not served)."""
    served = [r for r in SERVED if (r.group, r.version) == (group, version)]
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for resource in served:
        entries.append(_entry(resource))
        entries.extend(_sub_entry(resource, sub) for sub in resource.subresources)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


def api_group(group: str) -> dict[str, Any] | None:
    """The APIGroup of /apis/GROUP (None when not served)."""
    versions = sorted({r.version for r in SERVED if r.group == group})
    if not group or not versions:
        return None
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_groups() -> dict[str, Any]:
    """The APIGroupList of /apis."""
    groups = sorted({r.group for r in SERVED if r.group})
    found = [api_group(group) for group in groups]
    groups_only = [
        {k: v for k, v in g.items() if k not in ("kind", "apiVersion")} for g in found if g
    ]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups_only}
