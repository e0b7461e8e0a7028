"""Who is calling, and what they may do: users, their passwords and tokens, and the access
checks every API route makes.

A caller is a `Principal`: a user (by the controller's admin token, which is user `admin`,
or by a token `login` issued, neither expired nor revoked) or a machine agent (its
`agent:password` credential; its model is its machine's). Refusals are
`PermissionDeniedError`s naming the access needed. A user with no access to a model is
refused the same way whether the model exists or not, so nothing about it leaks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from runecraft import errors
from runecraft.controller import _passwords
from runecraft.controller.services._offers import OFFER_OWNER, parse_offer_url
from runecraft.controller.state import Store, TokenRecord, UserRecord, UserStore
from runecraft.schemas import users as schema

__all__ = ["ADMIN_USER", "Principal", "UserService", "offer_level"]

logger = structlog.get_logger(__name__)

ADMIN_USER = "admin"
"""The bootstrap superuser; the controller's `admin_token` authenticates as it."""

_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.+-]{0,62}[a-z0-9])?\Z")
_SEEN_EVERY = 60.0
"""Seconds between two `last_login` writes for one user's token use."""


_DECOY = _passwords.hash_user_password(secrets.token_urlsafe(16))
"""Checked against when the user does not exist or is disabled."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _rank(levels: tuple[str, ...], level: str | None) -> int:
    return -1 if level is None else levels.index(level)


_OFFER_ACCESS = {"admin": "admin", "write": "consume", "read": "read"}
"""A model access level as the access it gives to the model's offers."""


def offer_level(
    models: dict[str, str], grants: dict[tuple[str, str], str], model_uuid: str, offer: str
) -> str | None:
    """A user's access to one offer: the greater of what access to its model gives and
    what was granted on the offer itself (None: no access)."""
    by_model = _OFFER_ACCESS.get(models.get(model_uuid, ""))
    granted = grants.get((model_uuid, offer))
    levels = schema.OFFER_LEVELS
    return max((by_model, granted), key=lambda level: _rank(levels, level))


@dataclass(frozen=True)
class Principal:
    """The caller of one request; `str()` is `user:<name>` or `agent:<agent-name>`."""

    kind: Literal["user", "agent"]
    name: str
    access: str = "login"
    """A user's controller access."""
    model_uuid: str | None = None
    """An agent's model."""
    token_hash: str | None = None
    """The issued token a user called with (None: the controller's admin token)."""
    expires: float | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def superuser(self) -> bool:
        return self.kind == "user" and self.access == "superuser"


INVALID = "invalid credentials"


