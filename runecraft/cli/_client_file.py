"""The client configuration file (`<home>/client.yaml`, 0600: it holds a token) as the
commands that run every second read it: with the json module, not yaml and pydantic.

`write` writes JSON, which is YAML too, so `_config.load` (and anyone reading it as YAML)
reads it unchanged. `read` takes only a file it reads as `load` would, with every field
`ClientConfig` validates in the type it accepts; anything else (a file written as YAML, an
unknown field, a wrong type) is left to `load`, which says what is wrong.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict, cast

__all__ = ["DEFAULTS", "REQUIRED", "ClientFields", "read", "write"]


class ClientFields(TypedDict):
    """The fields of `_config.ClientConfig`."""

    controller: str
    endpoint: str
    token: str
    model: str
    user: str
    ca_cert: str | None
    cloud: str


REQUIRED = ("controller", "endpoint", "token")
DEFAULTS: dict[str, str | None] = {
    "model": "default",
    "user": "admin",
    "ca_cert": None,
    "cloud": "local",
}
"""`ClientConfig`'s required fields and the defaults of the others (a test keeps them equal)."""


def read(path: Path) -> ClientFields | None:
    """The fields `_config.load(path)` would give, defaults filled in; None when it is not
    certain they are the same (then call `load`)."""
    try:
        raw = path.read_bytes()
        document: Any = None if b"\t" in raw else json.loads(raw)  # YAML refuses tabs
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict):
        return None
    keys = document.keys()
    if not set(REQUIRED) <= keys or not keys <= {*REQUIRED, *DEFAULTS}:
        return None
    fields = {**DEFAULTS, **document}
    for name, value in fields.items():
        if not isinstance(value, str) and not (name == "ca_cert" and value is None):
            return None
    return cast("ClientFields", fields)


def write(path: Path, fields: Mapping[str, Any]) -> None:
    """Replace the file with `fields` at once; it is made 0600, never readable to others
    for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(fields, indent=2) + "\n")
    tmp.replace(path)
