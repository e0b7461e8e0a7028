"""Settings read from the environment: the one place that reads environment variables.

The classes (`HomeSettings`, `KubeSettings`, `LxdSettings`: one per concern, in `_classes`)
load pydantic-settings, so they load when first named. `home_dir` and `proxy_in_env` read
the same variables with the standard library, for the commands that run every second
(jubilant polls `rune status`), which would otherwise spend most of their time on imports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runecraft.settings._classes import HomeSettings, KubeSettings, LxdSettings

__all__ = [
    "CLIENT_CONFIG",
    "HomeSettings",
    "KubeSettings",
    "LxdSettings",
    "default_home",
    "home_dir",
    "home_settings",
    "log_format",
    "proxy_in_env",
]

CLIENT_CONFIG = "client.yaml"
"""The client configuration's file name in the home (`HomeSettings.client_config`)."""

_CLASSES = ("HomeSettings", "KubeSettings", "LxdSettings")


def __getattr__(name: str) -> Any:
    """Each settings class loads (with pydantic-settings) when first named."""
    if name in _CLASSES:
        from runecraft.settings import _classes  # noqa: PLC0415

        return getattr(_classes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def home_settings() -> HomeSettings:
    """Read the settings afresh (tests change the environment between cases)."""
    from runecraft.settings._classes import HomeSettings  # noqa: PLC0415

    return HomeSettings()


def default_home() -> Path:
    """`HomeSettings.home` when `RUNECRAFT_HOME` is not set."""
    return Path.home() / ".local" / "share" / "runecraft"


def home_dir() -> Path:
    """`home_settings().home`, read as pydantic-settings reads it (the name in any case)
    but without loading it; an environment it might read otherwise (the variable set
    twice in different cases, or empty) is left to `HomeSettings`."""
    values = [value for key, value in os.environ.items() if key.lower() == "runecraft_home"]
    if not values:
        return default_home()
    if len(values) == 1 and values[0]:
        return Path(values[0])
    return home_settings().home


def proxy_in_env() -> bool:
    """Whether the environment names an HTTP proxy (`http_proxy`, `https_proxy`,
    `all_proxy`, in any case), which httpx sends the controller's requests through."""
    names = {"http_proxy", "https_proxy", "all_proxy"}
    return any(value and key.lower() in names for key, value in os.environ.items())


def log_format() -> str | None:
    """`RUNECRAFT_LOG_FORMAT` (`text` or `json`, checked by who uses it), lower-cased; None
    when unset or empty (then the controller's `log_format` setting holds)."""
    value = os.environ.get("RUNECRAFT_LOG_FORMAT", "").strip().lower()
    return value or None
