"""Secrets: ids, content rules, and the secret parts of the bus messages (charm-contract §4.3).

A secret is a revisioned key/value map owned by an application, a unit, or the model (user
secrets). Its id is a 20-character xid (`secret:<id>` in URIs; the bare id keys every map).
The controller sends each unit the secrets it may read (`SecretRemote`, in its
`UnitRemoteState`); a hook's secret tool calls come back as ordered `SecretOp`s in its
`HookCommit`, applied atomically with the rest of the commit.
"""

from __future__ import annotations

import base64
import datetime
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from runecraft.schemas.duration import parse_duration
from runecraft.schemas.names import Label

__all__ = [
    "ROTATE_POLICIES",
    "ROTATE_SECONDS",
    "AddSecretRequest",
    "AddSecretResponse",
    "KeyRotation",
    "SecretAccess",
    "SecretAccessRequest",
    "SecretContent",
    "SecretDocument",
    "SecretGrant",
    "SecretOp",
    "SecretQuery",
    "SecretRemote",
    "SecretRevisionInfo",
    "UpdateSecretRequest",
    "format_time",
    "new_secret_id",
    "parse_expire",
    "parse_secret_uri",
    "secret_uri",
    "validate_content",
]

ROTATE_SECONDS: dict[str, float] = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "quarterly": 90 * 86400.0,
    "yearly": 365 * 86400.0,
}
ROTATE_POLICIES = ("never", *ROTATE_SECONDS)
"""Juju's rotate policies (`secret-add --rotate`)."""

MAX_CONTENT_BYTES = 64 * 1024
"""Bound on one revision's content: every unit that may read it gets it in its snapshot."""

_ID = re.compile(r"^[0-9a-v]{20}\Z")
_KEY = re.compile(r"^([a-z](?:-?[a-z0-9]){2,})\Z")
"""Juju `secrets.keyRegExp`: lowercase, at least three characters, single dashes."""
_COUNTER = [int.from_bytes(os.urandom(3), "big")]
_LOCK = threading.Lock()
_MACHINE = os.urandom(5)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def new_secret_id() -> str:
    """A fresh xid (time, random machine part, counter), base32hex lowercase: 20 chars."""
    with _LOCK:
        _COUNTER[0] = (_COUNTER[0] + 1) % (1 << 24)
        counter = _COUNTER[0]
    raw = int(time.time()).to_bytes(4, "big") + _MACHINE + counter.to_bytes(3, "big")
    return base64.b32hexencode(raw).decode().rstrip("=").lower()


def parse_secret_uri(text: str) -> str:
    """The bare id of `secret:<id>`, `secret://<model-uuid>/<id>` or `<id>`.

    Raises:
        ValueError: not a secret URI (the message names it).
    """
    value = text.strip()
    if value.startswith("secret://"):
        value = value[len("secret://") :].rpartition("/")[2]
    elif value.startswith("secret:"):
        value = value[len("secret:") :]
    if not _ID.match(value):
        raise ValueError(f'secret URI "{text}" not valid')
    return value


def secret_uri(secret_id: str) -> str:
    """`secret:<id>`: how tools and the CLI print a secret."""
    return f"secret:{secret_id}"


def validate_content(content: Mapping[str, str]) -> None:
    """Juju's rules for secret content keys and size.

    Raises:
        ValueError: an invalid key, or content too large.
    """
    if not content:
        raise ValueError("missing secret value")
    for key in content:
        if not _KEY.match(key):
            raise ValueError(f'secret key "{key}" not valid')
    size = sum(len(key) + len(value.encode()) for key, value in content.items())
    if size > MAX_CONTENT_BYTES:
        raise ValueError(f"secret content too large: {size} bytes (limit {MAX_CONTENT_BYTES})")


def format_time(seconds: float) -> str:
    """RFC 3339 in UTC with `Z`, as Juju prints times."""
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_expire(text: str, now: float) -> str:
    """`--expire`: a Go duration from now, or an RFC 3339 time; returned as RFC 3339.

    Raises:
        ValueError: neither (the message names the value).
    """
    try:
        seconds = parse_duration(text)
    except ValueError:
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f'invalid expire value "{text}"') from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return format_time(moment.timestamp())
    if seconds <= 0:
        raise ValueError(f'invalid expire value "{text}": must be in the future')
    return format_time(now + seconds)


