"""A whole model (or every model) read together, in a constant number of queries."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft.controller.state import _keyring
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import CHARM_COLUMNS, R, record
from runecraft.controller.state._records import (
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    CrossModelRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    OfferRecord,
    RelationRecord,
    ResourceRecord,
    SaasRecord,
    ScopeRecord,
    SecretRows,
    StorageRecord,
    UnitRecord,
)
from runecraft.controller.state._secrets import read_secret_rows

__all__ = [
    "PART_TABLES",
    "KeptSnapshots",
    "ModelSnapshot",
    "StatusUnits",
    "TableWrites",
    "collections_paused",
    "read_snapshot",
    "read_status_snapshot",
]

T = TypeVar("T")


@dataclass
class ModelSnapshot:
    """The rows of a model read together; pure data for status and reconcilers.

    `actions` holds only unfinished (pending or running) actions.
    """

    models: list[ModelRecord]
    applications: list[ApplicationRecord]
    units: list[UnitRecord]
    machines: list[MachineRecord]
    charms: dict[str, CharmRecord]
    relations: list[RelationRecord] = field(default_factory=list)
    endpoints: list[EndpointRecord] = field(default_factory=list)
    scopes: list[ScopeRecord] = field(default_factory=list)
    databags: list[DatabagRecord] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    secrets: SecretRows = field(default_factory=SecretRows)
    storage: list[StorageRecord] = field(default_factory=list)
    resources: list[ResourceRecord] = field(default_factory=list)
    offers: list[OfferRecord] = field(default_factory=list)
    saas: list[SaasRecord] = field(default_factory=list)
    cross_model: list[CrossModelRecord] = field(default_factory=list)
    """Links of the model's relations across models, as consumer or as offerer."""

    def for_model(self, model_uuid: str) -> ModelSnapshot:
        """The part of this snapshot that belongs to one model."""

        def mine(rows: list[Any]) -> list[Any]:
            return [r for r in rows if r.model_uuid == model_uuid]

        return ModelSnapshot(
            models=[m for m in self.models if m.uuid == model_uuid],
            applications=mine(self.applications),
            units=mine(self.units),
            machines=mine(self.machines),
            charms=self.charms,
            relations=mine(self.relations),
            endpoints=mine(self.endpoints),
            scopes=mine(self.scopes),
            databags=mine(self.databags),
            actions=mine(self.actions),
            secrets=self.secrets.for_model(model_uuid),
            storage=mine(self.storage),
            resources=mine(self.resources),
            offers=mine(self.offers),
            saas=mine(self.saas),
            cross_model=[
                link
                for link in self.cross_model
                if model_uuid in (link.model_uuid, link.offer_model_uuid)
            ],
        )


@dataclass(frozen=True)
class _Reader:
    """Reads whole tables, scoped to one model (or not: every model)."""

    conn: AsyncConnection
    model_uuid: str | None

    async def rows(self, table: sa.Table, kind: type[R], *order: Any, where: Any = None) -> list[R]:
        query = sa.select(table).order_by(*order)
        if where is not None:
            query = query.where(where)
        if self.model_uuid is not None:
            query = query.where(table.c.model_uuid == self.model_uuid)
        return [record(kind, r) for r in await self.conn.execute(query)]

    async def models(self) -> list[ModelRecord]:
        query = sa.select(t.models)
        if self.model_uuid is not None:
            query = query.where(t.models.c.uuid == self.model_uuid)
        return [record(ModelRecord, r) for r in await self.conn.execute(query)]

    async def charms(self, apps: list[ApplicationRecord]) -> dict[str, CharmRecord]:
        """The charms the applications use (no query when there are none)."""
        shas = sorted({a.charm_sha256 for a in apps})
        if not shas:
            return {}
        query = sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256.in_(shas))
        charms = [record(CharmRecord, row) for row in await self.conn.execute(query)]
        return {c.sha256: c for c in charms}


