"""Layer files: Pebble's strict schema, its per-layer validation and the layers directory.

This is Pebble's `ParseLayer` and `Layer.Validate` (messages included) over yaml.v3-style
decoding (`_yamlv3`), and its `ReadLayersDir`. The schemas, kept in Pebble's YAML field
order, also drive the plan's YAML output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from . import _command, _gotext, _yamlv3
from ._planmodel import Check, ExecCheck, HttpCheck, Layer, LogTarget, PlanError, Service, TcpCheck

__all__ = [
    "CHECK_FIELDS",
    "LOG_TARGET_TYPES",
    "SERVICE_FIELDS",
    "TARGET_ALWAYS",
    "TARGET_FIELDS",
    "ZERO_IS_UNSET",
    "check_overrides",
    "command_error",
    "read_layer",
    "read_layers_dir",
    "unsupported_type",
]


# Schemas, in Pebble's YAML field order (which the plan output keeps).


def _schema(*entries: tuple[str, str, str]) -> dict[str, _yamlv3.Field]:
    return {key: _yamlv3.Field(key.replace("-", "_"), kind, go) for key, kind, go in entries}


_STR = ("str", "string")
_LIST = ("list", "[]string")
_MAP = ("map", "map[string]string")
_INT = ("int", "int")
_DURATION = ("duration", "plan.OptionalDuration")
_ACTION = ("str", "plan.ServiceAction")
_IDENTITY = (("user-id", *_INT), ("user", *_STR), ("group-id", *_INT), ("group", *_STR))

SERVICE_FIELDS = _schema(
    *(("summary", *_STR), ("description", *_STR), ("startup", "str", "plan.ServiceStartup")),
    *(("override", "str", "plan.Override"), ("command", *_STR)),
    *(("after", *_LIST), ("before", *_LIST), ("requires", *_LIST), ("environment", *_MAP)),
    *_IDENTITY,
    *(("working-dir", *_STR), ("on-success", *_ACTION), ("on-failure", *_ACTION)),
    ("on-check-failure", "map", "map[string]plan.ServiceAction"),
    *(("backoff-delay", *_DURATION), ("backoff-factor", "float", "plan.OptionalFloat")),
    *(("backoff-limit", *_DURATION), ("kill-delay", *_DURATION)),
)


def _tcp_check(*, port: int | None = None, **fields: Any) -> TcpCheck:
    return TcpCheck(port=port or None, **fields)  # port 0 is unset in Pebble


def _check(*, threshold: int | None = None, **fields: Any) -> Check:
    return Check(threshold=threshold or None, **fields)  # so is threshold 0


_HTTP_FIELDS = _schema(("url", *_STR), ("headers", *_MAP))
_TCP_FIELDS = _schema(("port", *_INT), ("host", *_STR))
_EXEC_FIELDS = _schema(
    *(("command", *_STR), ("service-context", *_STR), ("environment", *_MAP)),
    *_IDENTITY,
    ("working-dir", *_STR),
)
CHECK_FIELDS = {
    **_schema(("override", "str", "plan.Override"), ("level", "str", "plan.CheckLevel")),
    **_schema(("startup", "str", "plan.CheckStartup"), ("period", *_DURATION)),
    **_schema(("timeout", *_DURATION), ("threshold", *_INT)),
    "http": _yamlv3.Field("http", "struct", "plan.HTTPCheck", _HTTP_FIELDS, HttpCheck),
    "tcp": _yamlv3.Field("tcp", "struct", "plan.TCPCheck", _TCP_FIELDS, _tcp_check),
    "exec": _yamlv3.Field("exec", "struct", "plan.ExecCheck", _EXEC_FIELDS, ExecCheck),
}
TARGET_FIELDS = _schema(
    *(("type", "str", "plan.LogTargetType"), ("location", *_STR), ("services", *_LIST)),
    *(("override", "str", "plan.Override"), ("labels", *_MAP)),
)
TARGET_ALWAYS = ("type", "location", "services")
"""Pebble prints these of a log target even when empty (no `omitempty`)."""

ZERO_IS_UNSET = frozenset({"threshold", "port"})
LOG_TARGET_TYPES = ("loki", "opentelemetry", "syslog")
_ON_SUCCESS = frozenset({"", "restart", "shutdown", "ignore", "failure-shutdown"})
_ON_FAILURE = frozenset({"", "restart", "shutdown", "ignore", "success-shutdown"})

_Item = TypeVar("_Item", Service, Check, LogTarget)


def _q(text: str) -> str:
    return _gotext.go_quote(text)


# Parsing: Pebble's ParseLayer (strict decoding, then Layer.Validate).


def read_layer(text: str | bytes, label: str, order: int) -> Layer:
    """Pebble's ParseLayer, with its messages (the API prefixes them)."""
    try:
        root = _yamlv3.compose(text)
        top = _yamlv3.Decoder()
        sections = []
        if root is not None and not _yamlv3.is_null(root):
            sections = top.pairs(root, "map[string]yaml.Node")
        top.finish()
    except _yamlv3.YamlError as exc:
        raise PlanError(f"cannot parse layer {_q(label)}: {exc}") from None
    decoded: dict[str, Any] = {}
    for key, _, node in sections:
        if key not in _SECTIONS:
            raise PlanError(f"cannot parse layer {_q(label)}: unknown section {_q(key)}")
        decoder = _yamlv3.Decoder(node)
        try:
            decoded[key] = _SECTIONS[key](decoder, node)
            decoder.finish()
        except _yamlv3.YamlError as exc:
            raise PlanError(f"cannot parse layer {_q(label)} section {_q(key)}: {exc}") from None
    if label.startswith("pebble-"):
        raise PlanError('cannot use reserved label prefix "pebble-"')
    _validate_services(decoded.get("services", {}))
    _validate_checks(decoded.get("checks", {}))
    _validate_targets(decoded.get("log-targets", {}))
    return Layer(
        label=label,
        order=order,
        summary=decoded.get("summary", ""),
        description=decoded.get("description", ""),
        services=decoded.get("services", {}),
        checks=decoded.get("checks", {}),
        log_targets=decoded.get("log-targets", {}),
    )


