"""What a hook commit's secret ops may change: pure rules over the stored secret rows.

The agent's tools checked each op already; the controller checks it again against what is
stored (docs/runtime-contract.md, "Secrets"): the owner (and, for an application secret,
its leader) manages a secret, a grantee must be on the relation named, and only a unit that
may read a secret tracks it. Ops apply in order, so each sees what the earlier ones did: the
rules run over a `SecretView` per secret and return the writes to make, or raise one error
naming the op and why it does not hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runecraft import errors
from runecraft.controller.state import (
    ApplicationRecord,
    GrantMatch,
    SecretConsumerRecord,
    SecretGrantRecord,
    SecretRecord,
    SecretRevisionRecord,
    SecretRows,
    UnitRecord,
)
from runecraft.schemas import secrets as sec

__all__ = [
    "AddGrant",
    "AddRevision",
    "InsertSecret",
    "RemoveRevision",
    "RemoveSecret",
    "RevokeGrants",
    "SaveConsumer",
    "SecretView",
    "SecretWrite",
    "UpdateSecret",
    "granted",
    "removed",
    "revoked",
    "rotates",
    "secret_op",
    "secret_views",
    "updated_secret",
]


# --- the writes -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InsertSecret:
    """A new secret with its first revision."""

    secret: SecretRecord
    content: Mapping[str, str]


class AddRevision(SecretRevisionRecord):
    """A new revision of a secret: its row, as it is stored."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class UpdateSecret:
    """New values for the secret's row (metadata, latest revision, `updated`)."""

    model_uuid: str
    secret_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RemoveRevision:
    model_uuid: str
    secret_id: str
    revision: int


@dataclass(frozen=True, slots=True)
class RemoveSecret:
    """The secret with every revision, grant and consumer row."""

    model_uuid: str
    secret_id: str


@dataclass(frozen=True, slots=True)
class AddGrant:
    grant: SecretGrantRecord


class RevokeGrants(GrantMatch):
    """Drop the grants matching every field given (None matches any)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class SaveConsumer:
    """A consumer's tracked revision and label; `new` inserts the row."""

    consumer: SecretConsumerRecord
    new: bool


SecretWrite = (
    InsertSecret
    | AddRevision
    | UpdateSecret
    | RemoveRevision
    | RemoveSecret
    | AddGrant
    | RevokeGrants
    | SaveConsumer
)


# --- what is stored ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretView:
    """One secret as the rules see it: its row, revisions, grants and the unit's consumer
    row (None before its first read)."""

    secret: SecretRecord
    contents: Mapping[int, Mapping[str, str]]
    grants: frozenset[SecretGrantRecord] = frozenset()
    consumer: SecretConsumerRecord | None = None

    def latest(self) -> Mapping[str, str] | None:
        return self.contents.get(self.secret.revision)


def secret_views(rows: SecretRows, unit: str) -> dict[str, SecretView]:
    """The stored secrets of `rows` by id, with `unit`'s consumer rows."""
    return {
        s.id: SecretView(
            secret=s,
            contents={r.revision: r.content for r in rows.revisions if r.secret_id == s.id},
            grants=frozenset(g for g in rows.grants if g.secret_id == s.id),
            consumer=next(
                (c for c in rows.consumers if c.secret_id == s.id and c.unit == unit), None
            ),
        )
        for s in rows.secrets
    }


def rotates(rotate: str, now: float) -> float | None:
    """When a secret with rotation policy `rotate` next rotates."""
    seconds = sec.ROTATE_SECONDS.get(rotate)
    return None if seconds is None else now + seconds


