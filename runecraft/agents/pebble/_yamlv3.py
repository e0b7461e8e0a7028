"""Strict YAML decoding the way Go's yaml.v3 decodes Pebble's layers (`KnownFields`).

PyYAML's loader answers with Python values, which is not what Pebble sees: a `string` field
takes any scalar's *literal text* (`8000`, `true`, `1.50`, `yes`), an `int` field follows
Go's resolution (`0o17`, `1_000`), keys not in the schema and repeated keys are errors, and
type errors are collected and reported together with their line. So this works on composed
nodes and reports yaml.v3's messages (`yaml: unmarshal errors:\\n  line 3: field foo not
found in type plan.Service`). Lines count from the start of the node being decoded, as they
do in Pebble, which re-encodes each section before decoding it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from . import _durations, _gotext

__all__ = [
    "Decoder",
    "Field",
    "GoFloat",
    "YamlError",
    "compose",
    "dump",
    "go_float",
    "is_null",
    "natural_key",
]

MERGE_TAG = "tag:yaml.org,2002:merge"
_INT_RE = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_GO_FLOAT_RE = re.compile(r"[-+]?((\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|inf|infinity|nan)", re.I)
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_SPECIAL_FLOATS = frozenset(
    sign + text for sign in ("", "+", "-") for text in (".inf", ".Inf", ".INF")
) | {".nan", ".NaN", ".NAN"}


class YamlError(ValueError):
    """The text of a yaml.v3 error (a syntax error, collected type errors or a custom one)."""


def go_float(value: float) -> str:
    """Go's `strconv.FormatFloat(value, 'g', -1, 64)`, which yaml.v3 and `%g` print."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    shortest = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, shortest.digits))
    exponent = len(digits) + int(shortest.exponent) - 1
    if exponent < -4 or exponent >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def compose(text: str | bytes) -> yaml.Node | None:
    """The first document's node tree (yaml.v3 reads only the first), or None if empty."""
    try:
        return next(iter(yaml.compose_all(text, Loader=yaml.SafeLoader)), None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"line {mark.line + 1}: " if mark else ""
        raise YamlError(f"yaml: {line}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"yaml: {exc}") from None


def _plain(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None


def short_tag(node: yaml.Node) -> str:
    """The tag yaml.v3 would resolve for `node`, short form (`!!str`, `!!int`, ...)."""
    if isinstance(node, yaml.MappingNode):
        return "!!map"
    if isinstance(node, yaml.SequenceNode):
        return "!!seq"
    text = node.value
    if not _plain(node):
        return "!!str"
    if text in _NULLS:
        return "!!null"
    if text in _BOOLS:
        return "!!bool"
    if _INT_RE.fullmatch(text.replace("_", "")):
        return "!!int"
    if text in _SPECIAL_FLOATS or _FLOAT_RE.fullmatch(text):
        return "!!float"
    return "!!str"


def is_null(node: yaml.Node) -> bool:
    return _plain(node) and node.value in _NULLS


@dataclass(frozen=True)
class Field:
    """How one key decodes: into `attr`, as `kind` (`str`, `int`, `float`, `duration`,
    `list`, `map`, or `struct` with `fields` and `make`), naming `go_type` in errors."""

    attr: str
    kind: str = "str"
    go_type: str = "string"
    fields: Mapping[str, Field] | None = None
    make: Callable[..., Any] | None = None


class Decoder:
    """Decodes nodes into Python values, collecting type errors like yaml.v3 does."""

    def __init__(self, origin: yaml.Node | None = None) -> None:
        self.errors: list[str] = []
        self._base = origin.start_mark.line if origin is not None else 0

    def line(self, node: yaml.Node) -> int:
        return int(node.start_mark.line) - self._base + 1

    def type_error(self, node: yaml.Node, go_type: str) -> None:
        tag = short_tag(node)
        value = ""
        if tag not in ("!!seq", "!!map"):
            text = node.value
            value = f" `{text[:7]}...`" if len(text) > 10 else f" `{text}`"
        self.errors.append(f"line {self.line(node)}: cannot unmarshal {tag}{value} into {go_type}")

    def finish(self) -> None:
        """Raise the collected errors, if any, as yaml.v3 reports them."""
        if self.errors:
            raise YamlError("yaml: unmarshal errors:\n  " + "\n  ".join(self.errors))

    def pairs(self, node: yaml.Node, go_type: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """A mapping's (key text, key, value) triples; none (and an error) if it is not a
        mapping or a key repeats. Merge keys (`<<`) are honoured, explicit keys winning."""
        if not isinstance(node, yaml.MappingNode):
            self.type_error(node, go_type)
            return []
        explicit = [(k, v) for k, v in node.value if k.tag != MERGE_TAG]
        seen: dict[str, yaml.Node] = {}
        errors = len(self.errors)
        for key, _ in explicit:
            text = self.string(key)
            if text in seen:
                first, where = self.line(seen[text]), self.line(key)
                quoted = _gotext.go_quote(text)
                self.errors.append(
                    f"line {where}: mapping key {quoted} already defined at line {first}"
                )
            seen[text] = key
        if len(self.errors) > errors:
            return []
        result = [(self.string(key), key, value) for key, value in explicit]
        for key, value in node.value:
            if key.tag != MERGE_TAG:
                continue
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                for text, inner_key, item in self.pairs(source, go_type):
                    if text not in seen:
                        seen[text] = inner_key
                        result.append((text, inner_key, item))
        return result

    def string(self, node: yaml.Node, go_type: str = "string") -> str:
        """Any scalar's literal text (null is empty), as Go decodes into a string."""
        if not isinstance(node, yaml.ScalarNode):
            self.type_error(node, go_type)
            return ""
        return "" if is_null(node) else str(node.value)

    def integer(self, node: yaml.Node, go_type: str = "int") -> int | None:
        """An int the way yaml.v3 resolves one (None for null or an error)."""
        tag = short_tag(node)
        if tag == "!!null":
            return None
        if tag == "!!int":
            text = node.value.replace("_", "")
            octal = re.fullmatch(r"([-+]?)0([0-7]+)", text)
            value = int(octal[1] + octal[2], 8) if octal else int(text, 0)
            if -(1 << 63) <= value < (1 << 63):
                return value
        elif tag == "!!float" and node.value not in _SPECIAL_FLOATS:
            number = float(node.value.replace("_", ""))
            if -(2.0**63) <= number < 2.0**63:
                return int(number)
        self.type_error(node, go_type)
        return None

    def number(self, node: yaml.Node) -> float | None:
        """Pebble's OptionalFloat: a scalar parsed by Go's ParseFloat (custom errors)."""
        if is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            raise YamlError("value must be a YAML number")
        if not _GO_FLOAT_RE.fullmatch(node.value):
            raise YamlError(f"invalid floating-point number {_gotext.go_quote(node.value)}")
        return float(node.value)

    def duration(self, node: yaml.Node) -> float | None:
        """Pebble's OptionalDuration: seconds, or None when absent (custom errors)."""
        if is_null(node):
            return None
        if not isinstance(node, yaml.ScalarNode):
            raise YamlError("duration must be a YAML string")
        try:
            return _durations.parse_duration(node.value)
        except ValueError:
            raise YamlError(f"invalid duration {_gotext.go_quote(node.value)}") from None

    def strings(self, node: yaml.Node, go_type: str = "[]string") -> tuple[str, ...]:
        if is_null(node):
            return ()
        if not isinstance(node, yaml.SequenceNode):
            self.type_error(node, go_type)
            return ()
        return tuple(self.string(item) for item in node.value)

    def string_map(self, node: yaml.Node, go_type: str = "map[string]string") -> dict[str, str]:
        if is_null(node):
            return {}
        value_type = go_type.partition("]")[2]
        return {key: self.string(item, value_type) for key, _, item in self.pairs(node, go_type)}

    def struct(self, node: yaml.Node, go_type: str, fields: Mapping[str, Field]) -> dict[str, Any]:
        """The fields of a mapping as keyword arguments; unknown keys are errors."""
        values: dict[str, Any] = {}
        for key, key_node, item in self.pairs(node, go_type):
            spec = fields.get(key)
            if spec is None:
                where = self.line(key_node)
                self.errors.append(f"line {where}: field {key} not found in type {go_type}")
                continue
            values[spec.attr] = self.field(item, spec)
        return values

    def field(self, node: yaml.Node, spec: Field) -> Any:
        if spec.kind == "str":
            return self.string(node, spec.go_type)
        if spec.kind == "int":
            return self.integer(node, spec.go_type)
        if spec.kind == "float":
            return self.number(node)
        if spec.kind == "duration":
            return self.duration(node)
        if spec.kind == "list":
            return self.strings(node, spec.go_type)
        if spec.kind == "map":
            return self.string_map(node, spec.go_type)
        assert spec.fields is not None and spec.make is not None
        if is_null(node):
            return None
        return spec.make(**self.struct(node, spec.go_type, spec.fields))


class GoFloat(float):
    """A float that `dump` prints as Go does (`2`, `1.5`, `1e+06`), unquoted."""


class _Dumper(yaml.SafeDumper):
    """Block style with indented sequences, as yaml.v3 writes."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_go_float(dumper: yaml.SafeDumper, value: GoFloat) -> yaml.ScalarNode:
    text = go_float(value)
    tag: str = dumper.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return dumper.represent_scalar(tag, text)


_Dumper.add_representer(GoFloat, _represent_go_float)


def dump(data: Mapping[str, Any]) -> str:
    """YAML text of `data`, keys in the order given, indented by four like yaml.v3."""
    return yaml.dump(
        dict(data),
        Dumper=_Dumper,
        sort_keys=False,
        indent=4,
        allow_unicode=True,
        width=1 << 30,
        default_flow_style=False,
    )


def natural_key(text: str) -> tuple[tuple[int, str], ...]:
    """Order map keys roughly as yaml.v3 does: digit runs compare as numbers (`s2 < s10`)."""
    parts = re.split(r"([0-9]+)", text)
    return tuple((int(part) if part.isascii() and part.isdigit() else -1, part) for part in parts)
