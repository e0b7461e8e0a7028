"""The keys that seal secret content at rest, kept in a file outside the database.

The database holds secret content only sealed: AES-GCM under a 256-bit key named by a key
id, with the row's identity (model, secret id, revision) as associated data, so a sealed
value cannot be moved to another row.
The keyring file (`<home>/controller/secrets.key`, mode 0600) is JSON:
`{"current": "<id>", "keys": {"<id>": "<base64 key>", …}}`; new content is sealed under the
current key, and each stored value records the id of the key that sealed it. Rotation
(`Store.rotate_secrets_key`) adds a key, re-seals every value under it in one transaction,
and drops the old key only after that transaction committed.

Content stored before sealing existed is sealed by revision 0004. On SQLite its old
pages are zeroed (`secure_delete` during upgrades); on PostgreSQL the old column's data
stays in dead tuples until `VACUUM FULL secret_revisions`, which an operator upgrading a
database that held secrets should run.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from runecraft import errors

__all__ = ["KEY_FILE", "Keyring", "Sealed", "revision_context"]

KEY_FILE = "secrets.key"
"""The keyring's name in the controller directory."""

_NONCE = 12


class Sealed(NamedTuple):
    """One value as stored: the id of the key that sealed it, and nonce + ciphertext."""

    key_id: str
    data: bytes


def _new_key_id() -> str:
    return "k" + secrets.token_hex(6)


class Keyring:
    """Secret-sealing keys by id, one of them current; optionally backed by a file."""

    def __init__(self, keys: Mapping[str, bytes], current: str, path: Path | None = None) -> None:
        if current not in keys:
            raise errors.PermanentError(f'secret keyring: current key "{current}" is not in it')
        self._keys = dict(keys)
        self.current = current
        self.path = path

    @classmethod
    def ephemeral(cls) -> Keyring:
        """A keyring of one fresh key held in memory only (a database nothing reopens)."""
        key_id = _new_key_id()
        return cls({key_id: AESGCM.generate_key(bit_length=256)}, key_id)

    @classmethod
    def load_or_create(cls, path: Path) -> Keyring:
        """The keyring in `path`; made there (mode 0600) with one fresh key if absent."""
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            keyring = cls.ephemeral()
            keyring.path = path
            keyring.save()
            return keyring
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            document = json.loads(path.read_bytes())
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in document["keys"].items()}
            current = str(document["current"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise errors.PermanentError(f"cannot read the secret keyring {path}: {exc}") from exc
        if any(len(key) != 32 for key in keys.values()):
            raise errors.PermanentError(f"secret keyring {path}: every key must be 32 bytes")
        return cls(keys, current, path)

    def save(self) -> None:
        """Write the keyring file (if any) whole, mode 0600, replacing the old one at once."""
        if self.path is None:
            return
        document = {
            "current": self.current,
            "keys": {k: base64.b64encode(v).decode() for k, v in self._keys.items()},
        }
        partial = self.path.with_name(self.path.name + ".new")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(document, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, 0o600)
        os.replace(partial, self.path)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def seal(self, content: Mapping[str, str], context: str, key_id: str | None = None) -> Sealed:
        """`content` sealed under the current key (or `key_id`), bound to `context` (the
        row's identity)."""
        key_id = self.current if key_id is None else key_id
        nonce = os.urandom(_NONCE)
        plain = json.dumps(dict(content), sort_keys=True).encode()
        aead = AESGCM(self._keys[key_id])
        return Sealed(key_id, nonce + aead.encrypt(nonce, plain, context.encode()))

    def open(self, sealed: Sealed, context: str) -> dict[str, str]:
        """The content of a sealed value; a clear error when its key is not here or the
        value or its context were altered."""
        key = self._keys.get(sealed.key_id)
        if key is None:
            where = "" if self.path is None else f" ({self.path})"
            raise errors.PermanentError(
                f'secret content of {context} is sealed under key "{sealed.key_id}", which '
                f"the controller's secret keyring{where} does not hold: the database was "
                "copied without its keyring, or the keyring was replaced"
            )
        data = bytes(sealed.data)
        try:
            plain = AESGCM(key).decrypt(data[:_NONCE], data[_NONCE:], context.encode())
        except InvalidTag:
            raise errors.PermanentError(
                f'secret content of {context} cannot be unsealed with key "{sealed.key_id}": '
                "it was altered or belongs to another row"
            ) from None
        content: dict[str, str] = json.loads(plain)
        return content

    def add(self) -> str:
        """A fresh key, added (not yet current); returns its id."""
        key_id = _new_key_id()
        while key_id in self._keys:
            key_id = _new_key_id()
        self._keys[key_id] = AESGCM.generate_key(bit_length=256)
        return key_id

    def retire_all_but(self, key_id: str) -> list[str]:
        """Drop every key but `key_id` (made current); returns the ids dropped."""
        dropped = [k for k in self._keys if k != key_id]
        for k in dropped:
            del self._keys[k]
        self.current = key_id
        return dropped


def revision_context(model_uuid: str, secret_id: str, revision: int) -> str:
    """The associated data a secret revision's content is sealed with: its row's key."""
    return f"secret {model_uuid}/{secret_id}/{revision}"
