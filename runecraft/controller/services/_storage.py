"""Storage at deploy and add-unit time: check the directives, attach the instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from runecraft.controller.services._ports import WithCharms, WithStorage
from runecraft.controller.state import ApplicationRecord
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import storage as storage_schema

__all__ = [
    "StorageState",
    "attach_new_units",
    "check_storage",
    "record_storage",
]


class StorageState(WithStorage, WithCharms, Protocol):
    """What attaching storage to new units needs of a transaction."""


def check_storage(
    meta: charm_schema.CharmMeta, specs: Mapping[str, str]
) -> dict[str, tuple[int, int]]:
    """`--storage` directives (name → `[pool,]size,count`) against the charm: the count and
    size per unit of every storage it declares. Raises `InvalidSpecError`/`UsageError`."""
    directives = storage_schema.parse_directives([f"{name}={spec}" for name, spec in specs.items()])
    return storage_schema.allocation(meta.storage, directives)


async def record_storage(
    tx: StorageState,
    app: ApplicationRecord,
    allocation: Mapping[str, tuple[int, int]],
    units: Sequence[str],
    meta: charm_schema.CharmMeta,
) -> None:
    """A new application: keep its directives and attach its first units' instances."""
    await tx.storage.set_directives(app.model_uuid, app.name, allocation)
    await tx.storage.attach_to_units(app.model_uuid, app.name, units, meta.storage)


async def attach_new_units(tx: StorageState, app: ApplicationRecord, units: Sequence[str]) -> None:
    """`add-unit`: the new units get instances as the application's directives say."""
    charm = await tx.charms.get(app.charm_sha256)
    meta = charm_schema.CharmMeta.model_validate(charm.meta)
    await tx.storage.attach_to_units(app.model_uuid, app.name, units, meta.storage)
