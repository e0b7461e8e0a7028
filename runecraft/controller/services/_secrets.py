"""User secrets (`add-secret`, `update-secret`, `grant-secret`, …) and the `secrets` /
`show-secret` documents in Juju 3.6's JSON shape (juju-cli-contract "Secrets")."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any, Protocol

from runecraft import errors
from runecraft.controller.services import _secret_rules as rules
from runecraft.controller.services._ports import (
    ModelReads,
    StateStore,
    StoreService,
    WithApplications,
    WithModel,
    WithSecrets,
)
from runecraft.controller.state import (
    USER_GRANT,
    ModelRecord,
    SecretRecord,
    SecretRows,
)
from runecraft.schemas import secrets as sec

__all__ = ["SecretService", "secret_documents", "write_secrets"]

BACKEND = "internal"
"""The one secret backend: the controller's database."""


def _content(content: dict[str, str]) -> dict[str, str]:
    try:
        sec.validate_content(content)
    except ValueError as exc:
        raise errors.InvalidSpecError(str(exc)) from None
    return content


def _name(name: str) -> str:
    try:
        sec.parse_secret_uri(name)
    except ValueError:
        return name
    raise errors.InvalidSpecError(f'secret name "{name}" not valid: it looks like a secret id')


def _checksum(content: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _find(rows: SecretRows, ref: str) -> SecretRecord:
    try:
        secret_id = sec.parse_secret_uri(ref)
    except ValueError:
        found = [s for s in rows.secrets if s.owner_kind == "model" and s.name == ref]
    else:
        found = [s for s in rows.secrets if s.id == secret_id]
    if not found:
        raise errors.NotFoundError(f'secret "{ref}" not found')
    return found[0]


def secret_documents(
    rows: SecretRows,
    secrets: Sequence[SecretRecord],
    *,
    reveal: bool = False,
    revision: int | None = None,
    revisions: bool = False,
) -> dict[str, dict[str, Any]]:
    """`{<bare-id>: {revision, owner, created, updated, …}}` as `juju secrets`/`show-secret`
    print it; `reveal` adds `content: {"Data": …}` and `checksum` of `revision` (default:
    the latest), `revisions` lists every stored revision."""
    documents: dict[str, dict[str, Any]] = {}
    for secret in secrets:
        doc: dict[str, Any] = {
            "revision": secret.revision,
            "owner": "<model>" if secret.owner_kind == "model" else secret.owner,
            "created": sec.format_time(secret.created),
            "updated": sec.format_time(secret.updated),
        }
        if secret.name:
            doc["name"] = secret.name
        if secret.label:
            doc["label"] = secret.label
        if secret.description:
            doc["description"] = secret.description
        if secret.expire:
            doc["expires"] = secret.expire
        if secret.rotate and secret.rotate != "never":
            doc["rotation"] = secret.rotate
        if secret.rotates:
            doc["rotates"] = sec.format_time(secret.rotates)
        access = [
            {
                "target": f"{g.subject_kind}-{g.subject.replace('/', '-')}",
                "scope": (
                    f"model-{secret.model_uuid}"
                    if g.relation_id == USER_GRANT
                    else f"relation-{g.relation_id}"
                ),
                "role": "view",
            }
            for g in rows.grants
            if g.secret_id == secret.id
        ]
        if access:
            doc["access"] = access
        stored = [r for r in rows.revisions if r.secret_id == secret.id]
        if revisions:
            doc["revisions"] = [
                {
                    "revision": r.revision,
                    "backend": BACKEND,
                    "created": sec.format_time(r.created),
                    "updated": sec.format_time(r.created),
                }
                for r in stored
            ]
        if reveal:
            wanted = secret.revision if revision is None else revision
            match = next((r for r in stored if r.revision == wanted), None)
            if match is None:
                raise errors.NotFoundError(f'secret revision "{secret.id}/{wanted}" not found')
            doc["content"] = {"Data": dict(match.content)}
            doc["checksum"] = _checksum(dict(match.content))
        documents[secret.id] = doc
    return documents


class _UserSecretState(WithModel, WithSecrets, WithApplications, Protocol):
    pass


class SecretStore(StateStore[_UserSecretState], ModelReads, Protocol):
    async def rotate_secrets_key(self) -> tuple[str, int, list[str]]: ...


async def write_secrets(tx: WithSecrets, writes: Sequence[rules.SecretWrite]) -> None:
    """Make the writes the secret rules decided, in order."""
    for write in writes:
        match write:
            case rules.InsertSecret(secret, content):
                await tx.secrets.insert(secret, content)
            case rules.AddRevision(model_uuid, secret_id, revision, content, created):
                await tx.secrets.insert_revision(model_uuid, secret_id, revision, content, created)
            case rules.UpdateSecret(model_uuid, secret_id, values):
                await tx.secrets.update(model_uuid, secret_id, values)
            case rules.RemoveRevision(model_uuid, secret_id, revision):
                await tx.secrets.delete_revision(model_uuid, secret_id, revision)
            case rules.RemoveSecret(model_uuid, secret_id):
                await tx.secrets.delete(model_uuid, secret_id)
            case rules.AddGrant(grant):
                await tx.secrets.insert_grant(grant)
            case rules.RevokeGrants():
                await tx.secrets.delete_grants(write)
            case rules.SaveConsumer(consumer, new):
                await tx.secrets.save_consumer(consumer, new=new)


def _model(tx: _UserSecretState) -> ModelRecord:
    assert tx.model is not None, "user secrets change in a transaction on their model"
    return tx.model


async def _user_secret(tx: _UserSecretState, ref: str) -> rules.SecretView:
    """A user secret of the transaction's model, by name or URI, with its rows."""
    model = _model(tx)
    try:
        found = await tx.secrets.find_user(model.uuid, secret_id=sec.parse_secret_uri(ref))
    except ValueError:
        found = await tx.secrets.find_user(model.uuid, name=ref)
    if found is None:
        raise errors.NotFoundError(f'secret "{ref}" not found')
    rows = await tx.secrets.rows(model.uuid, [found.id])
    return rules.secret_views(rows, unit="")[found.id]


async def _name_free(tx: _UserSecretState, name: str) -> None:
    if await tx.secrets.find_user(_model(tx).uuid, name=name) is not None:
        raise errors.ConflictError(f'secret with name "{name}" already exists')


class SecretService(StoreService[SecretStore]):
    """User secrets of a model, and reading every secret of it."""

    async def _rows(self, model: str) -> SecretRows:
        record = await self.store.model(model)
        return (await self.store.snapshot(record.uuid)).secrets

    async def add(self, model: str, request: sec.AddSecretRequest) -> str:
        """A new user secret; returns `secret:<id>`."""
        content = _content(dict(request.content))
        name = _name(request.name)
        now = time.time()
        async with self.store.write(model) as tx:
            await _name_free(tx, name)
            record = _model(tx)
            secret = SecretRecord(
                model_uuid=record.uuid,
                id=sec.new_secret_id(),
                owner_kind="model",
                owner=record.name,
                name=name,
                label="",
                description=request.description,
                expire=None,
                rotate="",
                rotates=None,
                revision=1,
                created=now,
                updated=now,
            )
            await tx.secrets.insert(secret, content)
        self.hub.changed()
        return sec.secret_uri(secret.id)

    async def update(self, model: str, ref: str, request: sec.UpdateSecretRequest) -> None:
        if request.content is None and request.description is None and request.name is None:
            raise errors.InvalidSpecError("nothing to update: give content, --info or --name")
        content = None if request.content is None else _content(dict(request.content))
        name = None if request.name is None else _name(request.name)
        async with self.store.write(model) as tx:
            view = await _user_secret(tx, ref)
            if name is not None and name != view.secret.name:
                await _name_free(tx, name)
            _, writes = rules.updated_secret(
                view, time.time(), content=content, description=request.description, name=name
            )
            await write_secrets(tx, writes)
        self.hub.changed()

    async def grant(self, model: str, ref: str, applications: Sequence[str]) -> None:
        async with self.store.write(model) as tx:
            view = await _user_secret(tx, ref)
            for name in applications:
                await tx.applications.get(name)  # NotFoundError naming it
                view, writes = rules.granted(view, "application", name, USER_GRANT)
                await write_secrets(tx, writes)
        self.hub.changed()

    async def revoke(self, model: str, ref: str, applications: Sequence[str]) -> None:
        async with self.store.write(model) as tx:
            view = await _user_secret(tx, ref)
            for name in applications:
                view, writes = rules.revoked(view, USER_GRANT, "application", name)
                await write_secrets(tx, writes)
        self.hub.changed()

    async def remove(self, model: str, ref: str, revision: int | None = None) -> None:
        async with self.store.write(model) as tx:
            view = await _user_secret(tx, ref)
            if revision is not None and not 1 <= revision <= view.secret.revision:
                raise errors.NotFoundError(
                    f'secret revision "{view.secret.id}/{revision}" not found'
                )
            _, writes = rules.removed(view, revision)
            await write_secrets(tx, writes)
        self.hub.changed()

    async def rotate_key(self) -> sec.KeyRotation:
        """A new key seals every secret's content (all models); the old ones are dropped.
        Content does not change, so nothing is woken."""
        key, resealed, retired = await self.store.rotate_secrets_key()
        return sec.KeyRotation(key=key, resealed=resealed, retired=retired)

    async def list(
        self, model: str, *, owner: str | None = None, reveal: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Every secret of the model (charm and user secrets), optionally of one owner."""
        rows = await self._rows(model)
        chosen = [s for s in rows.secrets if owner is None or s.owner == owner]
        return secret_documents(rows, chosen, reveal=reveal)

    async def show(
        self,
        model: str,
        ref: str,
        *,
        reveal: bool = False,
        revision: int | None = None,
        revisions: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """One secret by name (user secrets) or URI."""
        if revisions and (reveal or revision is not None):
            raise errors.InvalidSpecError("specify either --revisions or --reveal, not both")
        rows = await self._rows(model)
        secret = _find(rows, ref)
        return secret_documents(
            rows, [secret], reveal=reveal, revision=revision, revisions=revisions
        )
