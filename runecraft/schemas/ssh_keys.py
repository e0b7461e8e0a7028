"""OpenSSH public keys as `authorized_keys` lines (`TYPE BASE64 [COMMENT]`), checked and
fingerprinted as Juju's `add-ssh-key`/`ssh-keys` do (MD5, colon-separated hex)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from runecraft import errors

__all__ = ["KEY_TYPES", "AuthorizedKey", "parse_key"]

KEY_TYPES = frozenset(
    {
        "ssh-rsa",
        "ssh-dss",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


@dataclass(frozen=True)
class AuthorizedKey:
    """One public key: its type, its key data and the comment after it."""

    type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.md5(self.blob, usedforsecurity=False).hexdigest()
        return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    @property
    def line(self) -> str:
        text = f"{self.type} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text

    def matches(self, given: str) -> bool:
        """Juju's `remove-ssh-key` names a key by its fingerprint, its comment or whole."""
        if given and given in (self.fingerprint, self.comment):
            return True
        try:
            return parse_key(given).blob == self.blob
        except errors.InvalidSpecError:
            return False


def parse_key(text: str) -> AuthorizedKey:
    """The key of an `authorized_keys` line; anything else names what is wrong."""
    fields = text.strip().split(None, 2)
    shown = text.strip()[:60] or "(empty)"
    if len(fields) < 2:
        raise errors.InvalidSpecError(
            f'invalid ssh key "{shown}": expected "TYPE BASE64-KEY [COMMENT]"'
        )
    kind, data = fields[0], fields[1]
    if kind not in KEY_TYPES:
        raise errors.InvalidSpecError(
            f'invalid ssh key "{shown}": unknown key type "{kind}" '
            f"(known: {', '.join(sorted(KEY_TYPES))})"
        )
    try:
        blob = base64.b64decode(data, validate=True)
    except binascii.Error as exc:
        raise errors.InvalidSpecError(f'invalid ssh key "{shown}": the key is not base64') from exc
    if len(blob) < 4:
        raise errors.InvalidSpecError(f'invalid ssh key "{shown}": the key data is too short')
    (length,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + length].decode(errors="replace") != kind:
        raise errors.InvalidSpecError(f'invalid ssh key "{shown}": its data is not a "{kind}" key')
    return AuthorizedKey(kind, blob, fields[2].strip() if len(fields) > 2 else "")
