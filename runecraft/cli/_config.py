"""The client configuration: which controller the CLI talks to, and the current model."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from runecraft import errors

__all__ = ["ClientConfig", "load", "save"]


class ClientConfig(BaseModel):
    """Stored as `<home>/client.yaml`, mode 0600 (it holds the admin token)."""

    model_config = ConfigDict(extra="forbid")

    controller: str
    endpoint: str
    token: str
    model: str = "default"
    user: str = "admin"
    ca_cert: str | None = None
    """The controller's CA certificate (PEM) that its https endpoint is verified against."""


def load(path: Path) -> ClientConfig:
    if not path.exists():
        raise errors.NotFoundError(
            f"no controller in {path.parent}: run `rune bootstrap` first (or set RUNECRAFT_HOME)"
        )
    try:
        return ClientConfig.model_validate(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValueError) as exc:
        raise errors.InvalidSpecError(f"{path}: {exc}") from exc


def save(path: Path, config: ClientConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    # Made 0600 (it holds a token), never readable to others for a moment.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(yaml.safe_dump(config.model_dump(), sort_keys=False))
    tmp.replace(path)
