"""A model's authorized SSH keys (Juju's `add-ssh-key`, `remove-ssh-key`, `ssh-keys`),
kept as Juju keeps them: the model config's `authorized-keys`, one key a line. The local
substrates log in without keys, so they only record them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import structlog

from runecraft import errors
from runecraft.controller.services._ports import StateStore, StoreService, WithModel, WithModels
from runecraft.schemas.ssh_keys import AuthorizedKey, parse_key

__all__ = ["AUTHORIZED_KEYS", "AuthorizedKeyService"]

logger = structlog.get_logger(__name__)

AUTHORIZED_KEYS = "authorized-keys"
"""The model config key holding the keys (Juju's name)."""


class KeyState(WithModel, WithModels, Protocol):
    """What changing a model's keys needs of a transaction."""


def _stored(tx: KeyState) -> list[AuthorizedKey]:
    assert tx.model is not None
    text = str(tx.model.config.get(AUTHORIZED_KEYS) or "")
    return [parse_key(line) for line in text.splitlines() if line.strip()]


async def _store(tx: KeyState, keys: Sequence[AuthorizedKey]) -> None:
    assert tx.model is not None
    config = {**tx.model.config, AUTHORIZED_KEYS: "\n".join(k.line for k in keys)}
    await tx.models.update(config=config)


class AuthorizedKeyService(StoreService[StateStore[KeyState]]):
    """Every change is checked whole first: one bad or duplicate key changes nothing."""

    async def keys(self, model_name: str) -> list[AuthorizedKey]:
        async with self.store.write(model_name) as tx:
            return _stored(tx)

    async def add(self, model_name: str, texts: Sequence[str]) -> list[AuthorizedKey]:
        if not texts:
            raise errors.InvalidSpecError("no ssh key given")
        given = [parse_key(text) for text in texts]
        async with self.store.write(model_name) as tx:
            keys = _stored(tx)
            for key in given:
                if any(k.fingerprint == key.fingerprint for k in keys):
                    raise errors.ConflictError(
                        f"duplicate ssh key: {key.comment or key.fingerprint}"
                    )
                keys.append(key)
            await _store(tx, keys)
        logger.info("ssh keys added", model=model_name, keys=[k.fingerprint for k in given])
        return given

    async def remove(self, model_name: str, ids: Sequence[str]) -> None:
        """Remove keys named by fingerprint or comment."""
        if not ids:
            raise errors.InvalidSpecError("no ssh key given: name keys by fingerprint or comment")
        async with self.store.write(model_name) as tx:
            keys = _stored(tx)
            for given in ids:
                if not any(k.matches(given) for k in keys):
                    raise errors.NotFoundError(
                        f'ssh key "{given}" not found: name a key by its fingerprint, its '
                        "comment or whole (see ssh-keys)"
                    )
                keys = [k for k in keys if not k.matches(given)]
            await _store(tx, keys)
        logger.info("ssh keys removed", model=model_name, keys=list(ids))
