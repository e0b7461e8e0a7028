"""Storage in the store: each application's directives and each unit's instances.

Instances are numbered per model and storage name (`data/0`, `data/1`, …) and never
renumbered; a unit's rows go with the unit. Deploy records the application's directives
and attaches instances to the new units; `add-unit` and `storage-add` (from a hook commit)
attach more with the same sizes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import TxBase
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import storage as storage_schema

__all__ = [
    "StorageRecord",
    "StorageWrites",
    "add_instances",
    "attach_to_units",
    "read_storage",
    "set_directives",
]


@dataclass(frozen=True, slots=True)
class StorageRecord:
    model_uuid: str
    name: str
    number: int
    unit: str
    kind: str
    size_mib: int
    created: float

    @property
    def id(self) -> str:
        """`<name>/<number>`."""
        return f"{self.name}/{self.number}"

    def remote(self) -> storage_schema.StorageRemote:
        """The instance as the unit is told about it."""
        kind = "block" if self.kind == "block" else "filesystem"
        return storage_schema.StorageRemote(id=self.id, kind=kind, size_mib=self.size_mib)


async def read_storage(conn: AsyncConnection, model_uuid: str | None) -> list[StorageRecord]:
    """Every instance of one model (or all), by name and number."""
    table = t.storage_instances
    query = sa.select(table).order_by(table.c.model_uuid, table.c.name, table.c.number)
    if model_uuid is not None:
        query = query.where(table.c.model_uuid == model_uuid)
    return [StorageRecord(**row._mapping) for row in await conn.execute(query)]


async def set_directives(
    tx: TxBase, model_uuid: str, application: str, allocation: Mapping[str, tuple[int, int]]
) -> None:
    """Record an application's storage counts and sizes (from `allocation`)."""
    for name, (count, size) in sorted(allocation.items()):
        await tx.conn.execute(
            sa.insert(t.storage_directives).values(
                model_uuid=model_uuid,
                application=application,
                name=name,
                count=count,
                size_mib=size,
            )
        )


async def _directives(tx: TxBase, model_uuid: str, application: str) -> dict[str, tuple[int, int]]:
    table = t.storage_directives
    rows = await tx.conn.execute(
        sa.select(table.c.name, table.c.count, table.c.size_mib).where(
            table.c.model_uuid == model_uuid, table.c.application == application
        )
    )
    return {str(name): (int(count), int(size)) for name, count, size in rows}


async def _next_number(tx: TxBase, model_uuid: str, name: str) -> int:
    table = t.storage_instances
    highest = (
        await tx.conn.execute(
            sa.select(sa.func.max(table.c.number)).where(
                table.c.model_uuid == model_uuid, table.c.name == name
            )
        )
    ).scalar()
    return 0 if highest is None else int(highest) + 1


async def add_instances(
    tx: TxBase,
    model_uuid: str,
    unit: str,
    name: str,
    count: int,
    *,
    kind: str,
    size_mib: int,
) -> list[str]:
    """Attach `count` new instances of `name` to `unit`; returns their ids."""
    first = await _next_number(tx, model_uuid, name)
    now = time.time()
    ids = []
    for number in range(first, first + count):
        await tx.conn.execute(
            sa.insert(t.storage_instances).values(
                model_uuid=model_uuid,
                name=name,
                number=number,
                unit=unit,
                kind=kind,
                size_mib=size_mib,
                created=now,
            )
        )
        ids.append(f"{name}/{number}")
    if ids:
        tx.changed(f"unit-{unit}", "storage", model_uuid)
    return ids


async def attach_to_units(
    tx: TxBase,
    model_uuid: str,
    application: str,
    units: Sequence[str],
    declared: Mapping[str, charm_schema.StorageSpec],
) -> None:
    """Give each new unit of `application` its instances, as the directives say."""
    directives = await _directives(tx, model_uuid, application)
    for unit in units:
        for name, (count, size) in sorted(directives.items()):
            spec = declared.get(name)
            kind = spec.type if spec is not None else "filesystem"
            await add_instances(tx, model_uuid, unit, name, count, kind=kind, size_mib=size)


class StorageWrites(TxBase):
    """A unit's storage instances, as hook commits (`storage-add`) change them."""

    async def unit_storage_counts(self, model_uuid: str, unit: str) -> dict[str, int]:
        """How many instances of each storage name `unit` has."""
        table = t.storage_instances
        rows = await self.conn.execute(
            sa.select(table.c.name, sa.func.count())
            .where(table.c.model_uuid == model_uuid, table.c.unit == unit)
            .group_by(table.c.name)
        )
        return {str(name): int(count) for name, count in rows}

    async def charm_meta(self, sha256: str) -> dict[str, Any] | None:
        """The stored metadata of a charm (None: no such charm)."""
        meta = (
            await self.conn.execute(sa.select(t.charms.c.meta).where(t.charms.c.sha256 == sha256))
        ).scalar()
        return None if meta is None else dict(meta)

    async def storage_directives(
        self, model_uuid: str, application: str
    ) -> dict[str, tuple[int, int]]:
        """The application's storage counts and sizes by name."""
        return await _directives(self, model_uuid, application)

    async def add_storage(
        self, model_uuid: str, unit: str, name: str, count: int, *, kind: str, size_mib: int
    ) -> list[str]:
        """Attach `count` new instances of `name` to `unit`; returns their ids."""
        return await add_instances(
            self, model_uuid, unit, name, count, kind=kind, size_mib=size_mib
        )
