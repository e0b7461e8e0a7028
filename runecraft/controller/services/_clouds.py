"""Clouds models can be on: the built-in ones (one per installed provider that needs no
settings) and the Kubernetes clouds an operator adds (`rune add-k8s`), stored with a
kubeconfig narrowed to one context."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from runecraft import errors
from runecraft.controller.providers import CloudSpec
from runecraft.controller.state import CloudRecord
from runecraft.schemas import api, clouds, kubeconfig

__all__ = ["CloudRegistry", "CloudService", "CloudStore"]

logger = structlog.get_logger(__name__)


class CloudRegistry:
    """Every cloud by name, in memory: the reconcilers pick a machine's provider in a
    synchronous call, so the clouds operators add are loaded once (`CloudService.load`)
    and kept in step by the service that adds and removes them."""

    def __init__(self, builtin: Iterable[str] | None = None) -> None:
        names = clouds.builtin_clouds() if builtin is None else builtin
        self._builtin = {name: CloudSpec(name=name, type=name) for name in names}
        self._added: dict[str, CloudSpec] = {}

    def spec(self, name: str) -> CloudSpec:
        """The cloud `name` (built-in or added); unknown names list the known ones."""
        found = self._builtin.get(name) or self._added.get(name)
        if found is None:
            raise errors.NotFoundError(
                f'unknown cloud "{name}": known clouds are: {", ".join(self.names())}'
            )
        return found

    def names(self) -> list[str]:
        return sorted({*self._builtin, *self._added})

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin

    def all(self) -> list[CloudSpec]:
        return [self.spec(name) for name in self.names()]

    def put(self, spec: CloudSpec) -> None:
        self._added[spec.name] = spec

    def discard(self, name: str) -> None:
        self._added.pop(name, None)


def _spec(record: CloudRecord) -> CloudSpec:
    return CloudSpec(
        name=record.name, type=record.type, endpoint=record.endpoint, config=record.config
    )


class CloudStore(Protocol):
    async def clouds(self) -> list[CloudRecord]: ...

    async def add_cloud(self, cloud: CloudRecord) -> None: ...

    async def update_cloud_config(
        self, name: str, config: dict[str, Any], endpoint: str | None = None
    ) -> None: ...

    async def remove_cloud(self, name: str) -> None: ...


def _auth_type(spec: CloudSpec) -> str:
    if spec.type != clouds.KUBERNETES:
        return ""
    _, user = kubeconfig.narrowed_parts(spec.config)
    return kubeconfig.auth_type(user) or ""


def cloud_info(spec: CloudSpec, builtin: bool) -> api.CloudInfo:
    """A cloud as the API shows it: never its credential."""
    return api.CloudInfo(
        name=spec.name,
        type=spec.type,
        endpoint=spec.endpoint,
        defined="built-in" if builtin else "added",
        auth_type=_auth_type(spec),
        credential=kubeconfig.narrowed_user(spec.config) if _auth_type(spec) else "",
    )


class CloudService:
    """Add, list, show and remove clouds; the registry follows every change."""

    def __init__(self, store: CloudStore, registry: CloudRegistry) -> None:
        self.store = store
        self.registry = registry

    async def load(self) -> None:
        """Put the stored clouds in the registry (when the controller starts)."""
        for record in await self.store.clouds():
            self.registry.put(_spec(record))

    async def add(self, request: api.AddCloudRequest) -> api.CloudInfo:
        """Add a Kubernetes cloud: its kubeconfig narrowed to the chosen context and
        checked first, so a bad one is refused with nothing stored."""
        name = clouds.check_cloud_name(request.name)
        provider_type = clouds.cloud_type(request.type)
        if name in self.registry.names():
            raise errors.ConflictError(f'cloud "{name}" already exists')
        narrowed = kubeconfig.narrow_kubeconfig(request.kubeconfig, request.context)
        record = CloudRecord(
            name=name,
            type=provider_type,
            endpoint=narrowed.server,
            config=narrowed.config,
            created=time.time(),
        )
        await self.store.add_cloud(record)
        self.registry.put(_spec(record))
        logger.info("cloud added", cloud=name, type=provider_type, endpoint=narrowed.server)
        return cloud_info(_spec(record), builtin=False)

    async def set_credential(self, name: str, request: api.CloudCredentialRequest) -> api.CloudInfo:
        """Give an added cloud the credential the controller authenticates with from now
        on (Juju's `add-credential --controller`); a bad one is refused, nothing stored."""
        if self.registry.is_builtin(name):
            raise errors.InvalidSpecError(f'cloud "{name}" is built in: it needs no credential')
        spec = self.registry.spec(name)
        config = kubeconfig.with_credential(spec.config, request.credential, request.user)
        await self.store.update_cloud_config(name, config)
        updated = CloudSpec(name=spec.name, type=spec.type, endpoint=spec.endpoint, config=config)
        self.registry.put(updated)
        logger.info("cloud credential set", cloud=name, credential=request.credential)
        return cloud_info(updated, builtin=False)

    async def update(self, name: str, request: api.UpdateCloudRequest) -> api.CloudInfo:
        """Point an added cloud at a new endpoint and certificate authority (Juju's
        `update-cloud`); its credential stays. A bad definition changes nothing."""
        if self.registry.is_builtin(name):
            raise errors.InvalidSpecError(f'cloud "{name}" is built in: it cannot be updated')
        spec = self.registry.spec(name)
        config = kubeconfig.with_cluster(spec.config, request.endpoint, request.ca_certificates)
        await self.store.update_cloud_config(name, config, request.endpoint)
        updated = CloudSpec(name=name, type=spec.type, endpoint=request.endpoint, config=config)
        self.registry.put(updated)
        logger.info("cloud updated", cloud=name, endpoint=request.endpoint)
        return cloud_info(updated, builtin=False)

    def list(self) -> list[api.CloudInfo]:
        return [
            cloud_info(spec, self.registry.is_builtin(spec.name)) for spec in self.registry.all()
        ]

    def show(self, name: str) -> api.CloudInfo:
        return cloud_info(self.registry.spec(name), self.registry.is_builtin(name))

    async def remove(self, name: str) -> None:
        """Forget an added cloud; refused while a model is on it."""
        if self.registry.is_builtin(name):
            raise errors.ConflictError(f'cloud "{name}" is a built-in cloud: it cannot be removed')
        self.registry.spec(name)
        await self.store.remove_cloud(name)
        self.registry.discard(name)
        logger.info("cloud removed", cloud=name)
