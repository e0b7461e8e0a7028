"""Command-line parsing and output formatting shared by every hook tool.

Mirrors what Juju's tools inherit from `juju/cmd` + `gnuflag` (charm-contract §4.1), because
charms depend on the details: flags interspersed with arguments, `--` ending flags,
`--flag=value` and `--flag value`, clustered single-letter flags, Go booleans
(`--application=False` is what ops sends), `--format smart|yaml|json` with `-o/--output`,
`--help`, and the exact error texts (`option provided but not defined: --x`).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from runecraft import errors

__all__ = [
    "FORMATS",
    "Flag",
    "FlagKind",
    "HelpRequestedError",
    "Parsed",
    "dashed",
    "format_value",
    "help_text",
    "parse",
    "parse_go_bool",
]

FORMATS = ("json", "smart", "yaml")

_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class FlagKind(enum.Enum):
    """What a flag's value is."""

    BOOL = "bool"
    STRING = "string"


@dataclass(frozen=True, kw_only=True)
class Flag:
    """One option of a tool; `names` are single letters (`-a`) or words (`--all`)."""

    names: tuple[str, ...]
    kind: FlagKind = FlagKind.STRING
    default: Any = None
    help: str = ""
    dest: str = ""
    """Key in `Parsed.flags`; defaults to the longest name with `-` → `_`."""
    choices: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Where the parsed value is stored."""
        return self.dest or max(self.names, key=len).replace("-", "_")


@dataclass(frozen=True, kw_only=True)
class Parsed:
    """The result of parsing one command line."""

    flags: Mapping[str, Any]
    args: tuple[str, ...]
    seen: frozenset[str] = field(default_factory=frozenset)
    """Keys of flags given explicitly."""
    spelled: Mapping[str, str] = field(default_factory=dict)
    """Key → the option as the caller last spelled it (`-r` or `--relation`), for errors."""


class HelpRequestedError(Exception):
    """`--help` or `-h` was given: print the help text and exit 0."""


def parse_go_bool(text: str) -> bool:
    """Go's `strconv.ParseBool`, which Juju tools use for `--flag=value` booleans."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


def dashed(name: str) -> str:
    """`r` → `-r`, `relation` → `--relation`."""
    return f"-{name}" if len(name) == 1 else f"--{name}"


_dashed = dashed


def _set(flag: Flag, name: str, value: str, out: dict[str, Any]) -> None:
    if flag.kind is FlagKind.BOOL:
        try:
            out[flag.key] = parse_go_bool(value)
        except ValueError as exc:
            raise errors.UsageError(
                f'invalid value "{value}" for option {_dashed(name)}: {exc}'
            ) from exc
        return
    if flag.choices and value not in flag.choices:
        raise errors.UsageError(
            f'invalid value "{value}" for option {_dashed(name)}: unknown format "{value}"'
        )
    out[flag.key] = value


def parse(argv: Sequence[str], flags: Sequence[Flag]) -> Parsed:
    """Parse `argv` GNU-style against `flags`.

    Raises:
        HelpRequestedError: `--help`/`-h` was given.
        errors.UsageError: unknown option, missing value, or bad boolean.
    """
    by_name = {name: flag for flag in flags for name in flag.names}
    values: dict[str, Any] = {flag.key: flag.default for flag in flags}
    seen: set[str] = set()
    spelled: dict[str, str] = {}
    positional: list[str] = []
    pending = list(argv)

    def lookup(name: str) -> Flag:
        flag = by_name.get(name)
        if flag is None:
            if name in ("help", "h"):
                raise HelpRequestedError
            raise errors.UsageError(f"option provided but not defined: {_dashed(name)}")
        return flag

    def take_value(name: str) -> str:
        if not pending:
            raise errors.UsageError(f"option needs an argument: {_dashed(name)}")
        return pending.pop(0)

    while pending:
        arg = pending.pop(0)
        if arg == "--":
            positional.extend(pending)
            break
        if arg in ("-", "") or not arg.startswith("-"):
            positional.append(arg)
            continue
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            flag = lookup(name)
            if has_value:
                _set(flag, name, value, values)
            elif flag.kind is FlagKind.BOOL:
                values[flag.key] = True
            else:
                _set(flag, name, take_value(name), values)
            seen.add(flag.key)
            spelled[flag.key] = _dashed(name)
            continue
        cluster = arg[1:]
        while cluster:
            name, cluster = cluster[0], cluster[1:]
            flag = lookup(name)
            seen.add(flag.key)
            spelled[flag.key] = _dashed(name)
            if flag.kind is FlagKind.BOOL:
                if cluster.startswith("="):
                    _set(flag, name, cluster[1:], values)
                    cluster = ""
                else:
                    values[flag.key] = True
                continue
            value = cluster.removeprefix("=") if cluster else take_value(name)
            _set(flag, name, value, values)
            cluster = ""
    return Parsed(flags=values, args=tuple(positional), seen=frozenset(seen), spelled=spelled)