async def _read_relations(
    read: _Reader,
) -> tuple[list[RelationRecord], list[EndpointRecord], list[ScopeRecord], list[DatabagRecord]]:
    """Relations with their endpoints, scopes and databags: four queries."""
    endpoints, scopes, databags = t.relation_endpoints, t.relation_scopes, t.databags
    return (
        await read.rows(t.relations, RelationRecord, t.relations.c.model_uuid, t.relations.c.id),
        await read.rows(
            endpoints, EndpointRecord, endpoints.c.relation_id, endpoints.c.application
        ),
        await read.rows(scopes, ScopeRecord, scopes.c.relation_id, scopes.c.unit),
        await read.rows(
            databags,
            DatabagRecord,
            databags.c.relation_id,
            databags.c.owner_kind,
            databags.c.owner,
        ),
    )


async def _read_offers(
    read: _Reader,
) -> tuple[list[OfferRecord], list[SaasRecord], list[CrossModelRecord]]:
    """Offers, SAAS and the cross-model links of either side: three queries."""
    links = t.cross_model_relations
    query = sa.select(links).order_by(links.c.model_uuid, links.c.relation_id)
    if read.model_uuid is not None:
        query = query.where(
            sa.or_(
                links.c.model_uuid == read.model_uuid,
                links.c.offer_model_uuid == read.model_uuid,
            )
        )
    return (
        await read.rows(t.offers, OfferRecord, t.offers.c.name),
        await read.rows(t.saas, SaasRecord, t.saas.c.name),
        [record(CrossModelRecord, r) for r in await read.conn.execute(query)],
    )


def remote_rows(
    links: list[CrossModelRecord],
    scopes: list[ScopeRecord],
    databags: list[DatabagRecord],
    viewers: set[str] | None,
) -> tuple[list[ScopeRecord], list[DatabagRecord]]:
    """The other side of each cross-model relation as the viewing models see it: the
    scopes and bags of the offered application's units under the SAAS name (for the
    consumer), or of the consuming application's under `remote-<token>` (for the offerer),
    on the viewer's own relation id. `viewers`: the models to add rows for (None: all)."""
    # (source model, source relation) → (viewer model, viewer relation, source app, name)
    sides: dict[tuple[str, int], tuple[str, int, str, str]] = {}
    for link in links:
        sides[(link.offer_model_uuid, link.offer_relation_id)] = (
            link.model_uuid,
            link.relation_id,
            link.offer_application,
            link.saas,
        )
        sides[(link.model_uuid, link.relation_id)] = (
            link.offer_model_uuid,
            link.offer_relation_id,
            link.application,
            link.remote_name,
        )
    added_scopes = []
    added_bags = []

    def renamed(owner: str, app: str, name: str) -> str | None:
        head, sep, number = owner.partition("/")
        return None if head != app else f"{name}{sep}{number}"

    for scope in scopes:
        side = sides.get((scope.model_uuid, scope.relation_id))
        if side is None or (viewers is not None and side[0] not in viewers):
            continue
        unit = renamed(scope.unit, side[2], side[3])
        if unit is not None:
            added_scopes.append(ScopeRecord(side[0], side[1], unit, remote=True))
    for bag in databags:
        side = sides.get((bag.model_uuid, bag.relation_id))
        if side is None or (viewers is not None and side[0] not in viewers):
            continue
        owner = renamed(bag.owner, side[2], side[3])
        if owner is not None:
            added_bags.append(
                DatabagRecord(side[0], side[1], bag.owner_kind, owner, bag.data, bag.version)
            )
    return added_scopes, added_bags


async def _read_remote_rows(
    read: _Reader, links: list[CrossModelRecord]
) -> tuple[list[ScopeRecord], list[DatabagRecord]]:
    """The other sides' scopes and bags of one model's cross-model relations (two queries;
    none without such relations)."""
    assert read.model_uuid is not None
    others = sorted(
        {
            (link.offer_model_uuid, link.offer_relation_id)
            if link.model_uuid == read.model_uuid
            else (link.model_uuid, link.relation_id)
            for link in links
        }
    )
    if not others:
        return [], []
    scopes, bags = t.relation_scopes, t.databags
    scope_rows = await read.conn.execute(
        sa.select(scopes).where(sa.tuple_(scopes.c.model_uuid, scopes.c.relation_id).in_(others))
    )
    bag_rows = await read.conn.execute(
        sa.select(bags).where(sa.tuple_(bags.c.model_uuid, bags.c.relation_id).in_(others))
    )
    return remote_rows(
        links,
        [record(ScopeRecord, r) for r in scope_rows],
        [record(DatabagRecord, r) for r in bag_rows],
        {read.model_uuid},
    )