class UserService:
    """Users, logins and access checks over the controller's store."""

    def __init__(self, store: Store, admin_token: str) -> None:
        self._store = store
        self._users = UserStore(store)
        self._admin_token = admin_token
        self._seen: dict[str, float] = {}

    # --- who is calling -------------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The user a bearer token belongs to."""
        if token and hmac.compare_digest(token.encode(), self._admin_token.encode()):
            # Not counted as a connection: a request with the admin token writes nothing.
            return Principal("user", ADMIN_USER, access="superuser")
        token_hash = _token_hash(token)
        found = await self._users.token(token_hash)
        if found is None:
            raise errors.PermissionDeniedError(INVALID)
        if found.revoked is not None:
            raise errors.PermissionDeniedError(f"{INVALID}: the token was revoked")
        if found.expires <= time.time():
            raise errors.PermissionDeniedError(
                f"{INVALID}: the token expired (log in again with `rune login`)"
            )
        user = await self._users.user(found.user)
        if user is None or user.disabled:
            raise errors.PermissionDeniedError(INVALID)
        await self._mark_seen(user.name)
        return Principal(
            "user", user.name, access=user.access, token_hash=token_hash, expires=found.expires
        )

    async def agent(self, agent: str) -> Principal:
        """A machine agent whose credential was verified, with its machine's model."""
        machine = await self._store.machine_by_agent(agent)
        return Principal("agent", agent, model_uuid=None if machine is None else machine.model_uuid)

    async def _mark_seen(self, user: str) -> None:
        now = time.time()
        if now - self._seen.get(user, 0.0) >= _SEEN_EVERY:
            self._seen[user] = now
            await self._users.update_user(user, last_login=now)

    # --- access checks --------------------------------------------------------------------

    @staticmethod
    def check_user(principal: Principal) -> None:
        """Only users (not agents) reach the operator's routes."""
        if principal.kind != "user":
            raise errors.PermissionDeniedError(
                f'permission denied: agent "{principal.name}" may only use agent routes'
            )

    async def check_controller(self, principal: Principal, needed: str) -> None:
        self.check_user(principal)
        levels = schema.CONTROLLER_LEVELS
        if _rank(levels, principal.access) < _rank(levels, needed):
            raise errors.PermissionDeniedError(
                f"permission denied: {needed} access to the controller is required; "
                f'user "{principal.name}" has {principal.access}'
            )

    async def check_model(self, principal: Principal, model: str, needed: str) -> None:
        """`needed` ("read", "write", "admin") on the model named `model`."""
        self.check_user(principal)
        if principal.superuser:
            return
        try:
            uuid = (await self._store.model(model)).uuid
        except errors.NotFoundError:
            uuid = None
        have = None if uuid is None else await self._users.model_access(uuid, principal.name)
        if have is None:
            raise errors.PermissionDeniedError(
                f'permission denied: user "{principal.name}" has no access to model "{model}"'
            )
        if _rank(schema.MODEL_LEVELS, have) < _rank(schema.MODEL_LEVELS, needed):
            raise errors.PermissionDeniedError(
                f'permission denied: {needed} access to model "{model}" is required; '
                f'user "{principal.name}" has {have}'
            )

    async def visible_models(self, principal: Principal) -> set[str] | None:
        """The uuids of the models the caller may read (None: every model)."""
        levels = await self.model_levels(principal)
        return None if levels is None else set(levels)

    async def model_levels(self, principal: Principal) -> dict[str, str] | None:
        """The caller's access (read, write, admin) by model uuid, of the models it may
        read (None: admin of every model)."""
        self.check_user(principal)
        if principal.superuser:
            return None
        return await self._users.accessible_models(principal.name)

    async def offer_levels(
        self, principal: Principal
    ) -> tuple[dict[str, str], dict[tuple[str, str], str]] | None:
        """The caller's access by model uuid and its own offer grants by (model uuid,
        offer), for `offer_level` (None: admin of every offer)."""
        levels = await self.model_levels(principal)
        if levels is None:
            return None
        return levels, await self._users.offer_grants(principal.name)

    async def offer_users(
        self, principal: Principal, model_uuid: str, offer: str, access: str
    ) -> dict[str, str]:
        """Juju's `users` of an offer: to its admin, every user with access to it (by its
        model or its own grant; the controller's admin always); to anyone else, the
        caller alone with its `access`."""
        if access != "admin":
            return {principal.name: access}
        models = await self._users.model_users(model_uuid)
        grants = await self._users.offer_users(model_uuid, offer)
        found = {ADMIN_USER: "admin"}
        for user in sorted({*models, *grants}):
            level = offer_level(
                {model_uuid: models[user]} if user in models else {},
                {(model_uuid, offer): grants[user]} if user in grants else {},
                model_uuid,
                offer,
            )
            if level is not None:
                found.setdefault(user, level)
        return found

    async def check_offer(self, principal: Principal, url: str, needed: str) -> tuple[str, str]:
        """`needed` ("read", "consume", "admin") on the offer at `url`; its (model, offer).
        Without any access the offer is not found, as Juju says, whether it exists or not."""
        model, offer = parse_offer_url(url)
        shown = f"{OFFER_OWNER}/{model}.{offer}"
        found = await self.offer_levels(principal)
        if found is None:
            return model, offer
        try:
            uuid = (await self._store.model(model)).uuid
        except errors.NotFoundError:
            uuid = None
        have = None if uuid is None else offer_level(*found, uuid, offer)
        if have is None:
            raise errors.NotFoundError(f'application offer "{shown}" not found')
        if _rank(schema.OFFER_LEVELS, have) < _rank(schema.OFFER_LEVELS, needed):
            raise errors.PermissionDeniedError(
                f'permission denied: {needed} access to offer "{shown}" is required; '
                f'user "{principal.name}" has {have}'
            )
        return model, offer

    async def check_upload(self, principal: Principal, what: str, model: str | None) -> None:
        """Uploads (charms, resources: up to hundreds of MB each) are for users who can use
        them: write access to `model` when it is named, else add-model access on the
        controller or write access to some model."""
        if model is not None:
            await self.check_model(principal, model, "write")
            return
        self.check_user(principal)
        levels = schema.CONTROLLER_LEVELS
        if _rank(levels, principal.access) >= _rank(levels, "add-model"):
            return
        access = await self._users.accessible_models(principal.name)
        if not any(level in ("write", "admin") for level in access.values()):
            raise errors.PermissionDeniedError(
                f"permission denied: uploading a {what} needs write access to a model or "
                f'add-model access to the controller; user "{principal.name}" has neither'
            )

    async def check_charm_download(self, principal: Principal, sha256: str) -> None:
        """An agent gets the charms of its model's applications; a user those of models it
        may read."""
        await self._check_download(
            principal, await self._users.models_using_charm(sha256), f'charm "{sha256}"'
        )

    async def check_resource_download(self, principal: Principal, sha256: str) -> None:
        await self._check_download(
            principal, await self._users.models_using_resource(sha256), f'resource "{sha256}"'
        )

    async def _check_download(self, principal: Principal, using: set[str], what: str) -> None:
        if principal.superuser:
            return
        if principal.kind == "agent":
            if principal.model_uuid is None or principal.model_uuid not in using:
                raise errors.PermissionDeniedError(
                    f'permission denied: {what} is not used by agent "{principal.name}"\'s model'
                )
            return
        if not using & set(await self._users.accessible_models(principal.name)):
            raise errors.PermissionDeniedError(
                f'permission denied: {what} is not used by any model user "{principal.name}" '
                "may read"
            )

    # --- users ------------------------------------------------------------------------------

    async def add_user(self, request: schema.AddUserRequest) -> schema.AddUserResponse:
        if not _NAME.match(request.name):
            raise errors.InvalidSpecError(
                f'invalid user name "{request.name}": use lowercase letters, digits, ".", "+" '
                'and "-", starting and ending with a letter or digit, at most 64 characters'
            )
        made = None if request.password is not None else secrets.token_urlsafe(18)
        password = request.password if request.password is not None else made
        assert password is not None
        await self._users.add_user(
            UserRecord(
                name=request.name,
                display_name=request.display_name,
                password_hash=await asyncio.to_thread(_passwords.hash_user_password, password),
                access="login",
                disabled=False,
                created=time.time(),
                last_login=None,
            )
        )
        logger.info("user added", user=request.name)
        return schema.AddUserResponse(name=request.name, password=made)

    async def _user(self, name: str) -> UserRecord:
        user = await self._users.user(name)
        if user is None:
            raise errors.NotFoundError(f'user "{name}" not found')
        return user

    async def remove_user(self, name: str) -> None:
        """Forget a user: its model access goes, and its tokens stop working."""
        if name == ADMIN_USER:
            raise errors.ConflictError(f'cannot remove user "{ADMIN_USER}": the controller\'s own')
        await self._users.remove_user(name)
        logger.info("user removed", user=name)

    async def set_password(self, caller: Principal, name: str, password: str) -> int:
        """Change a password (the caller's own, or anyone's for a superuser); every other
        token of the user is revoked. Returns how many."""
        self.check_user(caller)
        if name != caller.name:
            await self.check_controller(caller, "superuser")
        await self._user(name)
        hashed = await asyncio.to_thread(_passwords.hash_user_password, password)
        await self._users.update_user(name, password_hash=hashed)
        keep = caller.token_hash if name == caller.name else None
        revoked = await self._users.revoke_tokens(name, keep=keep)
        logger.info("user password changed", user=name, tokens_revoked=revoked)
        return revoked

    async def login(self, request: schema.LoginRequest) -> schema.LoginResponse:
        user = await self._users.user(request.user)
        stored = None if user is None or user.disabled else user.password_hash
        # Off the event loop (scrypt takes tens of ms), and as slow for a user who does not
        # exist as for a wrong password, so timing does not tell which users exist.
        ok = await asyncio.to_thread(
            _passwords.verify_user_password, request.password, stored or _DECOY
        )
        if not ok or stored is None:
            raise errors.PermissionDeniedError("invalid user name or password")
        token, now = secrets.token_urlsafe(32), time.time()
        expires = now + request.ttl
        await self._users.add_token(
            TokenRecord(
                _token_hash(token), request.user, created=now, expires=expires, revoked=None
            )
        )
        await self._users.update_user(request.user, last_login=now)
        logger.info("user logged in", user=request.user, expires=expires)
        return schema.LoginResponse(user=request.user, token=token, expires=expires)

    async def logout(self, caller: Principal) -> bool:
        """Revoke the token the caller called with; False for the admin token, which lives
        in the controller's configuration and cannot be revoked."""
        self.check_user(caller)
        if caller.token_hash is None:
            return False
        await self._users.revoke_token(caller.token_hash)
        logger.info("user logged out", user=caller.name)
        return True

    async def users(self, caller: Principal) -> list[schema.UserInfo]:
        """Every user for a superuser, else the caller alone, with their model access."""
        self.check_user(caller)
        names = {m.uuid: m.name for m in await self._store.models()}
        found = [u for u in await self._users.users() if caller.superuser or u.name == caller.name]
        return [
            schema.UserInfo(
                name=u.name,
                display_name=u.display_name,
                access="disabled" if u.disabled else u.access,
                created=u.created,
                last_login=u.last_login,
                models={
                    names[uuid]: level
                    for uuid, level in (await self._users.accessible_models(u.name)).items()
                    if uuid in names
                },
            )
            for u in found
        ]

    async def model_added(self, model_uuid: str, creator: Principal) -> None:
        """The creator of a model is its admin."""
        await self._users.set_model_access(model_uuid, creator.name, "admin")

    # --- grant and revoke -------------------------------------------------------------------

    async def grant(
        self,
        caller: Principal,
        name: str,
        level: str,
        models: list[str],
        offers: Sequence[str] = (),
    ) -> None:
        """Give `name` at least `level`: on the controller (superusers only), on each of
        `models` (whose admin the caller must be) or on each of `offers` (offer URLs whose
        admin the caller must be). Every check is made before anything changes, the
        caller's first (so a refusal tells nothing of `name`)."""
        if offers or level == "consume":
            await self._change_offers(caller, name, level, models, offers, grant=True)
            return
        if level in schema.CONTROLLER_LEVELS:
            await self._check_controller_change(caller, models)
            user = await self._user(name)
            if level == "login":
                if not user.disabled:
                    raise errors.ConflictError(f'user "{name}" already has "login" access')
                await self._users.update_user(name, disabled=False)
                return
            levels = schema.CONTROLLER_LEVELS
            if _rank(levels, user.access) >= _rank(levels, level):
                raise errors.ConflictError(
                    f'user "{name}" already has "{user.access}" access or greater'
                )
            await self._users.update_user(name, access=level)
            return
        changes = {}
        allowed = await self._model_changes(caller, models)
        await self._user(name)
        for model, uuid in allowed:
            have = await self._users.model_access(uuid, name)
            if _rank(schema.MODEL_LEVELS, have) >= _rank(schema.MODEL_LEVELS, level):
                raise errors.ConflictError(
                    f'user "{name}" already has "{have}" access to model "{model}" or greater'
                )
            changes[uuid] = level
        for uuid, access in changes.items():
            await self._users.set_model_access(uuid, name, access)

    async def revoke(
        self,
        caller: Principal,
        name: str,
        level: str,
        models: list[str],
        offers: Sequence[str] = (),
    ) -> None:
        """Juju's revoke: one level down from `level` (admin leaves write, write leaves
        read, read removes access; on an offer admin leaves consume, consume leaves read;
        superuser leaves add-model, add-model leaves login, login disables the user and
        revokes its tokens). The caller is checked first."""
        if offers or level == "consume":
            await self._change_offers(caller, name, level, models, offers, grant=False)
            return
        if level in schema.CONTROLLER_LEVELS:
            await self._check_controller_change(caller, models)
            user = await self._user(name)
            if name == ADMIN_USER:
                raise errors.ConflictError(f'cannot revoke access of user "{ADMIN_USER}"')
            await self._revoke_controller(user, level)
            return
        changes: dict[str, str | None] = {}
        levels = schema.MODEL_LEVELS
        allowed = await self._model_changes(caller, models)
        await self._user(name)
        for model, uuid in allowed:
            have = await self._users.model_access(uuid, name)
            if _rank(levels, have) < _rank(levels, level):
                raise errors.ConflictError(
                    f'user "{name}" does not have "{level}" access to model "{model}"'
                )
            index = _rank(levels, level)
            changes[uuid] = levels[index - 1] if index > 0 else None
        for uuid, access in changes.items():
            await self._users.set_model_access(uuid, name, access)

    async def _change_offers(
        self,
        caller: Principal,
        name: str,
        level: str,
        models: list[str],
        offers: Sequence[str],
        *,
        grant: bool,
    ) -> None:
        """Grant or revoke `level` on each offer (the caller must be the offer's admin);
        the access its model gives is neither changed nor counted."""
        levels = schema.OFFER_LEVELS
        if level not in levels or models or not offers:
            raise errors.UsageError(
                f'"{level}" on offers: give an offer level ({", ".join(levels)}) and offer '
                "URLs ([OWNER/]MODEL.OFFER) only"
            )
        changes: dict[tuple[str, str], str | None] = {}
        for url in offers:
            model, offer = await self.check_offer(caller, url, "admin")
            shown = f"{OFFER_OWNER}/{model}.{offer}"
            uuid = (await self._store.model(model)).uuid
            async with self._store.write(model) as tx:
                if await tx.offers.offer(uuid, offer) is None:
                    raise errors.NotFoundError(f'application offer "{shown}" not found')
            have = (await self._users.offer_grants(name)).get((uuid, offer))
            if grant and _rank(levels, have) >= _rank(levels, level):
                raise errors.ConflictError(
                    f'user "{name}" already has "{have}" access to offer "{shown}" or greater'
                )
            if not grant and _rank(levels, have) < _rank(levels, level):
                raise errors.ConflictError(
                    f'user "{name}" does not have "{level}" access to offer "{shown}"'
                )
            index = _rank(levels, level)
            changes[(uuid, offer)] = level if grant else (levels[index - 1] if index else None)
        await self._user(name)
        for (uuid, offer), access in changes.items():
            await self._users.set_offer_access(uuid, offer, name, access)

    async def _revoke_controller(self, user: UserRecord, level: str) -> None:
        if level == "login":
            await self._users.update_user(user.name, disabled=True)
            await self._users.revoke_tokens(user.name)
            return
        levels = schema.CONTROLLER_LEVELS
        if _rank(levels, user.access) < _rank(levels, level):
            raise errors.ConflictError(f'user "{user.name}" does not have "{level}" access')
        await self._users.update_user(user.name, access=levels[_rank(levels, level) - 1])

    async def _check_controller_change(self, caller: Principal, models: list[str]) -> None:
        if models:
            raise errors.UsageError("a controller access level takes no model")
        await self.check_controller(caller, "superuser")

    async def _model_changes(self, caller: Principal, models: list[str]) -> list[tuple[str, str]]:
        """`(name, uuid)` of each model, once the caller is known to be its admin."""
        if not models:
            raise errors.UsageError("a model access level needs at least one model")
        found = []
        for model in models:
            await self.check_model(caller, model, "admin")
            found.append((model, (await self._store.model(model)).uuid))
        return found