class SecretAccess(_Frozen):
    """One grant, as `secret-info-get` and `show-secret` list it."""

    target: str
    """`application-<app>` or `unit-<app>-<n>`."""
    scope: str
    """`relation-<id>` for charm grants, `model-<uuid>` for user-secret grants."""
    role: str = "view"


class SecretRemote(_Frozen):
    """One secret as one unit may see it (only secrets it owns or was granted).

    Owners always read the latest revision; a consumer reads the revision it tracks
    (`tracked`, 0 until its first read) and runs `secret-changed` when `revision` moves past
    what it last saw.
    """

    id: str
    owner: Literal["application", "unit", "model"]
    owned: bool = False
    """The unit's application (or, for unit secrets, the unit itself) owns it."""
    manage: bool = False
    """The unit may change it: it owns the unit secret, or leads the owning application."""
    label: str = ""
    """The owner's label when owned, else this unit's consumer label."""
    description: str = ""
    expire: str | None = None
    rotate: str = ""
    rotates: str | None = None
    revision: int
    """The latest revision."""
    content: dict[str, str] = Field(default_factory=dict)
    """The latest revision's content."""
    tracked: int = 0
    """The revision this unit tracks as a consumer (0: none yet)."""
    tracked_content: dict[str, str] | None = None
    """Content of `tracked` when it is not the latest."""
    access: tuple[SecretAccess, ...] = ()
    """Grants (sent to managing units only)."""
    obsolete: tuple[int, ...] = ()
    """Revisions no consumer tracks any more (managing units only): each gets
    `secret-remove` once."""


class SecretOp(_Frozen):
    """One buffered secret change of a hook, applied in order with its commit.

    `track` records a consumer's read: the revision it now tracks and its label; `rotated`
    says a `secret-rotate` hook succeeded (the controller schedules the next rotation).
    """

    op: Literal["add", "set", "grant", "revoke", "remove", "track", "rotated"]
    id: str
    owner: Literal["application", "unit"] | None = None
    label: Label | None = Field(default=None, max_length=256)
    description: str | None = None
    expire: str | None = None
    rotate: str | None = None
    content: dict[str, str] | None = None
    relation_id: int | None = None
    unit: str | None = None
    app: str | None = None
    revision: int | None = None


# --- user secrets API (`add-secret`, `update-secret`, …) ----------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddSecretRequest(_Request):
    """`add-secret NAME k=v…`: a user secret owned by the model."""

    name: Label = Field(min_length=1, max_length=128)
    content: dict[str, str]
    description: str = ""


class AddSecretResponse(BaseModel):
    uri: str
    """`secret:<id>`, what `add-secret` prints."""


class UpdateSecretRequest(_Request):
    """`update-secret`: new content makes a new revision; identical content makes none."""

    content: dict[str, str] | None = None
    description: str | None = None
    name: Label | None = Field(default=None, min_length=1, max_length=128)


class KeyRotation(BaseModel):
    """`rotate-secrets-key`: the key now current, how many stored secret revisions were
    resealed under it, and the keys dropped from the keyring."""

    key: str
    resealed: int
    retired: list[str]


class SecretGrant(BaseModel):
    """Who may read a secret: `target` (`application-web`, `unit-web-0`), `scope` (the
    model for a user grant, else the relation) and `role`."""

    target: str
    scope: str
    role: str


class SecretRevisionInfo(BaseModel):
    revision: int
    backend: str
    created: str
    updated: str


class SecretContent(BaseModel):
    Data: dict[str, str]


class SecretDocument(BaseModel):
    """A secret as `juju secrets`/`show-secret --format json` print it (keyed by its bare
    id); `content` and `checksum` with `reveal`, `revisions` with `revisions`. Keys Juju
    leaves out when empty are not required."""

    revision: int
    owner: str
    created: str
    updated: str
    name: str = ""
    label: str = ""
    description: str = ""
    expires: str = ""
    rotation: str = ""
    rotates: str = ""
    access: list[SecretGrant] = Field(default_factory=list)
    revisions: list[SecretRevisionInfo] = Field(default_factory=list)
    content: SecretContent | None = None
    checksum: str = ""


class SecretQuery(BaseModel):
    """`show-secret`'s query: the content too (`reveal`), one revision's, or every revision."""

    reveal: bool = False
    revision: int | None = None
    revisions: bool = False


class SecretAccessRequest(_Request):
    """`grant-secret` / `revoke-secret`: applications of the model."""

    applications: list[str] = Field(min_length=1)
