"""User secrets (`add-secret`, `update-secret`, `grant-secret`, …) and the `secrets` /
`show-secret` documents in Juju 3.6's JSON shape (juju-cli-contract "Secrets")."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from runecraft import errors
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.state import Store
from runecraft.controller.state._secret_tx import USER_GRANT, SecretRecord, SecretRows
from runecraft.schemas import secrets as sec

__all__ = ["SecretService", "secret_documents"]

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
            "owner": secret.owner,
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


class SecretService:
    """User secrets of a model, and reading every secret of it."""

    def __init__(self, store: Store, hub: ChangeHub) -> None:
        self.store = store
        self.hub = hub

    async def _rows(self, model: str) -> SecretRows:
        record = await self.store.model(model)
        return (await self.store.snapshot(record.uuid)).secrets

    async def add(self, model: str, request: sec.AddSecretRequest) -> str:
        """A new user secret; returns `secret:<id>`."""
        content = _content(dict(request.content))
        async with self.store.write(model) as tx:
            secret_id = await tx.add_user_secret(_name(request.name), content, request.description)
        self.hub.changed()
        return sec.secret_uri(secret_id)

    async def update(self, model: str, ref: str, request: sec.UpdateSecretRequest) -> None:
        if request.content is None and request.description is None and request.name is None:
            raise errors.InvalidSpecError("nothing to update: give content, --info or --name")
        content = None if request.content is None else _content(dict(request.content))
        name = None if request.name is None else _name(request.name)
        async with self.store.write(model) as tx:
            await tx.update_user_secret(
                ref, content=content, description=request.description, name=name
            )
        self.hub.changed()

    async def grant(self, model: str, ref: str, applications: Sequence[str]) -> None:
        async with self.store.write(model) as tx:
            await tx.grant_user_secret(ref, applications)
        self.hub.changed()

    async def revoke(self, model: str, ref: str, applications: Sequence[str]) -> None:
        async with self.store.write(model) as tx:
            await tx.revoke_user_secret(ref, applications)
        self.hub.changed()

    async def remove(self, model: str, ref: str, revision: int | None = None) -> None:
        async with self.store.write(model) as tx:
            await tx.remove_user_secret(ref, revision)
        self.hub.changed()

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
