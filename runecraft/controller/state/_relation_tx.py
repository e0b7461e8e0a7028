"""Relations inside a write transaction: add, kill, delete, and databag merges."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import (
    TxBase,
    databag_record,
    endpoint_record,
    relation_record,
)
from runecraft.controller.state._records import (
    DatabagRecord,
    EndpointRecord,
    RelationRecord,
)

__all__ = ["RelationWrites", "merge_settings"]


def merge_settings(current: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    """Apply relation-set style changes: a value replaces, `""` deletes."""
    merged = dict(current)
    for key, value in changes.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class RelationWrites(TxBase):
    """Relation rows of the transaction's model (or of a named model, for agent writes)."""

    def _uuid(self, model_uuid: str | None) -> str:
        if model_uuid is not None:
            return model_uuid
        assert self.model is not None
        return self.model.uuid

    async def model_relations(
        self, model_uuid: str | None = None
    ) -> list[tuple[RelationRecord, list[EndpointRecord]]]:
        """Every relation of the model with its endpoints, by id."""
        uuid = self._uuid(model_uuid)
        relations = [
            relation_record(r)
            for r in await self.conn.execute(
                sa.select(t.relations)
                .where(t.relations.c.model_uuid == uuid)
                .order_by(t.relations.c.id)
            )
        ]
        endpoints: dict[int, list[EndpointRecord]] = {r.id: [] for r in relations}
        for row in await self.conn.execute(
            sa.select(t.relation_endpoints).where(t.relation_endpoints.c.model_uuid == uuid)
        ):
            record = endpoint_record(row)
            endpoints.setdefault(record.relation_id, []).append(record)
        return [(r, endpoints[r.id]) for r in relations]

    async def insert_relation(
        self, key: str, endpoints: Sequence[EndpointRecord]
    ) -> RelationRecord:
        """Add a relation with the next id of the model (the endpoints' `relation_id` is
        ignored)."""
        assert self.model is not None
        number = int(
            (
                await self.conn.execute(
                    sa.update(t.models)
                    .where(t.models.c.uuid == self.model.uuid)
                    .values(next_relation=t.models.c.next_relation + 1)
                    .returning(t.models.c.next_relation)
                )
            ).scalar_one()
        )
        record = RelationRecord(
            model_uuid=self.model.uuid,
            id=number - 1,
            key=key,
            life="alive",
            created=time.time(),
        )
        await self.conn.execute(
            sa.insert(t.relations).values(
                model_uuid=record.model_uuid,
                id=record.id,
                key=record.key,
                life=record.life,
                created=record.created,
            )
        )
        await self.conn.execute(
            sa.insert(t.relation_endpoints),
            [
                {
                    "model_uuid": record.model_uuid,
                    "relation_id": record.id,
                    "application": ep.application,
                    "endpoint": ep.endpoint,
                    "role": ep.role,
                    "interface": ep.interface,
                    "scope": ep.scope,
                    "relation_limit": ep.relation_limit,
                }
                for ep in endpoints
            ],
        )
        self.changed(f"relation-{record.id}", "added")
        return record

    async def set_relation_life(self, relation: RelationRecord, life: str) -> None:
        await self.conn.execute(
            sa.update(t.relations)
            .where(
                t.relations.c.model_uuid == relation.model_uuid,
                t.relations.c.id == relation.id,
            )
            .values(life=life)
        )
        self.changed(f"relation-{relation.id}", "changed", relation.model_uuid)

    async def kill_relations_of(self, application: str, *, peers: bool = False) -> list[int]:
        """Make every alive relation of an application dying (peer ones only with `peers`)."""
        killed = []
        for relation, endpoints in await self.model_relations():
            mine = [e for e in endpoints if e.application == application]
            if not mine or relation.life != "alive":
                continue
            if mine[0].role == "peer" and not peers:
                continue
            await self.set_relation_life(relation, "dying")
            killed.append(relation.id)
        return killed

    async def delete_relations(self, model_uuid: str, ids: Iterable[int]) -> None:
        """Forget relations with their endpoints, scopes and databags."""
        chosen = sorted(set(ids))
        if not chosen:
            return
        for table in (t.databags, t.relation_scopes, t.relation_endpoints):
            await self.conn.execute(
                sa.delete(table).where(
                    table.c.model_uuid == model_uuid, table.c.relation_id.in_(chosen)
                )
            )
        await self.conn.execute(
            sa.delete(t.relations).where(
                t.relations.c.model_uuid == model_uuid, t.relations.c.id.in_(chosen)
            )
        )
        for number in chosen:
            self.changed(f"relation-{number}", "removed", model_uuid)

    async def leave_all_scopes(self, model_uuid: str, unit: str) -> None:
        """A unit that is gone leaves every scope it was still in."""
        await self.conn.execute(
            sa.delete(t.relation_scopes).where(
                t.relation_scopes.c.model_uuid == model_uuid,
                t.relation_scopes.c.unit == unit,
            )
        )

    # --- databags ---------------------------------------------------------------------

    async def databag(
        self, model_uuid: str, relation_id: int, owner_kind: str, owner: str
    ) -> DatabagRecord | None:
        row = (
            await self.conn.execute(
                sa.select(t.databags).where(
                    t.databags.c.model_uuid == model_uuid,
                    t.databags.c.relation_id == relation_id,
                    t.databags.c.owner_kind == owner_kind,
                    t.databags.c.owner == owner,
                )
            )
        ).first()
        return None if row is None else databag_record(row)

    async def merge_databag(
        self,
        model_uuid: str,
        relation_id: int,
        owner_kind: str,
        owner: str,
        changes: Mapping[str, str],
    ) -> bool:
        """Merge `changes` into one databag; its version moves by one only if the content
        changed. Returns whether it did."""
        current = await self.databag(model_uuid, relation_id, owner_kind, owner)
        before: dict[str, str] = {} if current is None else dict(current.data)
        after = merge_settings(before, changes)
        if after == before:
            return False
        key: dict[str, Any] = {
            "model_uuid": model_uuid,
            "relation_id": relation_id,
            "owner_kind": owner_kind,
            "owner": owner,
        }
        if current is None:
            await self.conn.execute(sa.insert(t.databags).values(**key, data=after, version=1))
        else:
            await self.conn.execute(
                sa.update(t.databags)
                .where(*(t.databags.c[name] == value for name, value in key.items()))
                .values(data=after, version=current.version + 1)
            )
        self.changed(f"relation-{relation_id}", "settings", model_uuid)
        return True
