"""The client configuration: which controller the CLI talks to, and the current model."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from runecraft import errors
from runecraft.cli import _client_file

__all__ = ["ClientConfig", "load", "save"]


class ClientConfig(BaseModel):
    """Stored as `<home>/client.yaml`, mode 0600 (it holds the admin token); its fields
    are also read by `_client_file.read`, without pydantic."""

    model_config = ConfigDict(extra="forbid")

    controller: str
    endpoint: str
    token: str
    model: str = "default"
    user: str = "admin"
    ca_cert: str | None = None
    """The controller's CA certificate (PEM) that its https endpoint is verified against."""
    cloud: str = "local"
    """The cloud the controller was bootstrapped on (what `controllers` reports)."""


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
    """Write `config` as `_client_file.write` does (JSON, which `load` reads as YAML)."""
    _client_file.write(path, config.model_dump())
