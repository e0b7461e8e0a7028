"""Resources in the store: content-addressed blobs and each application's revisions.

A blob is stored once whatever uses it (`put_resource_blob` is idempotent, keyed by its
sha256, as `Store.put_charm` is); attaching a resource to an application moves its
revision, and units see the new hash in their next snapshot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft import errors
from runecraft.charms import content_hash
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import TxBase

__all__ = [
    "ResourceRecord",
    "attach_resource",
    "put_resource_blob",
    "read_resource_blob",
    "read_resources",
]


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    model_uuid: str
    application: str
    name: str
    sha256: str
    size: int
    revision: int
    created: float


async def put_resource_blob(conn: AsyncConnection, data: bytes) -> str:
    """Store `data` once; returns its sha256."""
    sha256 = content_hash(data)
    table = t.resource_blobs
    found = (await conn.execute(sa.select(table.c.sha256).where(table.c.sha256 == sha256))).first()
    if found is None:
        await conn.execute(
            sa.insert(table).values(sha256=sha256, size=len(data), data=data, created=time.time())
        )
    return sha256


async def read_resource_blob(conn: AsyncConnection, sha256: str) -> bytes:
    """A stored blob; `NotFoundError` when there is none with that hash."""
    table = t.resource_blobs
    data = (await conn.execute(sa.select(table.c.data).where(table.c.sha256 == sha256))).scalar()
    if data is None:
        raise errors.NotFoundError(f'resource "{sha256}" not found')
    return bytes(data)


async def read_resources(conn: AsyncConnection, model_uuid: str | None) -> list[ResourceRecord]:
    """Every application resource of one model (or all)."""
    table = t.application_resources
    query = sa.select(table).order_by(table.c.model_uuid, table.c.application, table.c.name)
    if model_uuid is not None:
        query = query.where(table.c.model_uuid == model_uuid)
    return [ResourceRecord(**row._mapping) for row in await conn.execute(query)]


async def attach_resource(
    tx: TxBase, model_uuid: str, application: str, name: str, sha256: str
) -> ResourceRecord:
    """Make `sha256` (an uploaded blob) the application's current `name`; a new hash moves
    the revision, the same hash again changes nothing."""
    size = (
        await tx.conn.execute(
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
    row = (await tx.conn.execute(sa.select(table).where(*where))).first()
    now = time.time()
    if row is None:
        record = ResourceRecord(model_uuid, application, name, sha256, int(size), 1, now)
        await tx.conn.execute(
            sa.insert(table).values(
                model_uuid=model_uuid,
                application=application,
                name=name,
                sha256=sha256,
                size=size,
                revision=1,
                created=now,
            )
        )
    else:
        current = ResourceRecord(**row._mapping)
        if current.sha256 == sha256:
            return current
        record = ResourceRecord(
            model_uuid, application, name, sha256, int(size), current.revision + 1, now
        )
        await tx.conn.execute(
            sa.update(table)
            .where(*where)
            .values(sha256=sha256, size=size, revision=record.revision, created=now)
        )
    tx.changed(f"application-{application}", "resource", model_uuid)
    return record
