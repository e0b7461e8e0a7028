"""Credentials stored only as hashes.

Agents: random secrets as mosquitto-compatible PBKDF2 hashes. The `$7$` format
(PBKDF2-SHA512) is what mosquitto 2 reads from its password file, so the same stored hash
serves our embedded broker, a Runecraft-managed mosquitto and the API.

Users: the passwords people choose, as slow scrypt hashes (`scrypt$n$r$p$salt$digest`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "hash_password",
    "hash_user_password",
    "new_password",
    "verify_password",
    "verify_user_password",
]

_ITERATIONS = 101
"""mosquitto's default iteration count; the secret is 32 random bytes, so the hash does not
need to be slow to resist guessing."""


def new_password() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return f"$7${_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        head, kind, iterations, salt_b64, digest_b64 = stored.split("$")
        if (head, kind) != ("", "7"):
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_user_password(password: str, salt: bytes | None = None) -> str:
    """A slow hash, as users choose their passwords (tens of ms: call it off the loop)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "scrypt${n}${r}${p}$".format(**_SCRYPT) + "$".join(encoded)


def verify_user_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if kind != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)
