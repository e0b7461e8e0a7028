"""Settings read from the environment: the one place that reads environment variables.

One class per concern, every field documented with its unit and trade-off.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["HomeSettings", "home_settings"]


class HomeSettings(BaseSettings):
    """Where Runecraft keeps its data; two homes never interfere (tests rely on it)."""

    model_config = SettingsConfigDict(env_prefix="RUNECRAFT_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "runecraft")
    """Holds controller data, machine directories, logs and the client config."""

    cache_dir: Path | None = None
    """Charm-packing cache (dependency venvs). Defaults to `<home>/cache`; several homes may
    share one to avoid re-running pip."""

    @property
    def controller_dir(self) -> Path:
        """The controller's own data: config, database, logs."""
        return self.home / "controller"

    @property
    def client_config(self) -> Path:
        """Which controller and model the CLI talks to, and its credential."""
        return self.home / "client.yaml"

    @property
    def charm_cache(self) -> Path:
        """Cache for packed-charm dependencies."""
        return self.cache_dir or (self.home / "cache")


def home_settings() -> HomeSettings:
    """Read the settings afresh (tests change the environment between cases)."""
    return HomeSettings()