Part = Callable[[str, Callable[[], Awaitable[T]]], Awaitable[T]]
"""How a snapshot gets one of its parts: `part(name, read)` (see `PART_TABLES`)."""


async def _read_now(name: str, read: Callable[[], Awaitable[T]]) -> T:
    del name
    return await read()


PART_TABLES: dict[str, tuple[sa.Table, ...]] = {
    "applications": (t.applications,),
    "units": (t.units,),
    "machines": (t.machines,),
    "cross-model": (t.offers, t.saas, t.cross_model_relations),
    "relations": (
        t.relations,
        t.relation_endpoints,
        t.relation_scopes,
        t.databags,
        t.cross_model_relations,  # which other models' scopes and bags are ours to see
    ),
    "actions": (t.actions,),
    "secrets": (t.secrets, t.secret_revisions, t.secret_consumers, t.secret_grants),
    "storage": (t.storage_instances,),
    "resources": (t.application_resources,),
}
"""The parts of a model's snapshot and the tables each is read from (charms, immutable
once stored, are kept by hash: `KeptSnapshots`)."""


async def _read_parts(
    read: _Reader,
    keyring: _keyring.Keyring,
    models: list[ModelRecord],
    part: Part[Any],
    charms: Callable[[list[ApplicationRecord]], Awaitable[dict[str, CharmRecord]]],
) -> ModelSnapshot:
    """A snapshot of `read`'s model (or of all), each part got through `part`."""
    model_uuid, conn = read.model_uuid, read.conn
    apps: list[ApplicationRecord] = await part(
        "applications",
        lambda: read.rows(t.applications, ApplicationRecord, t.applications.c.name),
    )
    offers, saas, cross_model = await part("cross-model", lambda: _read_offers(read))

    async def relations() -> tuple[list[Any], ...]:
        rows, endpoints, scopes, databags = await _read_relations(read)
        if model_uuid is None:
            more_scopes, more_bags = remote_rows(cross_model, scopes, databags, None)
        else:
            more_scopes, more_bags = await _read_remote_rows(read, cross_model)
        return rows, endpoints, scopes + more_scopes, databags + more_bags

    storage, resources = t.storage_instances, t.application_resources
    rels, endpoints, scopes, databags = await part("relations", relations)
    return ModelSnapshot(
        models=models,
        applications=apps,
        units=await part(
            "units",
            lambda: read.rows(t.units, UnitRecord, t.units.c.application_id, t.units.c.number),
        ),
        machines=await part(
            "machines", lambda: read.rows(t.machines, MachineRecord, t.machines.c.number)
        ),
        charms=await charms(apps),
        relations=rels,
        endpoints=endpoints,
        scopes=scopes,
        databags=databags,
        actions=await part(
            "actions",
            lambda: read.rows(
                t.actions,
                ActionRecord,
                t.actions.c.model_uuid,
                t.actions.c.id,
                where=t.actions.c.status.in_(("pending", "running")),
            ),
        ),
        secrets=await part("secrets", lambda: read_secret_rows(conn, keyring, model_uuid)),
        storage=await part(
            "storage",
            lambda: read.rows(
                storage, StorageRecord, storage.c.model_uuid, storage.c.name, storage.c.number
            ),
        ),
        resources=await part(
            "resources",
            lambda: read.rows(
                resources,
                ResourceRecord,
                resources.c.model_uuid,
                resources.c.application,
                resources.c.name,
            ),
        ),
        offers=offers,
        saas=saas,
        cross_model=cross_model,
    )


