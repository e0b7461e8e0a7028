"""Layers and the plan, as pure functions: parse (strict), combine, validate, YAML, order.

A field left out of a layer is *unset* (None, or empty) and stays out of the plan's YAML:
charms compare `get_plan().services` with the layer they want, so an added default would
make them restart their workload on every hook (reference: pebble.md §4). Defaults apply
through the `effective_*` properties, except a check's threshold, which Pebble stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _order

__all__ = [
    "Check",
    "ExecCheck",
    "HttpCheck",
    "Layer",
    "LogTarget",
    "Plan",
    "PlanError",
    "Service",
    "TcpCheck",
    "build_plan",
    "combine_layers",
    "parse_layer",
    "plan_yaml",
    "read_layers_dir",
    "start_lanes",
    "stop_lanes",
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
    """One layer: from `$PEBBLE/layers/NNN-label.yaml` (order NNN) or the API."""

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


def parse_layer(text: str | bytes, label: str, order: int = 0) -> Layer:
    """A layer from YAML, strictly: unknown keys, bad values and a missing `override` are
    `PlanError`s naming the layer and the field (Pebble's wording, pebble.md §3.6, §4.1)."""
    raise NotImplementedError


def combine_layers(layers: Sequence[Layer]) -> Layer:
    """Pebble's CombineLayers: later layers merge into or replace earlier items (§4.2).
    Also how `add_layer(combine=True)` folds a new layer into the stored one of its label."""
    raise NotImplementedError


def build_plan(layers: Sequence[Layer]) -> Plan:
    """Combine, fill the check thresholds and validate (commands, check types, log targets,
    service names, before/after cycles); `PlanError` if the result is invalid."""
    raise NotImplementedError


def plan_yaml(plan: Plan) -> str:
    """The plan as `GET /v1/plan` returns it: only the set fields, empty sections left out."""
    raise NotImplementedError


def read_layers_dir(directory: Path) -> list[Layer]:
    """The layers in `directory` (`NNN-label.yaml`, in NNN order); `PlanError` on a bad name
    or layer. A missing directory has none."""
    raise NotImplementedError


def start_lanes(plan: Plan, names: Sequence[str]) -> list[list[str]]:
    """Services to start, with their `requires`, ordered by after/before, split into lanes
    that may run in parallel (§4.3); `PlanError` for an unknown name or a cycle."""
    return _lanes(plan, names, stop=False)


def stop_lanes(plan: Plan, names: Sequence[str]) -> list[list[str]]:
    """Services to stop, with those that require them, in reverse start order, as lanes."""
    return _lanes(plan, names, stop=True)


def _lanes(plan: Plan, names: Sequence[str], *, stop: bool) -> list[list[str]]:
    try:
        ordered = _order.order(plan.services, names, stop=stop)
        return _order.lanes(plan.services, ordered)
    except _order.OrderError as exc:
        raise PlanError(str(exc)) from None
