"""Resources: upload files, attach them to applications (at deploy or later), serve them,
and list what an application has of each resource its charm declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

import structlog

from runecraft import errors
from runecraft.controller.services import _names
from runecraft.controller.services._ports import (
    StateStore,
    StoreService,
    WithApplications,
    WithCharms,
    WithModel,
    WithResources,
)
from runecraft.controller.state import ApplicationRecord, ResourceRecord
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import resources as res

__all__ = ["ResourceService", "attach_at_deploy"]

logger = structlog.get_logger(__name__)


class _ResourceState(WithModel, WithApplications, WithCharms, WithResources, Protocol):
    pass


class ResourceStore(StateStore[_ResourceState], Protocol):
    async def resource_blob(self, sha256: str) -> bytes: ...


async def attach_at_deploy(
    tx: WithResources,
    app: ApplicationRecord,
    meta: charm_schema.CharmMeta,
    given: Mapping[str, str],
) -> None:
    """`deploy --resource`: attach uploaded blobs in the deploy's own transaction, so no
    unit can run before its resources are there."""
    res.check_resources(meta, given)
    for name, sha256 in sorted(given.items()):
        await tx.resources.attach(app.model_uuid, app.name, name, sha256)


def _describe(
    name: str, spec: charm_schema.ResourceSpec, attached: ResourceRecord | None, image: str
) -> res.ApplicationResource:
    """One declared resource as `rune resources` shows it; an oci-image's image is the
    attached one, else the upstream source (what a Kubernetes workload would run)."""
    oci = spec.type == "oci-image"
    origin: Literal["upload", "upstream", "none"] = "none"
    if attached is not None:
        origin = "upload"
    elif oci and spec.upstream_source:
        origin = "upstream"
    return res.ApplicationResource(
        name=name,
        type=spec.type,
        description=spec.description,
        origin=origin,
        revision=attached.revision if attached else 0,
        fingerprint=attached.sha256 if attached else "",
        size=attached.size if attached else 0,
        image=(image or spec.upstream_source or "") if oci else None,
        filename=None if oci else spec.filename,
    )


class ResourceService(StoreService[ResourceStore]):
    """`attach-resource`, `resources`, uploads and downloads."""

    async def of_application(self, model_name: str, application: str) -> res.ApplicationResources:
        """Every resource the application's charm declares, sorted by name, with its
        attached revision; an attached oci-image's document is read for the image it names."""
        _names.check_application_name(application)
        async with self.store.write(model_name) as tx:
            app = await tx.applications.get(application)
            charm = await tx.charms.get(app.charm_sha256)
            attached = {
                r.name: r for r in await tx.resources.of_application(app.model_uuid, app.name)
            }
        declared = charm_schema.CharmMeta.model_validate(charm.meta).resources
        images = {
            name: res.image_name(await self.store.resource_blob(r.sha256))
            for name, r in attached.items()
            if name in declared and declared[name].type == "oci-image"
        }
        return res.ApplicationResources(
            resources=[
                _describe(name, spec, attached.get(name), images.get(name, ""))
                for name, spec in sorted(declared.items())
            ]
        )

    async def upload(self, data: bytes) -> res.ResourceInfo:
        """Keep a file (once per content); returns its hash for attaching."""
        async with self.store.write() as tx:
            sha256 = await tx.resources.put_blob(data)
        return res.ResourceInfo(sha256=sha256, size=len(data))

    async def download(self, sha256: str) -> bytes:
        """A stored file, by hash (agents fetch what their snapshot names)."""
        return await self.store.resource_blob(sha256)

    async def attach(
        self, model_name: str, application: str, given: Mapping[str, str]
    ) -> list[res.ResourceInfo]:
        """Make uploaded files the application's resources; every name is checked first."""
        _names.check_application_name(application)
        async with self.store.write(model_name) as tx:
            app = await tx.applications.get(application)
            if app.life != "alive":
                raise errors.ConflictError(f'application "{application}" is being removed')
            charm = await tx.charms.get(app.charm_sha256)
            meta = charm_schema.CharmMeta.model_validate(charm.meta)
            res.check_resources(meta, given)
            assert tx.model is not None
            records = [
                await tx.resources.attach(tx.model.uuid, app.name, name, sha)
                for name, sha in sorted(given.items())
            ]
        self.hub.changed()
        logger.info("resources attached", application=application, names=sorted(given))
        return [
            res.ResourceInfo(sha256=r.sha256, size=r.size, name=r.name, revision=r.revision)
            for r in records
        ]