async def read_snapshot(
    conn: AsyncConnection, keyring: _keyring.Keyring, model_uuid: str | None
) -> ModelSnapshot:
    """Every row of one model (or all): a fixed number of queries, whatever its size."""
    read = _Reader(conn, model_uuid)
    return await _read_parts(read, keyring, await read.models(), _read_now, read.charms)


class TableWrites:
    """When each table was last written, on a clock that moves with every write transaction
    of the store, once it ended (committed or not). Rows read after noting `clock` are at
    least as new as every write that moved it so far; they are still the table's while
    `written_since(tables, clock)` is false, since the controller is its database's only
    writer and every write goes through its store."""

    def __init__(self) -> None:
        self.clock = 0
        self._written: dict[str, int] = {}
        self._all_written = 0

    def ended(self, tables: Iterable[str | None]) -> None:
        """A write transaction that wrote `tables` ended (None: a table it could not name,
        which counts as every table)."""
        self.clock += 1
        for name in tables:
            if name is None:
                self._all_written = self.clock
            else:
                self._written[name] = self.clock

    def written_since(self, tables: Iterable[sa.Table], clock: int) -> bool:
        if self._all_written > clock:
            return True
        return any(self._written.get(table.name, 0) > clock for table in tables)


@dataclass
class _KeptPart:
    clock: int
    value: Any


class KeptSnapshots:
    """Each model's snapshot as last read, part by part (`PART_TABLES`): a part is read
    again only when one of its tables was written since, and a charm only once. After one
    application's config changed, a pass reads that model's applications again (one query)
    instead of its whole snapshot (about twenty): the units, machines, relations, actions,
    secrets, storage, resources and cross-model rows are those it holds, unless written."""

    def __init__(self, writes: TableWrites) -> None:
        self._writes = writes
        self._parts: dict[tuple[str, str], _KeptPart] = {}
        self._charms: dict[str, CharmRecord] = {}
        self.parts_read: list[tuple[str, str]] = []
        """(model uuid, part) of every part read from the database, in order (the latest
        `MAX_READS_NOTED`): what a pass cost."""

    MAX_READS_NOTED = 256

    def keep_only(self, model_uuids: Iterable[str]) -> None:
        """Drop the parts of every other model (those gone)."""
        keep = set(model_uuids)
        self._parts = {key: part for key, part in self._parts.items() if key[0] in keep}

    def clear(self) -> None:
        self._parts.clear()

    def _part(self, model_uuid: str) -> Part[Any]:
        async def part(name: str, read: Callable[[], Awaitable[Any]]) -> Any:
            kept = self._parts.get((model_uuid, name))
            if kept is not None and not self._writes.written_since(PART_TABLES[name], kept.clock):
                return kept.value
            clock = self._writes.clock  # noted before reading: a write meanwhile moves it
            value = await read()
            self._parts[(model_uuid, name)] = _KeptPart(clock, value)
            self.parts_read = [*self.parts_read[-(self.MAX_READS_NOTED - 1) :], (model_uuid, name)]
            return value

        return part

    def _charms_of(self, read: _Reader) -> Callable[[list[ApplicationRecord]], Awaitable[Any]]:
        async def charms(apps: list[ApplicationRecord]) -> dict[str, CharmRecord]:
            missing = [a for a in apps if a.charm_sha256 not in self._charms]
            if missing:
                self._charms.update(await read.charms(missing))
            shas = {a.charm_sha256 for a in apps}
            return {sha: self._charms[sha] for sha in sorted(shas) if sha in self._charms}

        return charms

    async def read(
        self, conn: AsyncConnection, keyring: _keyring.Keyring, model: ModelRecord
    ) -> ModelSnapshot:
        """The snapshot of `model` (as read just before, by the caller), its parts read
        again only where written since they were last read."""
        read = _Reader(conn, model.uuid)
        snap = await _read_parts(
            read, keyring, [model], self._part(model.uuid), self._charms_of(read)
        )
        # The caller gets lists of its own: the kept ones stay as read.
        copies: dict[str, Any] = {
            f.name: list(getattr(snap, f.name))
            for f in dataclasses.fields(snap)
            if isinstance(getattr(snap, f.name), list)
        }
        return dataclasses.replace(snap, **copies)


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection in a block that allocates a model's worth of objects and
    awaits nothing: status's records and documents form no cycles (reference counting
    frees them), and the collections their allocation set off, whole-heap ones among
    them, found nothing to free and took a quarter of a 10,000-unit status."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_UNIT_STATUS_COLUMNS = tuple(
    t.units.c[name]
    for name in (
        "id",
        "model_uuid",
        "application_id",
        "name",
        "number",
        "machine_number",
        "life",
        "workload_status",
        "workload_message",
        "workload_since",
        "agent_status",
        "agent_message",
        "agent_since",
        "workload_version",
        "report_seq",
        "converged_hash",
        "snapshot_revision",
        "created",
    )
)
"""The unit columns status reads, in `UnitRecord`'s field order (its leading fields)."""

