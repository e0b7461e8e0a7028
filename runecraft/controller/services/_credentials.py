"""`credential-get`: a trusted unit gets its model's cloud spec, as Juju gives it.

Only the unit's own machine agent may ask, only for a unit it runs, and only when the unit's
application is trusted (`rune trust`); everyone else is refused the same way, so a refusal
says nothing about what exists.
"""

from __future__ import annotations

from typing import Any, Protocol

from runecraft import errors
from runecraft.controller.state import CloudRecord, MachineRecord, ModelSnapshot
from runecraft.schemas import clouds, kubeconfig

__all__ = ["CredentialService", "builtin_spec", "cloud_spec"]

DENIED = "cannot access cloud credentials: permission denied"


class CredentialReads(Protocol):
    async def machine_by_agent(self, agent: str) -> MachineRecord | None: ...

    async def snapshot(self, model_uuid: str | None = None) -> ModelSnapshot: ...

    async def cloud(self, name: str) -> CloudRecord | None: ...


def cloud_spec(cloud: CloudRecord) -> dict[str, Any]:
    """The spec `credential-get` prints, from the cloud's one-context kubeconfig."""
    cluster, user = kubeconfig.narrowed_parts(cloud.config)
    ca = cluster.get("certificate-authority-data")
    return {
        "type": "kubernetes",
        "name": cloud.name,
        "region": "",
        "endpoint": cluster.get("server", cloud.endpoint),
        "identity-endpoint": "",
        "storage-endpoint": "",
        "credential": kubeconfig.juju_credential(user),
        "cacertificates": [kubeconfig.decoded(ca)] if ca else [],
        "skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify", False)),
        "is-controller-cloud": False,
    }


def builtin_spec(name: str) -> dict[str, Any]:
    """The spec of a built-in cloud: its machines are reached without a stored credential,
    so the credential is Juju's `empty` auth type (as for Juju's manual cloud)."""
    return {
        "type": name,
        "name": name,
        "region": "",
        "endpoint": "",
        "identity-endpoint": "",
        "storage-endpoint": "",
        "credential": {"auth-type": "empty", "attrs": {}},
        "cacertificates": [],
        "skip-tls-verify": False,
        "is-controller-cloud": False,
    }


class CredentialService:
    def __init__(self, store: CredentialReads) -> None:
        self.store = store

    async def for_unit(self, agent: str, unit: str) -> dict[str, Any]:
        """The cloud spec for `unit`, asked by `agent`."""
        machine = await self.store.machine_by_agent(agent)
        if machine is None:
            raise errors.PermissionDeniedError(DENIED)
        snap = await self.store.snapshot(machine.model_uuid)
        found = next(
            (u for u in snap.units if u.name == unit and u.machine_number == machine.number), None
        )
        app = next((a for a in snap.applications if found and a.id == found.application_id), None)
        if app is None or not app.trust or not snap.models:
            raise errors.PermissionDeniedError(DENIED)
        name = snap.models[0].cloud
        cloud = await self.store.cloud(name)
        if cloud is not None:
            return cloud_spec(cloud)
        if name in clouds.builtin_clouds():
            return builtin_spec(name)
        raise errors.PermissionDeniedError(DENIED)
