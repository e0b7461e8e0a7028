"""The settings classes: one per concern, every field documented with its unit and trade-off."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from runecraft import settings

__all__ = ["HomeSettings", "KubeSettings", "LxdSettings"]


class HomeSettings(BaseSettings):
    """Where Runecraft keeps its data; two homes never interfere (tests rely on it)."""

    model_config = SettingsConfigDict(env_prefix="RUNECRAFT_", extra="ignore")

    home: Path = Field(default_factory=settings.default_home)
    """Holds controller data, machine directories, logs and the client config."""

    cache_dir: Path | None = None
    """Charm-packing cache (dependency venvs). Defaults to `<home>/cache`; several homes may
    share one to avoid re-running pip."""

    charm_dir: Path | None = None
    """Local charm repository: bundles that name a charm (`mysql`, `ch:mysql`) find it here
    as `<name>/` or `<name>.charm`; `--charm-dir` adds more."""

    @property
    def controller_dir(self) -> Path:
        """The controller's own data: config, database, logs."""
        return self.home / "controller"

    @property
    def client_config(self) -> Path:
        """Which controller and model the CLI talks to, and its credential."""
        return self.home / settings.CLIENT_CONFIG

    @property
    def client_clouds(self) -> Path:
        """The clouds this client added (`rune add-k8s`), with their credentials (0600)."""
        return self.home / "clouds.yaml"

    @property
    def charm_cache(self) -> Path:
        """Cache for packed-charm dependencies."""
        return self.cache_dir or (self.home / "cache")


class KubeSettings(BaseSettings):
    """Where `rune add-k8s` reads a kubeconfig when no `--kubeconfig` is given, as kubectl."""

    model_config = SettingsConfigDict(extra="ignore")

    kubeconfig: str = ""
    """`KUBECONFIG`: kubeconfig paths joined by the path separator (the first is read)."""

    @property
    def kubeconfig_path(self) -> Path:
        """The first path of `KUBECONFIG`, else `~/.kube/config`."""
        for path in self.kubeconfig.split(os.pathsep):
            if path:
                return Path(path).expanduser()
        return Path.home() / ".kube" / "config"


class LxdSettings(BaseSettings):
    """How the LXD substrate reaches its daemon and which network and image it uses."""

    model_config = SettingsConfigDict(env_prefix="RUNECRAFT_LXD_", extra="ignore")

    endpoint: str | None = None
    """LXD's API: None for the local unix socket, or an `https://host:8443` URL (then
    `cert` and `key` name a client certificate the daemon trusts)."""

    cert: Path | None = None
    """Client certificate (PEM) for an HTTPS endpoint."""

    key: Path | None = None
    """Private key (PEM) of `cert`."""

    verify: bool = True
    """Check the daemon's HTTPS certificate (off only for self-signed test daemons)."""

    network: str = "runecraft0"
    """The bridge containers attach to; its IPv4 address is where they reach the controller."""

    image: str | None = None
    """An image alias to launch instead of the one `rune lxd build-image` makes."""

    storage_pool: str | None = None
    """Storage pool for container root disks (None: the default profile's)."""

    profiles: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["default"])
    """LXD profiles every container gets, in order (comma-separated in the environment),
    e.g. one that adds a device or a second NIC; the bridge NIC and root disk Runecraft
    sets win over theirs."""

    @field_validator("profiles", mode="before")
    @classmethod
    def _split_profiles(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value
