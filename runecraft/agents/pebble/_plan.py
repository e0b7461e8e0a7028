"""Layers and the plan, as pure functions: parse (strict), combine, validate, YAML, order.

The types live in `_planmodel` and are re-exported here, with the functions the rest of
the agent uses. Parsing and the layers directory are in `_layers`, ordering in `_order`.
Error messages are Pebble's, word for word where the API shows them (pebble.md §3.6, §4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from . import _durations, _gotext, _layers, _order, _yamlv3
from ._planmodel import (
    DEFAULT_BACKOFF_DELAY,
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_LIMIT,
    DEFAULT_CHECK_PERIOD,
    DEFAULT_CHECK_THRESHOLD,
    DEFAULT_CHECK_TIMEOUT,
    DEFAULT_KILL_DELAY,
    Check,
    ExecCheck,
    HttpCheck,
    Layer,
    LogTarget,
    Plan,
    PlanError,
    Service,
    TcpCheck,
)

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
    "build_plan",
    "combine_layers",
    "parse_layer",
    "plan_yaml",
    "read_layers_dir",
    "start_lanes",
    "stop_lanes",
]

_Item = TypeVar("_Item", Service, Check, LogTarget)
_Merged = TypeVar("_Merged", Service, Check, LogTarget, HttpCheck, TcpCheck, ExecCheck)


def _q(text: str) -> str:
    return _gotext.go_quote(text)


def parse_layer(text: str | bytes, label: str, order: int = 0) -> Layer:
    """A layer from YAML, strictly: unknown keys, bad values and a missing `override` are
    `PlanError`s naming the layer and the field (Pebble's wording, pebble.md §3.6, §4.1).

    The message is what `POST /v1/layers` answers: a parse or layer-validation error comes
    as `cannot parse layer YAML: ...`, a missing or bad `override` bare, as in Pebble, where
    it is found while combining."""
    if not label:
        raise PlanError("label must be set")
    try:
        layer = _layers.read_layer(text, label, order)
    except PlanError as exc:
        raise PlanError(f"cannot parse layer YAML: {exc}") from None
    _layers.check_overrides(layer)
    return layer


def combine_layers(layers: Sequence[Layer]) -> Layer:
    """Pebble's CombineLayers: later layers merge into or replace earlier items (§4.2).
    Also how `add_layer(combine=True)` folds a new layer into the stored one of its label.

    The result keeps the first layer's label and order, takes the last one's summary and
    description, and, as in Pebble, stores a check's default threshold (3)."""
    if not layers:
        return Layer(label="")
    services: dict[str, Service] = {}
    checks: dict[str, Check] = {}
    targets: dict[str, LogTarget] = {}
    for layer in layers:
        _layers.check_overrides(layer)
        _fold(services, layer.services)
        _fold(checks, layer.checks)
        _fold(targets, layer.log_targets)
    for name, check in checks.items():
        if not check.threshold:
            checks[name] = dataclasses.replace(check, threshold=DEFAULT_CHECK_THRESHOLD)
    first, last = layers[0], layers[-1]
    return Layer(
        label=first.label,
        order=first.order,
        summary=last.summary,
        description=last.description,
        services=services,
        checks=checks,
        log_targets=targets,
    )


def build_plan(layers: Sequence[Layer]) -> Plan:
    """Combine, fill the check thresholds and validate (commands, check types, log targets,
    service names, before/after cycles); `PlanError` if the result is invalid."""
    combined = combine_layers(layers)
    plan = Plan(
        services=dict(combined.services),
        checks=dict(combined.checks),
        log_targets=dict(combined.log_targets),
    )
    _validate_plan_services(plan)
    _validate_plan_checks(plan)
    _validate_plan_targets(plan)
    try:
        _order.order(plan.services, list(plan.services), stop=False)
    except _order.OrderError as exc:
        raise PlanError(str(exc)) from None
    return plan


def plan_yaml(plan: Plan) -> str:
    """The plan as `GET /v1/plan` returns it: only the set fields, empty sections left out."""
    sections: dict[str, Any] = {}
    for key, items, fields, always in (
        ("services", plan.services, _layers.SERVICE_FIELDS, ()),
        ("checks", plan.checks, _layers.CHECK_FIELDS, ()),
        ("log-targets", plan.log_targets, _layers.TARGET_FIELDS, _layers.TARGET_ALWAYS),
    ):
        if items:
            sections[key] = {
                name: _yaml_fields(items[name], fields, always)
                for name in sorted(items, key=_yamlv3.natural_key)
            }
    return _yamlv3.dump(sections)


def read_layers_dir(directory: Path) -> list[Layer]:
    """The layers in `directory` in Pebble's order; `PlanError` on a bad name or layer.
    A missing directory has none.

    As in Pebble: `NNN-label.yaml` has order 1000 * NNN, and a `NNN-label.d/` directory holds
    `MMM-sub.yaml` layers labelled `label/sub` with order 1000 * NNN + MMM. Errors are worded
    as Pebble's on-disk ones (no `cannot parse layer YAML:` prefix)."""
    return _layers.read_layers_dir(directory)


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


# Combining: replace, or merge field by field (Service.Merge and the others).


def _fold(combined: dict[str, _Item], items: Mapping[str, _Item]) -> None:
    for name, item in items.items():
        old = combined.get(name)
        merge = old is not None and item.override == "merge"
        combined[name] = _merge(old, item) if old is not None and merge else item


def _is_set(key: str, value: object) -> bool:
    """Set as Pebble decides it: empty strings, lists and maps are unset, None is unset,
    and 0 is unset for a threshold or a port (but not for a user or group id)."""
    if value is None or value == "" or (key in _layers.ZERO_IS_UNSET and value == 0):
        return False
    return not (isinstance(value, tuple | list | Mapping) and not value)


def _merge(old: _Merged, new: _Merged) -> _Merged:
    """`new` merged into `old`: set fields overwrite, lists append, maps update, and check
    types merge inside; the name and `override` stay the old ones, as in Pebble."""
    changes: dict[str, Any] = {}
    for spec in dataclasses.fields(old):
        if spec.name in ("name", "override"):
            continue
        before, after = getattr(old, spec.name), getattr(new, spec.name)
        if isinstance(after, tuple):
            changes[spec.name] = before + after
        elif isinstance(after, Mapping):
            changes[spec.name] = {**before, **after}
        elif isinstance(after, HttpCheck | TcpCheck | ExecCheck):
            changes[spec.name] = after if before is None else _merge(before, after)
        elif _is_set(spec.name, after):
            changes[spec.name] = after
    return dataclasses.replace(old, **changes)


# Validating the combined plan (Plan.Validate).


def _validate_plan_services(plan: Plan) -> None:
    for name, service in plan.services.items():
        if not service.command:
            raise PlanError(f'plan must define "command" for service {_q(name)}')
        error = _layers.command_error(name, service.command)
        if error is not None:
            raise error


def _validate_plan_checks(plan: Plan) -> None:
    for name, check in plan.checks.items():
        if check.http is not None and not check.http.url:
            raise PlanError(f'plan must set "url" for http check {_q(name)}')
        if check.tcp is not None and not check.tcp.port:
            raise PlanError(f'plan must set "port" for tcp check {_q(name)}')
        if check.exec is not None:
            if not check.exec.command:
                raise PlanError(f'plan must set "command" for exec check {_q(name)}')
            context = check.exec.service_context
            if context and context not in plan.services:
                raise PlanError(
                    f"plan check {_q(name)} service context specifies "
                    f"non-existent service {_q(context)}"
                )
        kinds = [kind for kind in (check.http, check.tcp, check.exec) if kind is not None]
        if len(kinds) != 1:
            raise PlanError(
                f'plan must specify one of "http", "tcp", or "exec" for check {_q(name)}'
            )


def _validate_plan_targets(plan: Plan) -> None:
    for name, target in plan.log_targets.items():
        if not target.type:
            raise PlanError(
                'plan must define "type" ("loki", "opentelemetry" or "syslog") '
                f"for log target {_q(name)}"
            )
        if target.type not in _layers.LOG_TARGET_TYPES:
            raise _layers.unsupported_type(name, target.type)
        for entry in target.services:
            service = entry.removeprefix("-")
            if service != "all" and service not in plan.services:
                raise PlanError(
                    f"log target {_q(target.name)} specifies unknown service {_q(service)}"
                )
        if not target.location:
            raise PlanError(f'plan must define "location" for log target {_q(name)}')


# The plan's YAML.


def _yaml_value(value: Any, spec: _yamlv3.Field) -> Any:
    if spec.kind == "duration":
        return _durations.format_duration(value)
    if spec.kind == "float":
        return _yamlv3.GoFloat(value)
    if spec.kind == "list":
        return list(value)
    if spec.kind == "map":
        return {key: value[key] for key in sorted(value, key=_yamlv3.natural_key)}
    if spec.kind == "struct":
        assert spec.fields is not None
        return _yaml_fields(value, spec.fields)
    return value


def _yaml_fields(
    item: object, fields: Mapping[str, _yamlv3.Field], always: Sequence[str] = ()
) -> dict[str, Any]:
    """The fields of `item` that are set (or always shown), by their YAML names."""
    shown: dict[str, Any] = {}
    for key, spec in fields.items():
        value = getattr(item, spec.attr)
        if key in always or _is_set(spec.attr, value):
            shown[key] = _yaml_value(value, spec)
    return shown