def updated_secret(
    view: SecretView,
    now: float,
    *,
    content: Mapping[str, str] | None = None,
    **meta: Any,
) -> tuple[SecretView, list[SecretWrite]]:
    """Metadata changes (None: unchanged), and a new revision if `content` differs from the
    latest (Juju 3.6: identical content makes none)."""
    secret = view.secret
    values: dict[str, Any] = {k: v for k, v in meta.items() if v is not None}
    if "rotate" in values:
        values["rotates"] = rotates(values["rotate"], now)
    writes: list[SecretWrite] = []
    contents = view.contents
    if content is not None and dict(content) != view.latest():
        revision = secret.revision + 1
        writes.append(AddRevision(secret.model_uuid, secret.id, revision, dict(content), now))
        contents = {**contents, revision: dict(content)}
        values["revision"] = revision
    if not values:
        return view, writes
    values["updated"] = now
    writes.append(UpdateSecret(secret.model_uuid, secret.id, values))
    changed = dataclasses.replace(secret, **values)
    return dataclasses.replace(view, secret=changed, contents=contents), writes


# --- the rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Actor:
    """The unit whose commit it is."""

    model_uuid: str
    unit: UnitRecord
    app: ApplicationRecord

    @property
    def leader(self) -> bool:
        return self.app.leader == self.unit.name

    def manages(self, secret: SecretRecord) -> bool:
        owner = (secret.owner_kind, secret.owner)
        return owner == ("unit", self.unit.name) or (
            owner == ("application", self.app.name) and self.leader
        )

    def reads(self, view: SecretView) -> bool:
        mine = (("unit", self.unit.name), ("application", self.app.name))
        return (view.secret.owner_kind, view.secret.owner) in mine or any(
            (g.subject_kind, g.subject) in mine for g in view.grants
        )


def secret_op(
    views: Mapping[str, SecretView | None],
    op: sec.SecretOp,
    *,
    model_uuid: str,
    unit: UnitRecord,
    app: ApplicationRecord,
    relations: Mapping[int, frozenset[str]],
    now: float,
) -> tuple[SecretView | None, list[SecretWrite]]:
    """One op of the commit: the secret's view after it, and the writes.

    `views` holds the secrets as the earlier ops left them (None: removed, or unknown);
    `relations` maps each relation the unit's application is in to the applications on it.

    Raises:
        PermissionDeniedError: a non-leader adds an application secret, a non-owner manages
            a secret, or a unit without access reads one.
        NotFoundError: the secret is not stored; a grantee is not on the relation.
        ConflictError: `add` of an id already stored.
        InvalidSpecError: a malformed id or content.
    """
    actor = _Actor(model_uuid, unit, app)
    view = views.get(op.id)
    if op.op == "add":
        return _add(actor, view, op, now)
    if view is None:
        raise errors.NotFoundError(f'secret "{op.id}" not found')
    if op.op == "track":
        return _track(actor, view, op)
    if not actor.manages(view.secret):
        raise errors.PermissionDeniedError(
            f'unit "{unit.name}" does not manage secret "{op.id}" (owner: {view.secret.owner})'
        )
    if op.op == "set":
        if op.content is not None:
            _valid_content(op.content)
        return updated_secret(
            view,
            now,
            content=op.content,
            label=op.label,
            description=op.description,
            expire=op.expire,
            rotate=op.rotate,
        )
    if op.op == "grant":
        return _grant(actor, view, op, relations)
    if op.op == "revoke":
        return _revoke(view, op)
    if op.op == "remove":
        return removed(view, op.revision)
    return updated_secret(view, now, rotate=view.secret.rotate or None)  # "rotated"


def _valid_content(content: Mapping[str, str]) -> None:
    try:
        sec.validate_content(dict(content))
    except ValueError as exc:
        raise errors.InvalidSpecError(f"content not valid: {exc}") from None


def _add(
    actor: _Actor, view: SecretView | None, op: sec.SecretOp, now: float
) -> tuple[SecretView, list[SecretWrite]]:
    owner_kind = op.owner or "application"
    if owner_kind == "application" and not actor.leader:
        raise errors.PermissionDeniedError(
            f'unit "{actor.unit.name}" is not the leader: only it adds application secrets'
        )
    try:
        sec.parse_secret_uri(op.id)
    except ValueError as exc:
        raise errors.InvalidSpecError(f"id not valid: {exc}") from None
    _valid_content(op.content or {})
    if view is not None:
        raise errors.ConflictError(f'secret "{op.id}" already exists')
    rotate = op.rotate or ""
    secret = SecretRecord(
        model_uuid=actor.model_uuid,
        id=op.id,
        owner_kind=owner_kind,
        owner=actor.unit.name if owner_kind == "unit" else actor.app.name,
        name=None,
        label=op.label or "",
        description=op.description or "",
        expire=op.expire,
        rotate=rotate,
        rotates=rotates(rotate, now),
        revision=1,
        created=now,
        updated=now,
    )
    content = dict(op.content or {})
    return SecretView(secret, {1: content}), [InsertSecret(secret, content)]


