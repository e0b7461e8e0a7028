"""Relations inside a write transaction: add, kill, delete, and databag merges."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import (
    DatabagRecord,
    EndpointRecord,
    RelationRecord,
)

__all__ = ["Relations"]


class Relations(Repository):
    """Relations with their endpoints, scopes and databags, of the transaction's model (or
    of a named model, for agent writes)."""

    async def all(
        self, model_uuid: str | None = None
    ) -> list[tuple[RelationRecord, list[EndpointRecord]]]:
        """Every relation of the model with its endpoints, by id."""
        uuid = model_uuid or self._session.model_uuid
        relations = [
            record(RelationRecord, r)
            for r in await self._conn.execute(
                sa.select(t.relations)
                .where(t.relations.c.model_uuid == uuid)
                .order_by(t.relations.c.id)
            )
        ]
        endpoints: dict[int, list[EndpointRecord]] = {r.id: [] for r in relations}
        for row in await self._conn.execute(
            sa.select(t.relation_endpoints)
            .where(t.relation_endpoints.c.model_uuid == uuid)
            .order_by(t.relation_endpoints.c.application)
        ):
            endpoint = record(EndpointRecord, row)
            endpoints.setdefault(endpoint.relation_id, []).append(endpoint)
        return [(r, endpoints[r.id]) for r in relations]

    async def insert(
        self, key: str, endpoints: Sequence[EndpointRecord], model_uuid: str | None = None
    ) -> RelationRecord:
        """Add a relation with the next id of the model (the endpoints' `relation_id` is
        ignored); `model_uuid`: of another model (the offering side of a cross-model one)."""
        uuid = model_uuid or self._session.model_uuid
        relation = RelationRecord(
            model_uuid=uuid,
            id=await self._session.bump(t.models.c.next_relation, uuid),
            key=key,
            life="alive",
            created=time.time(),
        )
        await self._conn.execute(sa.insert(t.relations).values(**dataclasses.asdict(relation)))
        await self._conn.execute(
            sa.insert(t.relation_endpoints),
            [
                {
                    **dataclasses.asdict(ep),
                    "model_uuid": relation.model_uuid,
                    "relation_id": relation.id,
                }
                for ep in endpoints
            ],
        )
        self._session.changed(f"relation-{relation.id}", "added", uuid)
        return relation

    async def set_life(self, relation: RelationRecord, life: str) -> None:
        """Set a relation's life; a relation across models takes its other side along (so
        either side may be removed, by any path, and both end)."""
        for model_uuid, relation_id in [
            (relation.model_uuid, relation.id),
            *await self._twins(relation),
        ]:
            await self._conn.execute(
                sa.update(t.relations)
                .where(
                    t.relations.c.model_uuid == model_uuid,
                    t.relations.c.id == relation_id,
                    t.relations.c.life != life,
                )
                .values(life=life)
            )
            self._session.changed(f"relation-{relation_id}", "changed", model_uuid)

    async def _twins(self, relation: RelationRecord) -> list[tuple[str, int]]:
        """The other side of a relation across models (none for a relation of one model)."""
        links = t.cross_model_relations
        rows = await self._conn.execute(
            sa.select(links).where(
                sa.or_(
                    sa.and_(
                        links.c.model_uuid == relation.model_uuid,
                        links.c.relation_id == relation.id,
                    ),
                    sa.and_(
                        links.c.offer_model_uuid == relation.model_uuid,
                        links.c.offer_relation_id == relation.id,
                    ),
                )
            )
        )
        return [
            (str(r.offer_model_uuid), int(r.offer_relation_id))
            if (r.model_uuid, r.relation_id) == (relation.model_uuid, relation.id)
            else (str(r.model_uuid), int(r.relation_id))
            for r in rows
        ]

    async def kill_of(self, application: str, *, peers: bool = False) -> list[int]:
        """Make every alive relation of an application dying (peer ones only with `peers`)."""
        killed = []
        for relation, endpoints in await self.all():
            mine = [e for e in endpoints if e.application == application]
            if not mine or relation.life != "alive":
                continue
            if mine[0].role == "peer" and not peers:
                continue
            await self.set_life(relation, "dying")
            killed.append(relation.id)
        return killed

    async def delete(self, model_uuid: str, ids: Iterable[int]) -> None:
        """Forget relations with their endpoints, scopes and databags."""
        chosen = sorted(set(ids))
        if not chosen:
            return
        for table in (
            t.databags,
            t.relation_scopes,
            t.relation_endpoints,
            t.cross_model_relations,
        ):
            await self._conn.execute(
                sa.delete(table).where(
                    table.c.model_uuid == model_uuid, table.c.relation_id.in_(chosen)
                )
            )
        await self._conn.execute(
            sa.delete(t.relations).where(
                t.relations.c.model_uuid == model_uuid, t.relations.c.id.in_(chosen)
            )
        )
        for number in chosen:
            self._session.changed(f"relation-{number}", "removed", model_uuid)

    async def leave_all_scopes(self, model_uuid: str, unit: str) -> None:
        """A unit that is gone leaves every scope it was still in."""
        await self._conn.execute(
            sa.delete(t.relation_scopes).where(
                t.relation_scopes.c.model_uuid == model_uuid,
                t.relation_scopes.c.unit == unit,
            )
        )
        self._session.changed(f"relation-scopes-of-{unit}", "left", model_uuid)

    # --- scopes -----------------------------------------------------------------------

    async def scopes_of(self, model_uuid: str, unit: str) -> set[int]:
        """The relations whose scope `unit` is in."""
        table = t.relation_scopes
        rows = await self._conn.execute(
            sa.select(table.c.relation_id).where(
                table.c.model_uuid == model_uuid, table.c.unit == unit
            )
        )
        return set(rows.scalars())

    async def scopes_of_units(
        self, units: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], set[int]]:
        """The relations whose scope each unit (model uuid, name) is in, in one query."""
        if not units:
            return {}
        table = t.relation_scopes
        rows = await self._conn.execute(
            sa.select(table.c.model_uuid, table.c.unit, table.c.relation_id).where(
                sa.tuple_(table.c.model_uuid, table.c.unit).in_(list(dict.fromkeys(units)))
            )
        )
        scopes: dict[tuple[str, str], set[int]] = {unit: set() for unit in units}
        for row in rows:
            scopes[(str(row.model_uuid), str(row.unit))].add(int(row.relation_id))
        return scopes

    async def enter_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        await self._conn.execute(
            sa.insert(t.relation_scopes).values(
                model_uuid=model_uuid, relation_id=relation_id, unit=unit
            )
        )
        self._session.changed(f"relation-{relation_id}", "scope", model_uuid)

    async def leave_scope(self, model_uuid: str, relation_id: int, unit: str) -> None:
        table = t.relation_scopes
        await self._conn.execute(
            sa.delete(table).where(
                table.c.model_uuid == model_uuid,
                table.c.relation_id == relation_id,
                table.c.unit == unit,
            )
        )
        self._session.changed(f"relation-{relation_id}", "scope", model_uuid)

    # --- databags ---------------------------------------------------------------------

    async def databags_of(
        self, model_uuid: str, relation_ids: Iterable[int], owners: Iterable[str]
    ) -> list[DatabagRecord]:
        """The stored bags of `owners` (units or applications) on those relations."""
        table = t.databags
        rows = await self._conn.execute(
            sa.select(table).where(
                table.c.model_uuid == model_uuid,
                table.c.relation_id.in_(sorted(set(relation_ids))),
                table.c.owner.in_(sorted(set(owners))),
            )
        )
        return [record(DatabagRecord, row) for row in rows]

    async def save_databag(self, bag: DatabagRecord, *, new: bool) -> None:
        """Insert (`new`) or update a bag's content and version."""
        key: dict[str, Any] = {
            "model_uuid": bag.model_uuid,
            "relation_id": bag.relation_id,
            "owner_kind": bag.owner_kind,
            "owner": bag.owner,
        }
        if new:
            await self._conn.execute(
                sa.insert(t.databags).values(**key, data=bag.data, version=bag.version)
            )
        else:
            await self._conn.execute(
                sa.update(t.databags)
                .where(*(t.databags.c[name] == value for name, value in key.items()))
                .values(data=bag.data, version=bag.version)
            )
        self._session.changed(f"relation-{bag.relation_id}", "settings", bag.model_uuid)