def _items(
    decoder: _yamlv3.Decoder,
    node: yaml.Node,
    go_type: str,
    fields: Mapping[str, _yamlv3.Field],
    make: Callable[..., _Item],
) -> dict[str, _Item | None]:
    """A section of named items; a null item stays None for validation to name it."""
    if _yamlv3.is_null(node):
        return {}
    items: dict[str, _Item | None] = {}
    for name, _, value in decoder.pairs(node, f"map[string]*{go_type}"):
        if _yamlv3.is_null(value):
            items[name] = None
            continue
        items[name] = make(name=name, **decoder.struct(value, go_type, fields))
    return items


_SECTIONS: dict[str, Callable[[_yamlv3.Decoder, yaml.Node], Any]] = {
    "summary": lambda decoder, node: decoder.string(node),
    "description": lambda decoder, node: decoder.string(node),
    "services": lambda d, n: _items(d, n, "plan.Service", SERVICE_FIELDS, Service),
    "checks": lambda d, n: _items(d, n, "plan.Check", CHECK_FIELDS, _check),
    "log-targets": lambda d, n: _items(d, n, "plan.LogTarget", TARGET_FIELDS, LogTarget),
}


def command_error(name: str, command: str) -> PlanError | None:
    """Pebble's complaint about a service command, if it has one."""
    try:
        _command.parse_command(command)
    except ValueError as exc:
        reason = f"cannot parse service {_q(name)} command: {exc}"
        return PlanError(f"plan service {_q(name)} command invalid: {reason}")
    return None


def _validate_services(services: Mapping[str, Service | None]) -> None:
    for name, service in services.items():
        if name == "":
            raise PlanError("cannot use empty string as service name")
        if name == "pebble":
            raise PlanError('cannot use reserved service name "pebble"')
        if name.startswith("-"):
            raise PlanError(f'cannot use service name {_q(name)}: starting with "-" not allowed')
        if service is None:
            raise PlanError(f"service object cannot be null for service {_q(name)}")
        error = command_error(name, service.command)
        if error is not None:
            raise error
        actions = [("on-success", service.on_success, _ON_SUCCESS)]
        actions.append(("on-failure", service.on_failure, _ON_FAILURE))
        actions += [("on-check-failure", a, _ON_FAILURE) for a in service.on_check_failure.values()]
        for key, action, valid in actions:
            if action not in valid:
                raise PlanError(f"plan service {_q(name)} {key} action {_q(action)} invalid")
        factor = service.backoff_factor
        if factor is not None and factor < 1:
            raise PlanError(
                f"plan service {_q(name)} backoff-factor must be 1.0 or greater, "
                f"not {_yamlv3.go_float(factor)}"
            )