def help_text(name: str, args: str, purpose: str, flags: Sequence[Flag]) -> str:
    """`juju/cmd`-style help: usage line, summary, then every option with its default."""
    lines = [f"Usage: {name} [options]{' ' + args if args else ''}", "", "Summary:", purpose]
    if flags:
        lines += ["", "Options:"]
        for flag in flags:
            names = ", ".join(_dashed(n) for n in sorted(flag.names, key=len))
            default = flag.default
            if flag.kind is FlagKind.BOOL:
                shown = "false" if not default else "true"
            else:
                shown = json.dumps(default if default is not None else "")
            lines.append(f"{names}  (= {shown})")
            if flag.help:
                lines.append(f"    {flag.help}")
    return "\n".join(lines) + "\n"


def _go_json(value: Any) -> str:
    """`json.Marshal`: compact, map keys sorted, `<>&` escaped like Go does."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


class _GoEmitter(yaml.emitter.Emitter):
    """Quote like Go's yaml.v2: double quotes wherever a plain scalar would not do."""

    def choose_scalar_style(self) -> str:
        style: str = super().choose_scalar_style()
        return '"' if style == "'" else style


class _GoDumper(
    _GoEmitter,
    yaml.serializer.Serializer,
    yaml.representer.SafeRepresenter,
    yaml.resolver.Resolver,
):
    """`yaml.SafeDumper` with Go-style quoting."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        _GoEmitter.__init__(
            self, stream, allow_unicode=kwargs.get("allow_unicode"), width=kwargs.get("width")
        )
        yaml.serializer.Serializer.__init__(self)
        yaml.representer.SafeRepresenter.__init__(
            self,
            default_flow_style=kwargs.get("default_flow_style", False),
            sort_keys=kwargs.get("sort_keys", True),
        )
        yaml.resolver.Resolver.__init__(self)

    def represent_str(self, data: str) -> yaml.ScalarNode:
        """yaml.v2 reads `y`/`n` as booleans (YAML 1.1), so it quotes them as strings."""
        if data in _GO_ONE_LETTER_BOOLS:
            return self.represent_scalar("tag:yaml.org,2002:str", data, style='"')
        node: yaml.ScalarNode = super().represent_str(data)
        return node


_GO_ONE_LETTER_BOOLS = frozenset({"y", "Y", "n", "N"})
_GoDumper.add_representer(str, _GoDumper.represent_str)


def _go_yaml(value: Any) -> str:
    if value is None:
        return ""
    text = yaml.dump(
        value, Dumper=_GoDumper, default_flow_style=False, sort_keys=True, allow_unicode=True
    )
    text = text.removesuffix("...\n").rstrip("\n")
    return f"{text}\n" if text else ""


def format_value(value: Any, fmt: str) -> str:
    """Render a tool's result as `juju/cmd` does for `--format` `fmt`."""
    if fmt == "json":
        return _go_json(value) + "\n"
    if fmt == "yaml":
        return _go_yaml(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True\n" if value else "False\n"
    if isinstance(value, str):
        return f"{value}\n" if value else ""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        joined = "\n".join(value)
        return f"{joined}\n" if joined else ""
    return _go_yaml(value)
