"""Secrets in the store: charm secrets changed by hook commits, user secrets by the API.

A secret row holds the metadata and the latest revision number; each revision keeps its
content; a consumer row is one unit's tracked revision and label; a grant lets an
application or unit (over a relation, or model-wide for user secrets: relation -1) read it.
Only persistence lives here: what a hook commit or a user may change is decided by the
rules in controller/services (_secret_rules.py, _secrets.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import TxBase

__all__ = [
    "USER_GRANT",
    "SecretConsumerRecord",
    "SecretGrantRecord",
    "SecretRecord",
    "SecretRevisionRecord",
    "SecretRows",
    "SecretWrites",
    "read_secret_rows",
]

USER_GRANT = -1
"""`relation_id` of a grant made by `grant-secret` (no relation)."""


@dataclass(frozen=True, slots=True)
class SecretRecord:
    model_uuid: str
    id: str
    owner_kind: str
    owner: str
    name: str | None
    label: str
    description: str
    expire: str | None
    rotate: str
    rotates: float | None
    revision: int
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class SecretRevisionRecord:
    model_uuid: str
    secret_id: str
    revision: int
    content: dict[str, str]
    created: float


@dataclass(frozen=True, slots=True)
class SecretConsumerRecord:
    model_uuid: str
    secret_id: str
    unit: str
    revision: int
    label: str


@dataclass(frozen=True, slots=True)
class SecretGrantRecord:
    model_uuid: str
    secret_id: str
    subject_kind: str
    subject: str
    relation_id: int


@dataclass(frozen=True)
class SecretRows:
    """Every secret row of a model (or of all models)."""

    secrets: Sequence[SecretRecord] = ()
    revisions: Sequence[SecretRevisionRecord] = ()
    consumers: Sequence[SecretConsumerRecord] = ()
    grants: Sequence[SecretGrantRecord] = ()

    def for_model(self, model_uuid: str) -> SecretRows:
        """The rows of one model."""
        return SecretRows(
            secrets=[r for r in self.secrets if r.model_uuid == model_uuid],
            revisions=[r for r in self.revisions if r.model_uuid == model_uuid],
            consumers=[r for r in self.consumers if r.model_uuid == model_uuid],
            grants=[r for r in self.grants if r.model_uuid == model_uuid],
        )


async def read_secret_rows(conn: AsyncConnection, model_uuid: str | None) -> SecretRows:
    """All secret rows of one model (or all): four queries."""

    async def rows(table: sa.Table, *order: Any) -> list[Any]:
        query = sa.select(table).order_by(*order)
        if model_uuid is not None:
            query = query.where(table.c.model_uuid == model_uuid)
        return list(await conn.execute(query))

    return SecretRows(
        secrets=[SecretRecord(**r._mapping) for r in await rows(t.secrets, t.secrets.c.created)],
        revisions=[
            SecretRevisionRecord(**r._mapping)
            for r in await rows(
                t.secret_revisions,
                t.secret_revisions.c.secret_id,
                t.secret_revisions.c.revision,
            )
        ],
        consumers=[
            SecretConsumerRecord(**r._mapping)
            for r in await rows(t.secret_consumers, t.secret_consumers.c.secret_id)
        ],
        grants=[
            SecretGrantRecord(**r._mapping)
            for r in await rows(t.secret_grants, t.secret_grants.c.secret_id)
        ],
    )


def _where(table: sa.Table, model_uuid: str, secret_id: str) -> tuple[Any, ...]:
    key = table.c.id if table is t.secrets else table.c.secret_id
    return (table.c.model_uuid == model_uuid, key == secret_id)


class SecretWrites(TxBase):
    """Secret rows: read by id, inserted, updated and deleted as the services decide."""

    async def secret_rows(
        self, model_uuid: str, secret_ids: Sequence[str], unit: str | None = None
    ) -> SecretRows:
        """The rows of the secrets named (consumer rows: only `unit`'s): four queries."""
        ids = sorted(set(secret_ids))

        async def rows(table: sa.Table, *where: Any) -> list[Any]:
            key = table.c.id if table is t.secrets else table.c.secret_id
            query = sa.select(table).where(table.c.model_uuid == model_uuid, key.in_(ids), *where)
            return list(await self.conn.execute(query))

        consumer = t.secret_consumers.c.unit == unit
        return SecretRows(
            secrets=[SecretRecord(**r._mapping) for r in await rows(t.secrets)],
            revisions=[SecretRevisionRecord(**r._mapping) for r in await rows(t.secret_revisions)],
            consumers=[
                SecretConsumerRecord(**r._mapping) for r in await rows(t.secret_consumers, consumer)
            ],
            grants=[SecretGrantRecord(**r._mapping) for r in await rows(t.secret_grants)],
        )

    async def find_user_secret(
        self, model_uuid: str, *, secret_id: str | None = None, name: str | None = None
    ) -> SecretRecord | None:
        """A user secret (owned by the model) by id or by name."""
        where = [t.secrets.c.model_uuid == model_uuid, t.secrets.c.owner_kind == "model"]
        where.append(
            t.secrets.c.id == secret_id if secret_id is not None else t.secrets.c.name == name
        )
        row = (await self.conn.execute(sa.select(t.secrets).where(*where))).first()
        return None if row is None else SecretRecord(**row._mapping)

    async def insert_secret(self, secret: SecretRecord, content: Mapping[str, str]) -> None:
        """A new secret row with its first revision."""
        await self.conn.execute(sa.insert(t.secrets).values(**dataclasses.asdict(secret)))
        await self.insert_secret_revision(
            secret.model_uuid, secret.id, secret.revision, content, secret.created
        )
        self.changed(f"secret-{secret.id}", "added", secret.model_uuid)

    async def insert_secret_revision(
        self,
        model_uuid: str,
        secret_id: str,
        revision: int,
        content: Mapping[str, str],
        created: float,
    ) -> None:
        await self.conn.execute(
            sa.insert(t.secret_revisions).values(
                model_uuid=model_uuid,
                secret_id=secret_id,
                revision=revision,
                content=dict(content),
                created=created,
            )
        )

    async def update_secret(
        self, model_uuid: str, secret_id: str, values: Mapping[str, Any]
    ) -> None:
        await self.conn.execute(
            sa.update(t.secrets).where(*_where(t.secrets, model_uuid, secret_id)).values(**values)
        )
        self.changed(f"secret-{secret_id}", "changed", model_uuid)

    async def delete_secret_revision(self, model_uuid: str, secret_id: str, revision: int) -> None:
        await self.conn.execute(
            sa.delete(t.secret_revisions).where(
                *_where(t.secret_revisions, model_uuid, secret_id),
                t.secret_revisions.c.revision == revision,
            )
        )
        self.changed(f"secret-{secret_id}", "revision-removed", model_uuid)

    async def delete_secret(self, model_uuid: str, secret_id: str) -> None:
        """The secret with its revisions, consumer rows and grants."""
        for table in (t.secret_grants, t.secret_consumers, t.secret_revisions, t.secrets):
            await self.conn.execute(sa.delete(table).where(*_where(table, model_uuid, secret_id)))
        self.changed(f"secret-{secret_id}", "removed", model_uuid)

    async def insert_secret_grant(self, grant: SecretGrantRecord) -> None:
        await self.conn.execute(sa.insert(t.secret_grants).values(**dataclasses.asdict(grant)))
        self.changed(f"secret-{grant.secret_id}", "granted", grant.model_uuid)

    async def delete_secret_grants(
        self,
        model_uuid: str,
        secret_id: str,
        *,
        relation_id: int | None = None,
        subject_kind: str | None = None,
        subject: str | None = None,
    ) -> None:
        """Delete the grants matching every field given."""
        table = t.secret_grants
        where = [*_where(table, model_uuid, secret_id)]
        for column, value in (
            (table.c.relation_id, relation_id),
            (table.c.subject_kind, subject_kind),
            (table.c.subject, subject),
        ):
            if value is not None:
                where.append(column == value)
        await self.conn.execute(sa.delete(table).where(*where))
        self.changed(f"secret-{secret_id}", "revoked", model_uuid)

    async def save_secret_consumer(self, consumer: SecretConsumerRecord, *, new: bool) -> None:
        """Insert (`new`) or update a consumer's tracked revision and label."""
        if new:
            await self.conn.execute(
                sa.insert(t.secret_consumers).values(**dataclasses.asdict(consumer))
            )
        else:
            await self.conn.execute(
                sa.update(t.secret_consumers)
                .where(
                    *_where(t.secret_consumers, consumer.model_uuid, consumer.secret_id),
                    t.secret_consumers.c.unit == consumer.unit,
                )
                .values(revision=consumer.revision, label=consumer.label)
            )
        self.changed(f"secret-{consumer.secret_id}", "tracked", consumer.model_uuid)

    async def forget_secret_owner(
        self, model_uuid: str, *, unit: str | None = None, application: str | None = None
    ) -> None:
        """A unit or application is gone: the secrets it owned go with it (Juju), and so
        do its consumer rows and the grants to it."""
        kind, name = ("unit", unit) if unit is not None else ("application", application)
        assert name is not None
        owned = (
            await self.conn.execute(
                sa.select(t.secrets.c.id).where(
                    t.secrets.c.model_uuid == model_uuid,
                    t.secrets.c.owner_kind == kind,
                    t.secrets.c.owner == name,
                )
            )
        ).scalars()
        for secret_id in list(owned):
            await self.delete_secret(model_uuid, secret_id)
        if unit is not None:
            await self.conn.execute(
                sa.delete(t.secret_consumers).where(
                    t.secret_consumers.c.model_uuid == model_uuid,
                    t.secret_consumers.c.unit == unit,
                )
            )
        await self.conn.execute(
            sa.delete(t.secret_grants).where(
                t.secret_grants.c.model_uuid == model_uuid,
                t.secret_grants.c.subject_kind == kind,
                t.secret_grants.c.subject == name,
            )
        )