def _validate_checks(checks: Mapping[str, Check | None]) -> None:
    for name, check in checks.items():
        if name == "":
            raise PlanError("cannot use empty string as check name")
        if check is None:
            raise PlanError(f"check object cannot be null for check {_q(name)}")
        if check.level not in ("", "alive", "ready"):
            raise PlanError(f'plan check {_q(name)} level must be "alive" or "ready"')
        if check.startup not in ("", "enabled", "disabled"):
            raise PlanError(f'plan check {_q(name)} startup must be "enabled" or "disabled"')
        for key, value in (("period", check.period), ("timeout", check.timeout)):
            if value == 0:
                raise PlanError(f"plan check {_q(name)} {key} must not be zero")
        if check.exec is not None:
            try:
                _command.split_command(check.exec.command)
            except ValueError as exc:
                raise PlanError(f"plan check {_q(name)} command invalid: {exc}") from None


def unsupported_type(name: str, kind: str) -> PlanError:
    choices = '"loki", "opentelemetry" or "syslog"'
    return PlanError(f"log target {_q(name)} has unsupported type {_q(kind)}, must be {choices}")


def _validate_targets(targets: Mapping[str, LogTarget | None]) -> None:
    for name, target in targets.items():
        if target is None:
            raise PlanError(f"log target object cannot be null for log target {_q(name)}")
        for label in target.labels:
            if label.startswith("pebble_"):
                raise PlanError(
                    f'log target {_q(name)}: label {_q(label)} uses reserved prefix "pebble_"'
                )
        if target.type not in ("", *LOG_TARGET_TYPES):
            raise unsupported_type(name, target.type)


def check_overrides(layer: Layer) -> None:
    """Pebble finds these while combining: every item says how it combines."""
    sections: tuple[tuple[str, Mapping[str, Service | Check | LogTarget]], ...] = (
        ("service", layer.services),
        ("check", layer.checks),
        ("log target", layer.log_targets),
    )
    for kind, items in sections:
        for name, item in items.items():
            where = f"layer {_q(layer.label)}"
            if not item.override:
                raise PlanError(f'{where} must define "override" for {kind} {_q(name)}')
            if item.override not in ("merge", "replace"):
                raise PlanError(f'{where} has invalid "override" value for {kind} {_q(name)}')


# The layers directory (ReadLayersDir).

_ENTRY = re.compile(r"([0-9]{3})-([a-z](?:-?[a-z0-9]){2,})(\.yaml|\.d)")


def _os_error(exc: OSError) -> str:
    """An OSError worded like Go's (`open /x: no such file or directory`)."""
    reason = exc.strerror or str(exc)
    return f"open {exc.filename}: {reason[:1].lower()}{reason[1:]}"


def _layer_entries(directory: Path, *, allow_dirs: bool) -> list[tuple[str, int, str]]:
    """The `NNN-label.yaml`/`.d` entries of `directory` as (name, order, label), by name."""
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise PlanError(f"cannot read layers directory: {_os_error(exc)}") from None
    entries: list[tuple[str, int, str]] = []
    orders: dict[int, str] = {}
    labels: dict[str, int] = {}
    for name in names:
        if not name.endswith((".yaml", ".d")):
            continue
        is_dir = (directory / name).is_dir()
        match = _ENTRY.fullmatch(name)
        if match is None:
            what, suffix = ("sub-directory name", ".d") if is_dir else ("filename", ".yaml")
            example = _q(f"123-some-label{suffix}")
            raise PlanError(f"invalid layer {what}: {_q(name)} (must look like {example})")
        if is_dir and not allow_dirs:
            raise PlanError("cannot have a layers sub-directory at this level")
        order, label = int(match[1]), match[2]
        if order in orders or label in labels:
            old_order, old_label = (
                (order, orders[order]) if order in orders else (labels[label], label)
            )
            raise PlanError(
                f"invalid layer filename: {_q(name)} not unique "
                f'(have "{old_order:03d}-{old_label}.yaml" already)'
            )
        orders[order], labels[label] = label, order
        entries.append((name, order, label))
    return entries


def _load_layer(path: Path, label: str, order: int) -> Layer:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read layer file: {_os_error(exc)}") from None
    layer = read_layer(text, label, order)
    check_overrides(layer)
    return layer


def read_layers_dir(directory: Path) -> list[Layer]:
    """Pebble's ReadLayersDir (see `_plan.read_layers_dir`)."""
    if not directory.exists():
        return []
    layers: list[Layer] = []
    for name, order, label in _layer_entries(directory, allow_dirs=True):
        path = directory / name
        if not path.is_dir():
            layers.append(_load_layer(path, label, 1000 * order))
            continue
        for sub_name, sub_order, sub_label in _layer_entries(path, allow_dirs=False):
            layers.append(
                _load_layer(path / sub_name, f"{label}/{sub_label}", 1000 * order + sub_order)
            )
    return layers
