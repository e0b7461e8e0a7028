"""A whole model (or every model) read together, in a constant number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import (
    CHARM_COLUMNS,
    action_record,
    app_record,
    charm_record,
    databag_record,
    endpoint_record,
    machine_record,
    model_record,
    relation_record,
    scope_record,
    unit_record,
)
from runecraft.controller.state._records import (
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
    ScopeRecord,
    UnitRecord,
)
from runecraft.controller.state._resources_tx import ResourceRecord, read_resources
from runecraft.controller.state._secret_tx import SecretRows, read_secret_rows
from runecraft.controller.state._storage_tx import StorageRecord, read_storage

__all__ = ["ModelSnapshot", "read_snapshot"]


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
        )


async def read_snapshot(conn: AsyncConnection, model_uuid: str | None) -> ModelSnapshot:
    """Every row of one model (or all): ten queries, whatever the model's size."""

    def scoped(query: Any, table: sa.Table) -> Any:
        if model_uuid is None:
            return query
        return query.where(table.c.model_uuid == model_uuid)

    async def rows(query: Any, table: sa.Table) -> Any:
        return await conn.execute(scoped(query, table))

    model_query = sa.select(t.models)
    if model_uuid is not None:
        model_query = model_query.where(t.models.c.uuid == model_uuid)
    models = [model_record(r) for r in await conn.execute(model_query)]
    apps = [
        app_record(r)
        for r in await rows(
            sa.select(t.applications).order_by(t.applications.c.name), t.applications
        )
    ]
    units = [
        unit_record(r)
        for r in await rows(
            sa.select(t.units).order_by(t.units.c.application_id, t.units.c.number), t.units
        )
    ]
    machines = [
        machine_record(r)
        for r in await rows(sa.select(t.machines).order_by(t.machines.c.number), t.machines)
    ]
    shas = sorted({a.charm_sha256 for a in apps})
    charms = (
        [
            charm_record(r)
            for r in await conn.execute(
                sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256.in_(shas))
            )
        ]
        if shas
        else []
    )
    relations = [
        relation_record(r)
        for r in await rows(
            sa.select(t.relations).order_by(t.relations.c.model_uuid, t.relations.c.id),
            t.relations,
        )
    ]
    endpoints = [
        endpoint_record(r)
        for r in await rows(
            sa.select(t.relation_endpoints).order_by(
                t.relation_endpoints.c.relation_id, t.relation_endpoints.c.application
            ),
            t.relation_endpoints,
        )
    ]
    scopes = [
        scope_record(r)
        for r in await rows(
            sa.select(t.relation_scopes).order_by(
                t.relation_scopes.c.relation_id, t.relation_scopes.c.unit
            ),
            t.relation_scopes,
        )
    ]
    databags = [
        databag_record(r)
        for r in await rows(
            sa.select(t.databags).order_by(
                t.databags.c.relation_id, t.databags.c.owner_kind, t.databags.c.owner
            ),
            t.databags,
        )
    ]
    actions = [
        action_record(r)
        for r in await rows(
            sa.select(t.actions)
            .where(t.actions.c.status.in_(("pending", "running")))
            .order_by(t.actions.c.model_uuid, t.actions.c.id),
            t.actions,
        )
    ]
    return ModelSnapshot(
        models=models,
        applications=apps,
        units=units,
        machines=machines,
        charms={c.sha256: c for c in charms},
        relations=relations,
        endpoints=endpoints,
        scopes=scopes,
        databags=databags,
        actions=actions,
        secrets=await read_secret_rows(conn, model_uuid),
        storage=await read_storage(conn, model_uuid),
        resources=await read_resources(conn, model_uuid),
    )
