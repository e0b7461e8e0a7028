"""Resources in the store: content-addressed blobs and each application's revisions.

A blob is stored once whatever uses it (`Resources.put_blob` is idempotent, keyed by its
sha256, as `Store.put_charm` is); attaching a resource to an application moves its
revision, and units see the new hash in their next snapshot.
"""

from __future__ import annotations

import dataclasses
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft import errors
from runecraft.charms import content_hash
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import ResourceRecord

__all__ = ["Resources", "read_resource_blob"]


async def read_resource_blob(conn: AsyncConnection, sha256: str) -> bytes:
    """A stored blob; `NotFoundError` when there is none with that hash."""
    table = t.resource_blobs
    data = (await conn.execute(sa.select(table.c.data).where(table.c.sha256 == sha256))).scalar()
    if data is None:
        raise errors.NotFoundError(f'resource "{sha256}" not found')
    return bytes(data)


class Resources(Repository):
    """Uploaded blobs and the resources attached to applications."""

    async def put_blob(self, data: bytes) -> str:
        """Store `data` once; returns its sha256."""
        sha256 = content_hash(data)
        table = t.resource_blobs
        if await self._first(sa.select(table.c.sha256).where(table.c.sha256 == sha256)) is None:
            await self._conn.execute(
                sa.insert(table).values(
                    sha256=sha256, size=len(data), data=data, created=time.time()
                )
            )
        return sha256

    async def attach(
        self, model_uuid: str, application: str, name: str, sha256: str
    ) -> ResourceRecord:
        """Make `sha256` (an uploaded blob) the application's current `name`; a new hash
        moves the revision, the same hash again changes nothing."""
        size = (
            await self._conn.execute(
                sa.select(t.resource_blobs.c.size).where(t.resource_blobs.c.sha256 == sha256)
            )
        ).scalar()
        if size is None:
            raise errors.NotFoundError(f'resource "{name}": no uploaded file with sha256 {sha256}')
        table = t.application_resources
        where = (
            table.c.model_uuid == model_uuid,
            table.c.application == application,
            table.c.name == name,
        )
        row = await self._first(sa.select(table).where(*where))
        now = time.time()
        if row is None:
            resource = ResourceRecord(model_uuid, application, name, sha256, int(size), 1, now)
            await self._conn.execute(sa.insert(table).values(**dataclasses.asdict(resource)))
        else:
            current = record(ResourceRecord, row)
            if current.sha256 == sha256:
                return current
            resource = ResourceRecord(
                model_uuid, application, name, sha256, int(size), current.revision + 1, now
            )
            await self._conn.execute(
                sa.update(table)
                .where(*where)
                .values(sha256=sha256, size=size, revision=resource.revision, created=now)
            )
        self._session.changed(f"application-{application}", "resource", model_uuid)
        return resource

    async def of_application(self, model_uuid: str, application: str) -> list[ResourceRecord]:
        """The application's attached resources (each at its current revision), by name."""
        table = t.application_resources
        rows = await self._conn.execute(
            sa.select(table)
            .where(table.c.model_uuid == model_uuid, table.c.application == application)
            .order_by(table.c.name)
        )
        return [record(ResourceRecord, row) for row in rows]

    async def forget_application(self, model_uuid: str, application: str) -> None:
        """A deleted application's resources go with it (the blobs stay)."""
        table = t.application_resources
        await self._conn.execute(
            sa.delete(table).where(
                table.c.model_uuid == model_uuid, table.c.application == application
            )
        )