_OPENED_PORTS = sa.cast(t.units.c.opened_ports, sa.Text)
"""Opened ports as their JSON text (the database's cast: PostgreSQL's driver would decode
it): most units open none, so most need no decoding."""


_UNIT: Any = UnitRecord
"""`UnitRecord`, called with `_UNIT_STATUS_COLUMNS` by position (which mypy cannot count)."""


def _status_unit(row: Any) -> UnitRecord:
    ports, principal = row[-2], row[-1]
    unit: UnitRecord = _UNIT(
        *row[:-2], opened_ports=[] if ports == "[]" else json.loads(ports), principal=principal
    )
    return unit


StatusUnits = dict[int, tuple[tuple[Any, ...], UnitRecord]]
"""Per unit id, the row status read last and the record made from it."""


def _status_units(rows: Any, known: StatusUnits) -> list[UnitRecord]:
    """Units as records; a unit whose row has the same values as at the last read reuses
    its record (after one report, 9,999 of 10,000 units are as they were, and making a
    record costs more than comparing its row). `known` is left holding this read's rows."""
    found: StatusUnits = {}
    units: list[UnitRecord] = []
    for row in rows.all():
        values = tuple(row)
        kept = known.get(values[0])
        if kept is None or kept[0] != values:
            kept = (values, _status_unit(values))
        found[values[0]] = kept
        units.append(kept[1])
    known.clear()
    known.update(found)
    return units


async def read_status_snapshot(
    conn: AsyncConnection,
    model_name: str,
    known: StatusUnits | None = None,
) -> ModelSnapshot | None:
    """What status shows of the model named `model_name` (None: no such model), in seven
    queries whatever its size: the model, its applications, units, machines, charms,
    relations and endpoints. Units carry only the columns status reads (their charm state,
    sequence numbers and removal fields keep their defaults), read as plain rows: building
    10,000 records from mappings, and decoding JSON nobody shows, took most of the time.
    `known` keeps unit records from one read to the next (see `_status_units`)."""
    row = (await conn.execute(sa.select(t.models).where(t.models.c.name == model_name))).first()
    if row is None:
        return None
    model = record(ModelRecord, row)
    read = _Reader(conn, model.uuid)
    apps = await read.rows(t.applications, ApplicationRecord, t.applications.c.name)
    units_query = (
        sa.select(*_UNIT_STATUS_COLUMNS, _OPENED_PORTS, t.units.c.principal)
        .where(t.units.c.model_uuid == model.uuid)
        .order_by(t.units.c.application_id, t.units.c.number)
    )
    rows = await conn.execute(units_query)
    with collections_paused():
        units = _status_units(rows, {} if known is None else known)
    machines = await read.rows(t.machines, MachineRecord, t.machines.c.number)
    endpoints = t.relation_endpoints
    offers, saas, cross_model = await _read_offers(read)
    return ModelSnapshot(
        models=[model],
        applications=apps,
        units=units,
        machines=machines,
        charms=await read.charms(apps),
        relations=await read.rows(t.relations, RelationRecord, t.relations.c.id),
        endpoints=await read.rows(
            endpoints, EndpointRecord, endpoints.c.relation_id, endpoints.c.application
        ),
        offers=offers,
        saas=saas,
        cross_model=cross_model,
    )
