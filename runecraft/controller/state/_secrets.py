"""Secrets in the store: charm secrets changed by hook commits, user secrets by the API.

A secret row holds the metadata and the latest revision number; each revision keeps its
content; a consumer row is one unit's tracked revision and label; a grant lets an
application or unit (over a relation, or model-wide for user secrets: relation -1) read it.
Only persistence lives here: what a hook commit or a user may change is decided by the
rules in controller/services (_secret_rules.py, _secrets.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft.controller.state import _keyring
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._records import (
    GrantMatch,
    SecretConsumerRecord,
    SecretGrantRecord,
    SecretRecord,
    SecretRevisionRecord,
    SecretRows,
)

__all__ = ["Secrets", "read_secret_rows"]


def _key(table: sa.Table) -> sa.Column[Any]:
    return table.c.id if table is t.secrets else table.c.secret_id


def _unsealed(keyring: _keyring.Keyring) -> Callable[..., SecretRevisionRecord]:
    """A stored revision row as its record, its content unsealed."""

    def revision(
        *,
        model_uuid: str,
        secret_id: str,
        revision: int,
        created: float,
        key_id: str,
        sealed: bytes,
    ) -> SecretRevisionRecord:
        context = _keyring.revision_context(model_uuid, secret_id, revision)
        return SecretRevisionRecord(
            model_uuid=model_uuid,
            secret_id=secret_id,
            revision=revision,
            content=keyring.open(_keyring.Sealed(key_id, sealed), context),
            created=created,
        )

    return revision


async def _read_rows(
    conn: AsyncConnection,
    keyring: _keyring.Keyring,
    where: Callable[[sa.Table], Sequence[Any]],
) -> SecretRows:
    """The rows of the four secret tables that `where(table)` selects: four queries."""

    async def rows(table: sa.Table, record: Callable[..., Any], *order: Any) -> list[Any]:
        query = sa.select(table).where(*where(table)).order_by(*order)
        return [record(**r._mapping) for r in await conn.execute(query)]

    revisions, consumers, grants = t.secret_revisions, t.secret_consumers, t.secret_grants
    return SecretRows(
        secrets=await rows(t.secrets, SecretRecord, t.secrets.c.created),
        revisions=await rows(
            revisions, _unsealed(keyring), revisions.c.secret_id, revisions.c.revision
        ),
        consumers=await rows(consumers, SecretConsumerRecord, consumers.c.secret_id),
        grants=await rows(grants, SecretGrantRecord, grants.c.secret_id),
    )


async def read_secret_rows(
    conn: AsyncConnection, keyring: _keyring.Keyring, model_uuid: str | None
) -> SecretRows:
    """All secret rows of one model (or all): four queries."""
    return await _read_rows(
        conn,
        keyring,
        lambda table: () if model_uuid is None else (table.c.model_uuid == model_uuid,),
    )


def _where(table: sa.Table, model_uuid: str, secret_id: str) -> tuple[Any, ...]:
    return (table.c.model_uuid == model_uuid, _key(table) == secret_id)


@dataclasses.dataclass(eq=False)
class Secrets(Repository):
    """Secret rows: read by id, inserted, updated and deleted as the services decide;
    revision content is sealed with the keyring on the way in and unsealed on the way out."""

    _keyring: _keyring.Keyring

    async def rows(
        self, model_uuid: str, secret_ids: Sequence[str], unit: str | None = None
    ) -> SecretRows:
        """The rows of the secrets named (consumer rows: only `unit`'s): four queries."""
        ids = sorted(set(secret_ids))

        def where(table: sa.Table) -> tuple[Any, ...]:
            mine = (table.c.unit == unit,) if table is t.secret_consumers else ()
            return (table.c.model_uuid == model_uuid, _key(table).in_(ids), *mine)

        return await _read_rows(self._conn, self._keyring, where)

    async def find_user(
        self, model_uuid: str, *, secret_id: str | None = None, name: str | None = None
    ) -> SecretRecord | None:
        """A user secret (owned by the model) by id or by name."""
        where = [t.secrets.c.model_uuid == model_uuid, t.secrets.c.owner_kind == "model"]
        where.append(
            t.secrets.c.id == secret_id if secret_id is not None else t.secrets.c.name == name
        )
        row = (await self._conn.execute(sa.select(t.secrets).where(*where))).first()
        return None if row is None else record(SecretRecord, row)

    async def insert(self, secret: SecretRecord, content: Mapping[str, str]) -> None:
        """A new secret row with its first revision."""
        await self._conn.execute(sa.insert(t.secrets).values(**dataclasses.asdict(secret)))
        await self.insert_revision(
            secret.model_uuid, secret.id, secret.revision, content, secret.created
        )
        self._session.changed(f"secret-{secret.id}", "added", secret.model_uuid)

    async def insert_revision(
        self,
        model_uuid: str,
        secret_id: str,
        revision: int,
        content: Mapping[str, str],
        created: float,
    ) -> None:
        context = _keyring.revision_context(model_uuid, secret_id, revision)
        sealed = self._keyring.seal(content, context)
        await self._conn.execute(
            sa.insert(t.secret_revisions).values(
                model_uuid=model_uuid,
                secret_id=secret_id,
                revision=revision,
                created=created,
                key_id=sealed.key_id,
                sealed=sealed.data,
            )
        )

    async def reseal(self, key_id: str) -> int:
        """Seal every stored revision's content (all models) under `key_id`; returns how
        many. Content is unchanged, so nothing is recorded in the change log."""
        table = t.secret_revisions
        rows = (await self._conn.execute(sa.select(table))).all()
        for row in rows:
            context = _keyring.revision_context(row.model_uuid, row.secret_id, row.revision)
            content = self._keyring.open(_keyring.Sealed(row.key_id, row.sealed), context)
            sealed = self._keyring.seal(content, context, key_id)
            await self._conn.execute(
                sa.update(table)
                .where(*_where(table, row.model_uuid, row.secret_id))
                .where(table.c.revision == row.revision)
                .values(key_id=sealed.key_id, sealed=sealed.data)
            )
        return len(rows)

    async def update(self, model_uuid: str, secret_id: str, values: Mapping[str, Any]) -> None:
        await self._conn.execute(
            sa.update(t.secrets).where(*_where(t.secrets, model_uuid, secret_id)).values(**values)
        )
        self._session.changed(f"secret-{secret_id}", "changed", model_uuid)

    async def delete_revision(self, model_uuid: str, secret_id: str, revision: int) -> None:
        await self._conn.execute(
            sa.delete(t.secret_revisions).where(
                *_where(t.secret_revisions, model_uuid, secret_id),
                t.secret_revisions.c.revision == revision,
            )
        )
        self._session.changed(f"secret-{secret_id}", "revision-removed", model_uuid)

    async def delete(self, model_uuid: str, secret_id: str) -> None:
        """The secret with its revisions, consumer rows and grants."""
        for table in (t.secret_grants, t.secret_consumers, t.secret_revisions, t.secrets):
            await self._conn.execute(sa.delete(table).where(*_where(table, model_uuid, secret_id)))
        self._session.changed(f"secret-{secret_id}", "removed", model_uuid)

    async def insert_grant(self, grant: SecretGrantRecord) -> None:
        await self._conn.execute(sa.insert(t.secret_grants).values(**dataclasses.asdict(grant)))
        self._session.changed(f"secret-{grant.secret_id}", "granted", grant.model_uuid)

    async def delete_grants(self, match: GrantMatch) -> None:
        """Delete the grants matching every field given."""
        table = t.secret_grants
        where = [*_where(table, match.model_uuid, match.secret_id)]
        for column, value in (
            (table.c.relation_id, match.relation_id),
            (table.c.subject_kind, match.subject_kind),
            (table.c.subject, match.subject),
        ):
            if value is not None:
                where.append(column == value)
        await self._conn.execute(sa.delete(table).where(*where))
        self._session.changed(f"secret-{match.secret_id}", "revoked", match.model_uuid)

    async def save_consumer(self, consumer: SecretConsumerRecord, *, new: bool) -> None:
        """Insert (`new`) or update a consumer's tracked revision and label."""
        if new:
            await self._conn.execute(
                sa.insert(t.secret_consumers).values(**dataclasses.asdict(consumer))
            )
        else:
            await self._conn.execute(
                sa.update(t.secret_consumers)
                .where(
                    *_where(t.secret_consumers, consumer.model_uuid, consumer.secret_id),
                    t.secret_consumers.c.unit == consumer.unit,
                )
                .values(revision=consumer.revision, label=consumer.label)
            )
        self._session.changed(f"secret-{consumer.secret_id}", "tracked", consumer.model_uuid)

    async def forget_owner(
        self, model_uuid: str, *, unit: str | None = None, application: str | None = None
    ) -> None:
        """A unit or application is gone: the secrets it owned go with it (Juju), and so
        do its consumer rows and the grants to it."""
        kind, name = ("unit", unit) if unit is not None else ("application", application)
        assert name is not None
        owned = (
            await self._conn.execute(
                sa.select(t.secrets.c.id).where(
                    t.secrets.c.model_uuid == model_uuid,
                    t.secrets.c.owner_kind == kind,
                    t.secrets.c.owner == name,
                )
            )
        ).scalars()
        for secret_id in list(owned):
            await self.delete(model_uuid, secret_id)
        if unit is not None:
            await self._conn.execute(
                sa.delete(t.secret_consumers).where(
                    t.secret_consumers.c.model_uuid == model_uuid,
                    t.secret_consumers.c.unit == unit,
                )
            )
        await self._conn.execute(
            sa.delete(t.secret_grants).where(
                t.secret_grants.c.model_uuid == model_uuid,
                t.secret_grants.c.subject_kind == kind,
                t.secret_grants.c.subject == name,
            )
        )
