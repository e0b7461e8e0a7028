"""The resources the test cluster serves, with what discovery tells clients about them."""

from __future__ import annotations

from dataclasses import dataclass

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
