"""Secrets in the store: charm secrets changed by hook commits, user secrets by the API.

A secret row holds the metadata and the latest revision number; each revision keeps its
content; a consumer row is one unit's tracked revision and label; a grant lets an
application or unit (over a relation, or model-wide for user secrets: relation -1) read it.
Ops from a hook commit were checked by the agent's tools already; here each is checked
again against the rows (ownership, leadership, relation membership), and one that does not
hold is logged and skipped, as other commit parts are.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import TxBase
from runecraft.controller.state._records import ApplicationRecord, UnitRecord
from runecraft.schemas import secrets as sec

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

logger = structlog.get_logger(__name__)

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
    """Secret changes: from hook commits (charm secrets) and from users (user secrets)."""

    # --- shared -----------------------------------------------------------------------

    async def secret_row(self, model_uuid: str, secret_id: str) -> SecretRecord | None:
        row = (
            await self.conn.execute(
                sa.select(t.secrets).where(*_where(t.secrets, model_uuid, secret_id))
            )
        ).first()
        return None if row is None else SecretRecord(**row._mapping)

    async def _latest_content(self, secret: SecretRecord) -> dict[str, str] | None:
        row = (
            await self.conn.execute(
                sa.select(t.secret_revisions.c.content).where(
                    *_where(t.secret_revisions, secret.model_uuid, secret.id),
                    t.secret_revisions.c.revision == secret.revision,
                )
            )
        ).first()
        return None if row is None else dict(row.content)

    async def _insert_secret(
        self,
        model_uuid: str,
        secret_id: str,
        *,
        owner_kind: str,
        owner: str,
        content: Mapping[str, str],
        name: str | None = None,
        label: str = "",
        description: str = "",
        expire: str | None = None,
        rotate: str = "",
    ) -> None:
        now = time.time()
        await self.conn.execute(
            sa.insert(t.secrets).values(
                model_uuid=model_uuid,
                id=secret_id,
                owner_kind=owner_kind,
                owner=owner,
                name=name,
                label=label,
                description=description,
                expire=expire,
                rotate=rotate,
                rotates=_rotates(rotate, now),
                revision=1,
                created=now,
                updated=now,
            )
        )
        await self.conn.execute(
            sa.insert(t.secret_revisions).values(
                model_uuid=model_uuid,
                secret_id=secret_id,
                revision=1,
                content=dict(content),
                created=now,
            )
        )
        self.changed(f"secret-{secret_id}", "added", model_uuid)

    async def _update_secret(
        self,
        secret: SecretRecord,
        *,
        content: Mapping[str, str] | None = None,
        **meta: Any,
    ) -> int:
        """Apply metadata changes and, if the content differs from the latest, add a
        revision (Juju 3.6: identical content makes none). Returns the latest revision."""
        now = time.time()
        values: dict[str, Any] = {k: v for k, v in meta.items() if v is not None}
        if "rotate" in values:
            values["rotates"] = _rotates(values["rotate"], now)
        revision = secret.revision
        if content is not None and dict(content) != await self._latest_content(secret):
            revision += 1
            await self.conn.execute(
                sa.insert(t.secret_revisions).values(
                    model_uuid=secret.model_uuid,
                    secret_id=secret.id,
                    revision=revision,
                    content=dict(content),
                    created=now,
                )
            )
            values["revision"] = revision
        if values:
            values["updated"] = now
            await self.conn.execute(
                sa.update(t.secrets)
                .where(*_where(t.secrets, secret.model_uuid, secret.id))
                .values(**values)
            )
            self.changed(f"secret-{secret.id}", "changed", secret.model_uuid)
        return revision

    async def _delete_secret(self, secret: SecretRecord, revision: int | None = None) -> None:
        """Remove one revision (the secret goes with its last one), or the whole secret."""
        model_uuid, secret_id = secret.model_uuid, secret.id
        if revision is not None:
            await self.conn.execute(
                sa.delete(t.secret_revisions).where(
                    *_where(t.secret_revisions, model_uuid, secret_id),
                    t.secret_revisions.c.revision == revision,
                )
            )
            left = (
                await self.conn.execute(
                    sa.select(sa.func.count()).where(
                        *_where(t.secret_revisions, model_uuid, secret_id)
                    )
                )
            ).scalar_one()
            self.changed(f"secret-{secret_id}", "revision-removed", model_uuid)
            if left:
                return
        for table in (t.secret_grants, t.secret_consumers, t.secret_revisions, t.secrets):
            await self.conn.execute(sa.delete(table).where(*_where(table, model_uuid, secret_id)))
        self.changed(f"secret-{secret_id}", "removed", model_uuid)

    async def _grant(
        self, secret: SecretRecord, subject_kind: str, subject: str, relation_id: int
    ) -> None:
        exists = (
            await self.conn.execute(
                sa.select(t.secret_grants.c.subject).where(
                    *_where(t.secret_grants, secret.model_uuid, secret.id),
                    t.secret_grants.c.subject_kind == subject_kind,
                    t.secret_grants.c.subject == subject,
                    t.secret_grants.c.relation_id == relation_id,
                )
            )
        ).first()
        if exists is None:
            await self.conn.execute(
                sa.insert(t.secret_grants).values(
                    model_uuid=secret.model_uuid,
                    secret_id=secret.id,
                    subject_kind=subject_kind,
                    subject=subject,
                    relation_id=relation_id,
                )
            )
            self.changed(f"secret-{secret.id}", "granted", secret.model_uuid)

    async def _revoke(
        self,
        secret: SecretRecord,
        *,
        relation_id: int | None = None,
        app: str | None = None,
        unit: str | None = None,
    ) -> None:
        where = [*_where(t.secret_grants, secret.model_uuid, secret.id)]
        if relation_id is not None:
            where.append(t.secret_grants.c.relation_id == relation_id)
        if unit is not None:
            where += [t.secret_grants.c.subject_kind == "unit", t.secret_grants.c.subject == unit]
        elif app is not None:
            where += [
                t.secret_grants.c.subject_kind == "application",
                t.secret_grants.c.subject == app,
            ]
        await self.conn.execute(sa.delete(t.secret_grants).where(*where))
        self.changed(f"secret-{secret.id}", "revoked", secret.model_uuid)

    async def _can_read(self, secret: SecretRecord, unit: str, app: str) -> bool:
        if (secret.owner_kind, secret.owner) in (("unit", unit), ("application", app)):
            return True
        grants = await self.conn.execute(
            sa.select(t.secret_grants.c.subject_kind, t.secret_grants.c.subject).where(
                *_where(t.secret_grants, secret.model_uuid, secret.id)
            )
        )
        return any(
            (kind, subject) in (("unit", unit), ("application", app)) for kind, subject in grants
        )

    async def forget_secret_owner(
        self, model_uuid: str, *, unit: str | None = None, application: str | None = None
    ) -> None:
        """A unit or application is gone: the secrets it owned go with it (Juju), and so
        do its consumer rows and the grants to it."""
        kind, name = ("unit", unit) if unit is not None else ("application", application)
        assert name is not None
        owned = (
            await self.conn.execute(
                sa.select(t.secrets).where(
                    t.secrets.c.model_uuid == model_uuid,
                    t.secrets.c.owner_kind == kind,
                    t.secrets.c.owner == name,
                )
            )
        ).all()
        for row in owned:
            await self._delete_secret(SecretRecord(**row._mapping))
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

    # --- hook commits -----------------------------------------------------------------

    async def apply_secret_ops(
        self,
        model_uuid: str,
        unit: UnitRecord,
        app: ApplicationRecord,
        ops: Sequence[sec.SecretOp],
        relations: Mapping[int, set[str]],
    ) -> None:
        """Apply a commit's secret ops in order. `relations` maps each relation the unit's
        application is in to the applications on it."""
        log = logger.bind(unit=unit.name)
        leader = app.leader == unit.name
        for op in ops:
            if op.op == "add":
                owner_kind = op.owner or "application"
                if owner_kind == "application" and not leader:
                    log.warning("secret-add by a non-leader dropped", secret=op.id)
                    continue
                try:
                    sec.parse_secret_uri(op.id)
                    sec.validate_content(op.content or {})
                except ValueError as exc:
                    log.warning("invalid secret-add dropped", error=str(exc))
                    continue
                if await self.secret_row(model_uuid, op.id) is not None:
                    log.warning("secret-add of an existing id dropped", secret=op.id)
                    continue
                await self._insert_secret(
                    model_uuid,
                    op.id,
                    owner_kind=owner_kind,
                    owner=unit.name if owner_kind == "unit" else app.name,
                    content=op.content or {},
                    label=op.label or "",
                    description=op.description or "",
                    expire=op.expire,
                    rotate=op.rotate or "",
                )
                continue
            secret = await self.secret_row(model_uuid, op.id)
            if secret is None:
                log.warning("secret op on an unknown secret dropped", op=op.op, secret=op.id)
                continue
            if op.op == "track":
                await self._track(secret, unit, app, op)
                continue
            manages = (secret.owner_kind, secret.owner) == ("unit", unit.name) or (
                (secret.owner_kind, secret.owner) == ("application", app.name) and leader
            )
            if not manages:
                log.warning("secret op by a non-owner dropped", op=op.op, secret=op.id)
                continue
            if op.op == "set":
                if op.content is not None:
                    try:
                        sec.validate_content(op.content)
                    except ValueError as exc:
                        log.warning("invalid secret-set dropped", error=str(exc))
                        continue
                await self._update_secret(
                    secret,
                    content=op.content,
                    label=op.label,
                    description=op.description,
                    expire=op.expire,
                    rotate=op.rotate,
                )
            elif op.op == "grant":
                on_relation = relations.get(op.relation_id or 0, set()) - {app.name}
                subject = op.unit.partition("/")[0] if op.unit else op.app
                if op.relation_id is None or subject not in on_relation:
                    log.warning("secret-grant outside the relation dropped", secret=op.id)
                    continue
                kind, target = ("unit", op.unit) if op.unit else ("application", op.app)
                assert target is not None
                await self._grant(secret, kind, target, op.relation_id)
            elif op.op == "revoke":
                await self._revoke(secret, relation_id=op.relation_id, app=op.app, unit=op.unit)
            elif op.op == "remove":
                await self._delete_secret(secret, op.revision)
            elif op.op == "rotated":
                await self._update_secret(secret, rotate=secret.rotate or None)

    async def _track(
        self, secret: SecretRecord, unit: UnitRecord, app: ApplicationRecord, op: sec.SecretOp
    ) -> None:
        """A consumer read: record its tracked revision and label."""
        if not await self._can_read(secret, unit.name, app.name):
            logger.warning("secret read by a unit without access dropped", unit=unit.name)
            return
        where = (*_where(t.secret_consumers, secret.model_uuid, secret.id),)
        row = (
            await self.conn.execute(
                sa.select(t.secret_consumers).where(*where, t.secret_consumers.c.unit == unit.name)
            )
        ).first()
        values: dict[str, Any] = {}
        if op.revision is not None:
            values["revision"] = min(op.revision, secret.revision)
        if op.label is not None:
            values["label"] = op.label
        if row is None:
            await self.conn.execute(
                sa.insert(t.secret_consumers).values(
                    model_uuid=secret.model_uuid,
                    secret_id=secret.id,
                    unit=unit.name,
                    revision=values.get("revision", 0),
                    label=values.get("label", ""),
                )
            )
        elif values:
            await self.conn.execute(
                sa.update(t.secret_consumers)
                .where(*where, t.secret_consumers.c.unit == unit.name)
                .values(**values)
            )
        self.changed(f"secret-{secret.id}", "tracked", secret.model_uuid)

    # --- user secrets -----------------------------------------------------------------

    async def user_secret(self, ref: str) -> SecretRecord:
        """A user secret of this transaction's model, by name or URI."""
        assert self.model is not None
        where = [t.secrets.c.model_uuid == self.model.uuid, t.secrets.c.owner_kind == "model"]
        try:
            where.append(t.secrets.c.id == sec.parse_secret_uri(ref))
        except ValueError:
            where.append(t.secrets.c.name == ref)
        row = (await self.conn.execute(sa.select(t.secrets).where(*where))).first()
        if row is None:
            raise errors.NotFoundError(f'secret "{ref}" not found')
        return SecretRecord(**row._mapping)

    async def add_user_secret(
        self, name: str, content: Mapping[str, str], description: str = ""
    ) -> str:
        """A new user secret owned by the model; returns its id."""
        assert self.model is not None
        taken = (
            await self.conn.execute(
                sa.select(t.secrets.c.id).where(
                    t.secrets.c.model_uuid == self.model.uuid,
                    t.secrets.c.owner_kind == "model",
                    t.secrets.c.name == name,
                )
            )
        ).first()
        if taken is not None:
            raise errors.ConflictError(f'secret with name "{name}" already exists')
        secret_id = sec.new_secret_id()
        await self._insert_secret(
            self.model.uuid,
            secret_id,
            owner_kind="model",
            owner=self.model.name,
            name=name,
            content=content,
            description=description,
        )
        return secret_id

    async def update_user_secret(
        self,
        ref: str,
        *,
        content: Mapping[str, str] | None,
        description: str | None = None,
        name: str | None = None,
    ) -> int:
        """New content (a new revision), description or name; returns the latest revision."""
        secret = await self.user_secret(ref)
        if name is not None and name != secret.name:
            try:
                await self.user_secret(name)
            except errors.NotFoundError:
                pass
            else:
                raise errors.ConflictError(f'secret with name "{name}" already exists')
        return await self._update_secret(
            secret, content=content, description=description, name=name
        )

    async def grant_user_secret(self, ref: str, applications: Sequence[str]) -> None:
        secret = await self.user_secret(ref)
        for name in applications:
            await self.application_exists(name)
            await self._grant(secret, "application", name, USER_GRANT)

    async def revoke_user_secret(self, ref: str, applications: Sequence[str]) -> None:
        secret = await self.user_secret(ref)
        for name in applications:
            await self._revoke(secret, relation_id=USER_GRANT, app=name)

    async def remove_user_secret(self, ref: str, revision: int | None = None) -> None:
        secret = await self.user_secret(ref)
        if revision is not None and not 1 <= revision <= secret.revision:
            raise errors.NotFoundError(f'secret revision "{secret.id}/{revision}" not found')
        await self._delete_secret(secret, revision)

    async def application_exists(self, name: str) -> None:
        """Raises NotFoundError naming an application that is not in the model."""
        assert self.model is not None
        row = (
            await self.conn.execute(
                sa.select(t.applications.c.id).where(
                    t.applications.c.model_uuid == self.model.uuid,
                    t.applications.c.name == name,
                )
            )
        ).first()
        if row is None:
            raise errors.NotFoundError(
                f'application "{name}" not found in model "{self.model.name}"'
            )


def _rotates(rotate: str, now: float) -> float | None:
    seconds = sec.ROTATE_SECONDS.get(rotate)
    return None if seconds is None else now + seconds
