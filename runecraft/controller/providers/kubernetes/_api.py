"""The one module that talks to the Kubernetes API (through lightkube), on manifests as
plain dicts; lightkube's and its HTTP library's errors become Runecraft's here.

Every change is guarded by ownership: an existing object is patched or deleted only when
it carries our labels for the model, so nothing an operator made by hand is ever touched.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import lightkube
import structlog
from lightkube import codecs
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ConfigError
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Namespace, Pod, Secret, Service, ServiceAccount
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding
from lightkube.types import PatchType

from runecraft import errors
from runecraft.controller.providers.kubernetes import _objects

__all__ = ["ClusterApi", "PodEvent", "VersionGoneError"]

logger = structlog.get_logger(__name__)

# The HTTP library logs every request at INFO.
logging.getLogger("httpx2").setLevel(logging.WARNING)

KINDS: dict[str, Any] = {
    "Namespace": Namespace,
    "Pod": Pod,
    "Secret": Secret,
    "Service": Service,
    "ServiceAccount": ServiceAccount,
    "StatefulSet": StatefulSet,
    "Role": Role,
    "RoleBinding": RoleBinding,
}
TIMEOUT = 10.0
"""Seconds for one API request (not a watch)."""


class VersionGoneError(Exception):
    """A watch's resourceVersion is too old (410): list again."""


@dataclass(frozen=True)
class PodEvent:
    type: str
    pod: dict[str, Any]


def _translate(exc: Exception, doing: str) -> errors.RunecraftError:
    """A Kubernetes failure as the error a status shows: forbidden and invalid requests are
    the operator's to fix; conflicts, server errors and an unreachable cluster pass."""
    if isinstance(exc, lightkube.ApiError):
        code, message = exc.status.code or 0, exc.status.message or exc.status.reason or ""
        text = f"Kubernetes refused to {doing}: {code} {exc.status.reason or ''}: {message}"
        if code in (401, 403):
            return errors.PermissionDeniedError(text)
        if code == 404:
            return errors.NotFoundError(text)
        if code == 409:
            return errors.TemporaryError(text, delay=1.0)
        if code in (400, 422):
            return errors.PermanentError(text)
        return errors.TemporaryError(text)
    if isinstance(exc, httpx2.TimeoutException):
        return errors.TemporaryError(f"Kubernetes did not answer in time to {doing}")
    if isinstance(exc, httpx2.HTTPError | OSError):
        return errors.TemporaryError(f"cannot reach the Kubernetes API to {doing}: {exc}")
    return errors.PermanentError(f"cannot {doing}: {exc}")


def _name_of(manifest: Mapping[str, Any]) -> tuple[str, str | None]:
    meta = manifest["metadata"]
    return meta["name"], meta.get("namespace")


class ClusterApi:
    """Create-or-patch, delete and watch, on one cluster."""

    def __init__(self, kubeconfig: Mapping[str, Any]) -> None:
        try:
            config = KubeConfig.from_dict(dict(kubeconfig))
            self._client = lightkube.AsyncClient(
                config=config, timeout=httpx2.Timeout(TIMEOUT), field_manager="runecraft"
            )
        except (ConfigError, KeyError, TypeError, ValueError) as exc:
            raise errors.InvalidSpecError(f"the cloud's kubeconfig cannot be used: {exc}") from exc

    async def close(self) -> None:
        await self._client.close()

    async def get(
        self, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            obj = await self._client.get(KINDS[kind], name, namespace=namespace)
        except lightkube.ApiError as exc:
            if exc.status.code == 404:
                return None
            raise _translate(exc, f"read {kind} {name}") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, f"read {kind} {name}") from exc
        found: dict[str, Any] = obj.to_dict()
        return found

    async def ensure(
        self, manifest: dict[str, Any], model_uuid: str, *, again: bool = True
    ) -> dict[str, Any]:
        """Make the object, or bring ours to `manifest` (a merge patch: lists are replaced
        whole, so a container list is exactly the manifest's)."""
        kind = manifest["kind"]
        name, namespace = _name_of(manifest)
        current = await self.get(kind, name, namespace)
        doing = f"make {kind} {name}" if current is None else f"update {kind} {name}"
        obj: Any
        if current is not None and not _objects.owned(current, model_uuid):
            raise errors.PermanentError(
                f'{kind} "{name}" exists and is not this model\'s (no Runecraft labels for it): '
                "it is left alone; remove it or use another model name"
            )
        try:
            if current is None:
                try:
                    obj = await self._client.create(codecs.from_dict(manifest))
                except lightkube.ApiError as exc:
                    if exc.status.code != 409 or not again:
                        raise
                    # Made meanwhile: look once more (and patch it only if it is ours).
                    return await self.ensure(manifest, model_uuid, again=False)
            else:
                patch = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
                obj = await self._client.patch(
                    KINDS[kind], name, patch, namespace=namespace, patch_type=PatchType.MERGE
                )
        except (lightkube.ApiError, httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, doing) from exc
        result: dict[str, Any] = obj.to_dict()
        return result

    async def delete(self, kind: str, name: str, namespace: str | None, model_uuid: str) -> None:
        """Delete the object if it is ours (gone already is fine)."""
        current = await self.get(kind, name, namespace)
        if current is None or not _objects.owned(current, model_uuid):
            return
        try:
            await self._client.delete(KINDS[kind], name, namespace=namespace)
        except lightkube.ApiError as exc:
            if exc.status.code != 404:
                raise _translate(exc, f"delete {kind} {name}") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, f"delete {kind} {name}") from exc

    async def names(self, kind: str, namespace: str, labels: Mapping[str, str]) -> set[str]:
        """The names of the objects of `kind` with `labels` in the namespace."""
        listing = self._client.list(KINDS[kind], namespace=namespace, labels=dict(labels))
        try:
            return {obj.metadata.name async for obj in listing if obj.metadata}
        except lightkube.ApiError as exc:
            if exc.status.code == 404:
                return set()
            raise _translate(exc, f"list the {kind}s of namespace {namespace}") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, f"list the {kind}s of namespace {namespace}") from exc

    async def list_pods(
        self, namespace: str, labels: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str]:
        """The pods with `labels`, and the resourceVersion to watch from."""
        listing = self._client.list(Pod, namespace=namespace, labels=dict(labels))
        try:
            pods = [pod.to_dict() async for pod in listing]
        except (lightkube.ApiError, httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, f"list the pods of namespace {namespace}") from exc
        try:
            version = listing.resourceVersion
        except lightkube.NotReadyError:  # an empty list: no version was read
            version = ""
        return pods, version

    async def watch_pods(
        self, namespace: str, labels: Mapping[str, str], version: str
    ) -> AsyncIterator[PodEvent]:
        """Pod changes after `version`, until the stream fails: `VersionGoneError` when the
        version is too old (list again), a Runecraft error for anything else."""
        stream = self._client.watch(
            Pod,
            namespace=namespace,
            labels=dict(labels),
            resource_version=version or None,
            server_timeout=300,
        )
        try:
            async for kind, pod in stream:
                yield PodEvent(kind, pod.to_dict())
        except lightkube.ApiError as exc:
            if exc.status.code == 410:
                raise VersionGoneError() from exc
            raise _translate(exc, f"watch the pods of namespace {namespace}") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise _translate(exc, f"watch the pods of namespace {namespace}") from exc
