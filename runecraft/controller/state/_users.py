"""Users, their access and their API tokens (revision 0003's tables).

Access is two-tiered as in Juju: a user's controller access (`login`, `add-model`,
`superuser`) and, per model, `read`, `write` or `admin`. Tokens are kept as their sha256
only. None of this is model state: no write here moves a model revision.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import record
from runecraft.controller.state._store import Store

__all__ = ["TokenRecord", "UserRecord", "UserStore"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    display_name: str
    password_hash: str | None
    access: str
    """Controller access: "login", "add-model" or "superuser"."""
    disabled: bool
    created: float
    last_login: float | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_hash: str
    user: str
    created: float
    expires: float
    revoked: float | None


def _missing(name: str) -> errors.NotFoundError:
    return errors.NotFoundError(f'user "{name}" not found')


class UserStore:
    """Reads and writes of users, model access and tokens, over the controller's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- users --------------------------------------------------------------------------

    async def users(self) -> list[UserRecord]:
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(sa.select(t.users).order_by(t.users.c.name))
            return [record(UserRecord, r) for r in rows]

    async def user(self, name: str) -> UserRecord | None:
        async with self._store.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.users).where(t.users.c.name == name))).first()
        return None if row is None else record(UserRecord, row)

    async def add_user(self, user: UserRecord) -> None:
        async with self._store.write() as tx:
            exists = await tx.conn.execute(
                sa.select(t.users.c.name).where(t.users.c.name == user.name)
            )
            if exists.first() is not None:
                raise errors.ConflictError(f'user "{user.name}" already exists')
            await tx.conn.execute(
                sa.insert(t.users).values(
                    name=user.name,
                    display_name=user.display_name,
                    password_hash=user.password_hash,
                    access=user.access,
                    disabled=user.disabled,
                    created=user.created,
                    last_login=user.last_login,
                )
            )

    async def update_user(self, name: str, **values: object) -> None:
        async with self._store.write() as tx:
            done = await tx.conn.execute(
                sa.update(t.users).where(t.users.c.name == name).values(**values)
            )
            if done.rowcount == 0:
                raise _missing(name)

    async def remove_user(self, name: str) -> None:
        """Forget the user with its model access and tokens."""
        async with self._store.write() as tx:
            for table in (t.user_tokens, t.model_access, t.offer_access):
                await tx.conn.execute(sa.delete(table).where(table.c.user == name))
            done = await tx.conn.execute(sa.delete(t.users).where(t.users.c.name == name))
            if done.rowcount == 0:
                raise _missing(name)

    # --- model access -------------------------------------------------------------------

    async def model_access(self, model_uuid: str, user: str) -> str | None:
        async with self._store.engine.connect() as conn:
            found = await conn.execute(
                sa.select(t.model_access.c.access).where(
                    t.model_access.c.model_uuid == model_uuid, t.model_access.c.user == user
                )
            )
            value = found.scalar()
        return None if value is None else str(value)

    async def accessible_models(self, user: str) -> dict[str, str]:
        """`{model uuid: access}` of every model the user has access to."""
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.model_access.c.model_uuid, t.model_access.c.access).where(
                    t.model_access.c.user == user
                )
            )
            return {str(r.model_uuid): str(r.access) for r in rows}

    async def model_users(self, model_uuid: str) -> dict[str, str]:
        """`{user: access}` on one model."""
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.model_access.c.user, t.model_access.c.access).where(
                    t.model_access.c.model_uuid == model_uuid
                )
            )
            return {str(r.user): str(r.access) for r in rows}

    async def set_model_access(self, model_uuid: str, user: str, access: str | None) -> None:
        """Give `user` exactly `access` on the model (None: none at all)."""
        async with self._store.write() as tx:
            table = t.model_access
            await tx.conn.execute(
                sa.delete(table).where(table.c.model_uuid == model_uuid, table.c.user == user)
            )
            if access is not None:
                await tx.conn.execute(
                    sa.insert(table).values(model_uuid=model_uuid, user=user, access=access)
                )

    # --- offer access -------------------------------------------------------------------

    async def offer_grants(self, user: str) -> dict[tuple[str, str], str]:
        """`{(model uuid, offer): access}` of every offer the user was given access to."""
        table = t.offer_access
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(table.c.model_uuid, table.c.offer, table.c.access).where(
                    table.c.user == user
                )
            )
            return {(str(r.model_uuid), str(r.offer)): str(r.access) for r in rows}

    async def offer_users(self, model_uuid: str, offer: str) -> dict[str, str]:
        """`{user: access}` given on one offer."""
        table = t.offer_access
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(table.c.user, table.c.access).where(
                    table.c.model_uuid == model_uuid, table.c.offer == offer
                )
            )
            return {str(r.user): str(r.access) for r in rows}

    async def set_offer_access(
        self, model_uuid: str, offer: str, user: str, access: str | None
    ) -> None:
        """Give `user` exactly `access` on the offer (None: none of its own)."""
        table = t.offer_access
        async with self._store.write() as tx:
            await tx.conn.execute(
                sa.delete(table).where(
                    table.c.model_uuid == model_uuid, table.c.offer == offer, table.c.user == user
                )
            )
            if access is not None:
                await tx.conn.execute(
                    sa.insert(table).values(
                        model_uuid=model_uuid, offer=offer, user=user, access=access
                    )
                )

    # --- tokens -------------------------------------------------------------------------

    async def add_token(self, token: TokenRecord) -> None:
        async with self._store.write() as tx:
            await tx.conn.execute(
                sa.insert(t.user_tokens).values(
                    token_hash=token.token_hash,
                    user=token.user,
                    created=token.created,
                    expires=token.expires,
                    revoked=token.revoked,
                )
            )

    async def token(self, token_hash: str) -> TokenRecord | None:
        async with self._store.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t.user_tokens).where(t.user_tokens.c.token_hash == token_hash)
                )
            ).first()
        return None if row is None else record(TokenRecord, row)

    async def revoke_tokens(self, user: str, *, keep: str | None = None) -> int:
        """Revoke every live token of `user` (but `keep`, a token hash); how many."""
        now = time.time()
        table = t.user_tokens
        query = sa.update(table).where(table.c.user == user, table.c.revoked.is_(None))
        if keep is not None:
            query = query.where(table.c.token_hash != keep)
        async with self._store.write() as tx:
            done = await tx.conn.execute(query.values(revoked=now))
            return int(done.rowcount)

    async def revoke_token(self, token_hash: str) -> None:
        table = t.user_tokens
        async with self._store.write() as tx:
            await tx.conn.execute(
                sa.update(table)
                .where(table.c.token_hash == token_hash, table.c.revoked.is_(None))
                .values(revoked=time.time())
            )

    # --- what an agent's model holds ----------------------------------------------------

    async def models_using_charm(self, sha256: str) -> set[str]:
        apps = t.applications
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(apps.c.model_uuid).where(apps.c.charm_sha256 == sha256).distinct()
            )
            return {str(r.model_uuid) for r in rows}

    async def models_using_resource(self, sha256: str) -> set[str]:
        table = t.application_resources
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(table.c.model_uuid).where(table.c.sha256 == sha256).distinct()
            )
            return {str(r.model_uuid) for r in rows}
