"""Storage in the store: each application's directives and each unit's instances.

Instances are numbered per model and storage name (`data/0`, `data/1`, …) and never
renumbered; a unit's rows go with the unit. Deploy records the application's directives
and attaches instances to the new units; `add-unit` and `storage-add` (from a hook commit)
attach more with the same sizes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository
from runecraft.schemas import charm as charm_schema

__all__ = ["Storage"]


class Storage(Repository):
    """Each application's storage directives and each unit's instances."""

    async def set_directives(
        self, model_uuid: str, application: str, allocation: Mapping[str, tuple[int, int]]
    ) -> None:
        """Record an application's storage counts and sizes (from `allocation`)."""
        for name, (count, size) in sorted(allocation.items()):
            await self._conn.execute(
                sa.insert(t.storage_directives).values(
                    model_uuid=model_uuid,
                    application=application,
                    name=name,
                    count=count,
                    size_mib=size,
                )
            )

    async def directives(self, model_uuid: str, application: str) -> dict[str, tuple[int, int]]:
        """The application's storage counts and sizes by name."""
        table = t.storage_directives
        rows = await self._conn.execute(
            sa.select(table.c.name, table.c.count, table.c.size_mib).where(
                table.c.model_uuid == model_uuid, table.c.application == application
            )
        )
        return {str(name): (int(count), int(size)) for name, count, size in rows}

    async def _next_number(self, model_uuid: str, name: str) -> int:
        table = t.storage_instances
        highest = (
            await self._conn.execute(
                sa.select(sa.func.max(table.c.number)).where(
                    table.c.model_uuid == model_uuid, table.c.name == name
                )
            )
        ).scalar()
        return 0 if highest is None else int(highest) + 1

    async def add(
        self, model_uuid: str, unit: str, name: str, count: int, *, kind: str, size_mib: int
    ) -> list[str]:
        """Attach `count` new instances of `name` to `unit`; returns their ids."""
        first = await self._next_number(model_uuid, name)
        now = time.time()
        ids = []
        for number in range(first, first + count):
            await self._conn.execute(
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
            self._session.changed(f"unit-{unit}", "storage", model_uuid)
        return ids

    async def attach_to_units(
        self,
        model_uuid: str,
        application: str,
        units: Sequence[str],
        declared: Mapping[str, charm_schema.StorageSpec],
    ) -> None:
        """Give each new unit of `application` its instances, as the directives say."""
        directives = await self.directives(model_uuid, application)
        for unit in units:
            for name, (count, size) in sorted(directives.items()):
                spec = declared.get(name)
                kind = spec.type if spec is not None else "filesystem"
                await self.add(model_uuid, unit, name, count, kind=kind, size_mib=size)

    async def unit_counts(self, model_uuid: str, unit: str) -> dict[str, int]:
        """How many instances of each storage name `unit` has."""
        table = t.storage_instances
        rows = await self._conn.execute(
            sa.select(table.c.name, sa.func.count())
            .where(table.c.model_uuid == model_uuid, table.c.unit == unit)
            .group_by(table.c.name)
        )
        return {str(name): int(count) for name, count in rows}

    async def forget_unit(self, model_uuid: str, unit: str) -> None:
        """A deleted unit's instances go with it."""
        table = t.storage_instances
        await self._conn.execute(
            sa.delete(table).where(table.c.model_uuid == model_uuid, table.c.unit == unit)
        )

    async def forget_application(self, model_uuid: str, application: str) -> None:
        """A deleted application's directives go with it."""
        table = t.storage_directives
        await self._conn.execute(
            sa.delete(table).where(
                table.c.model_uuid == model_uuid, table.c.application == application
            )
        )