def _track(
    actor: _Actor, view: SecretView, op: sec.SecretOp
) -> tuple[SecretView, list[SecretWrite]]:
    """A consumer read: the revision it tracks (never past the latest) and its label."""
    if not actor.reads(view):
        raise errors.PermissionDeniedError(
            f'unit "{actor.unit.name}" may not read secret "{op.id}"'
        )
    secret = view.secret
    before = view.consumer or SecretConsumerRecord(
        secret.model_uuid, secret.id, actor.unit.name, 0, ""
    )
    after = dataclasses.replace(
        before,
        revision=before.revision if op.revision is None else min(op.revision, secret.revision),
        label=before.label if op.label is None else op.label,
    )
    return dataclasses.replace(view, consumer=after), [SaveConsumer(after, view.consumer is None)]


def _grant(
    actor: _Actor, view: SecretView, op: sec.SecretOp, relations: Mapping[int, frozenset[str]]
) -> tuple[SecretView, list[SecretWrite]]:
    """Read access for an application (or one of its units) on a relation of the owner's."""
    subject = op.unit.partition("/")[0] if op.unit else op.app
    if op.relation_id is None:
        raise errors.InvalidSpecError("a grant names its relation")
    if subject is None or subject not in relations.get(op.relation_id, frozenset()) - {
        actor.app.name
    }:
        raise errors.NotFoundError(f'"{subject}" is not on relation {op.relation_id}')
    if op.unit:
        return granted(view, "unit", op.unit, op.relation_id)
    return granted(view, "application", subject, op.relation_id)


def granted(
    view: SecretView, kind: str, subject: str, relation_id: int
) -> tuple[SecretView, list[SecretWrite]]:
    """Read access for `subject`; granting it again changes nothing."""
    grant = SecretGrantRecord(view.secret.model_uuid, view.secret.id, kind, subject, relation_id)
    if grant in view.grants:
        return view, []
    return dataclasses.replace(view, grants=view.grants | {grant}), [AddGrant(grant)]


def _revoke(view: SecretView, op: sec.SecretOp) -> tuple[SecretView, list[SecretWrite]]:
    """Drop the grants to the unit given, else to the application given, else to anyone."""
    if op.unit is not None:
        return revoked(view, op.relation_id, "unit", op.unit)
    if op.app is not None:
        return revoked(view, op.relation_id, "application", op.app)
    return revoked(view, op.relation_id, None, None)


def revoked(
    view: SecretView, relation_id: int | None, kind: str | None, subject: str | None
) -> tuple[SecretView, list[SecretWrite]]:
    """Drop the grants matching every field given (None matches any)."""

    def matches(grant: SecretGrantRecord) -> bool:
        return (
            relation_id in (None, grant.relation_id)
            and kind in (None, grant.subject_kind)
            and subject in (None, grant.subject)
        )

    left = frozenset(g for g in view.grants if not matches(g))
    write = RevokeGrants(view.secret.model_uuid, view.secret.id, relation_id, kind, subject)
    return dataclasses.replace(view, grants=left), [write]


def removed(view: SecretView, revision: int | None) -> tuple[SecretView | None, list[SecretWrite]]:
    """One revision (the secret goes with its last one), or the whole secret."""
    secret = view.secret
    writes: list[SecretWrite] = []
    if revision is not None:
        writes.append(RemoveRevision(secret.model_uuid, secret.id, revision))
        contents = {k: v for k, v in view.contents.items() if k != revision}
        if contents:
            return dataclasses.replace(view, contents=contents), writes
    writes.append(RemoveSecret(secret.model_uuid, secret.id))
    return None, writes
