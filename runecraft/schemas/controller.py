"""The controller's own configuration file, written once by `rune bootstrap`."""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BrokerHealth", "BrokerSettings", "BrokerState", "ControllerConfig"]


class BrokerSettings(BaseModel):
    """Which MQTT broker the controller and its agents use.

    `embedded` runs amqtt inside the controller (zero setup); `mosquitto` makes the controller
    run and configure a real mosquitto (password file and topic ACL written by Runecraft);
    `external` uses a mosquitto the user runs, with the dynamic-security plugin: `username`
    (an admin there) is the controller's, and the controller has the broker make one client
    per agent.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["embedded", "mosquitto", "external"] = "embedded"
    host: str = "127.0.0.1"
    port: int
    username: str = "controller"
    password: str = ""


class ControllerConfig(BaseModel):
    """Stored as `<home>/controller/controller.yaml`, mode 0600."""

    model_config = ConfigDict(extra="forbid")

    name: str
    uuid: str
    api_host: str = "127.0.0.1"
    api_port: int
    database_url: str
    """SQLAlchemy async URL: `sqlite+aiosqlite:///…` (default) or `postgresql+asyncpg://…`."""
    admin_token: str
    broker: BrokerSettings
    tls: bool = False
    """The API and a managed broker serve TLS with the controller's own CA (`tls/` in the
    controller's directory). Bootstrap always writes it, on unless asked otherwise (and off
    only on loopback); absent, it is a config written before TLS, whose agents and clients
    hold plain addresses, so it stays off until the controller is bootstrapped again."""
    reconcile_interval: float = Field(default=5.0, gt=0)
    """Seconds between level-triggered passes when nothing woke the reconcilers."""
    lease_seconds: float = Field(default=60.0, ge=30)
    """Leadership lease length; agents renew every 10 s, so leadership survives a short
    controller outage and Juju's 30-second guarantee holds."""
    log_format: Literal["text", "json"] = "text"
    """How the controller writes its log (`controller.log`): key-value lines, or JSON lines
    for log shippers (`rune bootstrap --log-format json`; `RUNECRAFT_LOG_FORMAT` overrides)."""


class BrokerState(enum.StrEnum):
    """The broker as the controller sees it (`/v1/health` and status say it)."""

    RUNNING = "running"
    """Serving (an external broker: the controller's bus reaches it)."""
    RESTARTING = "restarting"
    """A broker the controller runs stopped; it is being started again."""
    DOWN = "down"
    """The last attempt to start it failed (the controller keeps trying, with back-off); an
    external broker: the controller's bus cannot reach it."""


class BrokerHealth(BaseModel):
    """The broker's state, and why it is not running."""

    model_config = ConfigDict(frozen=True)

    state: BrokerState = BrokerState.RUNNING
    message: str = ""
