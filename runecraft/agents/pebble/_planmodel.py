"""The plan's types: layers, services, checks, log targets and the combined plan.

A field left out of a layer is *unset* (None, or empty) and stays out of the plan's YAML:
charms compare `get_plan().services` with the layer they want, so an added default would
make them restart their workload on every hook (reference: pebble.md §4). Defaults apply
through the `effective_*` properties, except a check's threshold, which Pebble stores.
`_plan` re-exports all of these; import them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_BACKOFF_DELAY",
    "DEFAULT_BACKOFF_FACTOR",
    "DEFAULT_BACKOFF_LIMIT",
    "DEFAULT_CHECK_PERIOD",
    "DEFAULT_CHECK_THRESHOLD",
    "DEFAULT_CHECK_TIMEOUT",
    "DEFAULT_KILL_DELAY",
    "Check",
    "ExecCheck",
    "HttpCheck",
    "Layer",
    "LogTarget",
    "Plan",
    "PlanError",
    "Service",
    "TcpCheck",
]

DEFAULT_BACKOFF_DELAY = 0.5
DEFAULT_BACKOFF_FACTOR = 2.0
DEFAULT_BACKOFF_LIMIT = 30.0
DEFAULT_KILL_DELAY = 5.0
DEFAULT_CHECK_PERIOD = 10.0
DEFAULT_CHECK_TIMEOUT = 3.0
DEFAULT_CHECK_THRESHOLD = 3


class PlanError(Exception):
    """A layer or the plan it makes is invalid; the API answers 400 with this message."""


@dataclass(frozen=True, kw_only=True)
class Service:
    """A service as a layer (or the combined plan) sets it; unset fields are None/empty."""

    name: str
    override: str = ""
    """`merge` or `replace` (required in every layer)."""
    summary: str = ""
    description: str = ""
    startup: str = ""
    """`enabled`, `disabled` or unset (= disabled)."""
    command: str = ""
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    user_id: int | None = None
    group: str = ""
    group_id: int | None = None
    working_dir: str = ""
    on_success: str = ""
    on_failure: str = ""
    on_check_failure: Mapping[str, str] = field(default_factory=dict)
    backoff_delay: float | None = None
    """Seconds, None when unset (the YAML shows Go's duration text)."""
    backoff_factor: float | None = None
    backoff_limit: float | None = None
    kill_delay: float | None = None

    @property
    def enabled(self) -> bool:
        """Started by replan/autostart."""
        return self.startup == "enabled"

    @property
    def effective_backoff_delay(self) -> float:
        return DEFAULT_BACKOFF_DELAY if self.backoff_delay is None else self.backoff_delay

    @property
    def effective_backoff_factor(self) -> float:
        return DEFAULT_BACKOFF_FACTOR if self.backoff_factor is None else self.backoff_factor

    @property
    def effective_backoff_limit(self) -> float:
        return DEFAULT_BACKOFF_LIMIT if self.backoff_limit is None else self.backoff_limit

    @property
    def effective_kill_delay(self) -> float:
        return DEFAULT_KILL_DELAY if self.kill_delay is None else self.kill_delay

    def exit_action(self, code: int) -> str:
        """What an exit does: `restart` (default), `ignore`, `shutdown`, ..."""
        action = self.on_success if code == 0 else self.on_failure
        return action or "restart"


@dataclass(frozen=True, kw_only=True)
class HttpCheck:
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class TcpCheck:
    port: int | None = None
    host: str = ""

    @property
    def effective_host(self) -> str:
        return self.host or "localhost"


@dataclass(frozen=True, kw_only=True)
class ExecCheck:
    command: str = ""
    service_context: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    user_id: int | None = None
    group: str = ""
    group_id: int | None = None
    working_dir: str = ""


@dataclass(frozen=True, kw_only=True)
class Check:
    """A health check as set; in the combined plan `threshold` is never None (3 default)."""

    name: str
    override: str = ""
    level: str = ""
    """`alive`, `ready` or unset."""
    startup: str = ""
    """`enabled`, `disabled` or unset (= enabled)."""
    period: float | None = None
    timeout: float | None = None
    threshold: int | None = None
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    exec: ExecCheck | None = None

    @property
    def enabled(self) -> bool:
        return self.startup != "disabled"

    @property
    def effective_period(self) -> float:
        return DEFAULT_CHECK_PERIOD if self.period is None else self.period

    @property
    def effective_timeout(self) -> float:
        timeout = DEFAULT_CHECK_TIMEOUT if self.timeout is None else self.timeout
        return min(timeout, self.effective_period)

    @property
    def effective_threshold(self) -> int:
        return self.threshold or DEFAULT_CHECK_THRESHOLD

    @property
    def kind(self) -> str:
        """`HTTP`, `TCP` or `exec`, as change summaries spell it."""
        return "HTTP" if self.http else "TCP" if self.tcp else "exec"


@dataclass(frozen=True, kw_only=True)
class LogTarget:
    name: str
    override: str = ""
    type: str = ""
    location: str = ""
    services: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Layer:
    """One layer: from `$PEBBLE/layers/NNN-label.yaml` (order 1000 * NNN, as Pebble numbers
    them) or the API."""

    label: str
    order: int = 0
    summary: str = ""
    description: str = ""
    services: Mapping[str, Service] = field(default_factory=dict)
    checks: Mapping[str, Check] = field(default_factory=dict)
    log_targets: Mapping[str, LogTarget] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """The combined, validated plan (check thresholds filled in)."""

    services: Mapping[str, Service] = field(default_factory=dict)
    checks: Mapping[str, Check] = field(default_factory=dict)
    log_targets: Mapping[str, LogTarget] = field(default_factory=dict)
