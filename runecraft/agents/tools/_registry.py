"""The hook-tool table and the machinery every tool shares.

Adding a tool is one decorated coroutine: `@tool("name", args=..., flags=..., output="smart")`
whose one-line docstring is its purpose. The shared parser handles flags, `--help` and
`--format`/`-o`; the coroutine gets the `HookContext` and a `ToolCall` and returns the value
to print (tools with `output=None` print nothing). Raise `errors.UsageError` for bad
invocations (exit 2) and any other `RunecraftError` for runtime failures (exit 1), both
printed as `ERROR <message>` like Juju's tools (`juju/cmd` `Main`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from runecraft import errors
from runecraft.agents import _context, _toolargs

__all__ = [
    "NOT_LEADER",
    "TOOLS",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "bool_flag",
    "invoke",
    "no_more",
    "parse_key_values",
    "read_settings_file",
    "relation_flag",
    "relation_id",
    "require_relation",
    "tool",
]

NOT_LEADER = "this unit is not the leader"

_D = TypeVar("_D")


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One parsed invocation of a tool."""

    flags: Mapping[str, Any]
    args: tuple[str, ...]
    stdin: bytes = b""
    cwd: Path = Path("/")
    spelled: Mapping[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Text for stderr even when the call succeeds (deprecation warnings)."""

    def flag(self, key: str) -> Any:
        """The value of a flag (its default when not given)."""
        return self.flags[key]

    def only_arg(self, missing: str) -> str:
        """The one required positional argument; `missing` is the usage error without it."""
        if not self.args:
            raise errors.UsageError(missing)
        no_more(self.args[1:])
        return self.args[0]

    def optional_arg(self, default: _D) -> str | _D:
        """The one optional positional argument, or `default` when it is not given."""
        no_more(self.args[1:])
        return self.args[0] if self.args else default

    def read(self, path: str) -> bytes:
        """`--file PATH`: `-` is the tool's stdin, a relative path is the caller's cwd."""
        if path == "-":
            return self.stdin
        return (self.cwd / Path(path).expanduser()).read_bytes()


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What the client prints and exits with."""

    code: int
    stdout: bytes = b""
    stderr: bytes = b""


ToolFunc = Callable[[_context.HookContext, ToolCall], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """One row of the tool table."""

    name: str
    args: str
    purpose: str
    flags: tuple[_toolargs.Flag, ...]
    output: str | None
    """Default `--format` for tools that print a value; None for tools that print nothing."""
    func: ToolFunc

    def all_flags(self) -> tuple[_toolargs.Flag, ...]:
        """Own flags plus `--format` and `-o/--output` for tools that print values."""
        if self.output is None:
            return self.flags
        return (
            *self.flags,
            _toolargs.Flag(
                names=("format",),
                default=self.output,
                choices=_toolargs.FORMATS,
                help=f"Specify output format ({'|'.join(_toolargs.FORMATS)})",
            ),
            _toolargs.Flag(names=("o", "output"), default="", help="Specify an output file"),
        )


TOOLS: dict[str, ToolSpec] = {}
"""Every hook tool, by name; the tools dir gets one symlink per entry."""


def tool(
    name: str,
    *,
    args: str = "",
    flags: Sequence[_toolargs.Flag] = (),
    output: str | None = None,
) -> Callable[[ToolFunc], ToolFunc]:
    """Register a tool coroutine under `name`; its one-line docstring is the purpose that
    `--help` prints."""

    def register(func: ToolFunc) -> ToolFunc:
        if not func.__doc__:
            raise TypeError(f"hook tool {name} needs a one-line docstring: its purpose")
        TOOLS[name] = ToolSpec(
            name=name, args=args, purpose=func.__doc__, flags=tuple(flags), output=output, func=func
        )
        return func

    return register


def bool_flag(*names: str, help: str) -> _toolargs.Flag:
    """A Go-style boolean option."""
    return _toolargs.Flag(names=names, kind=_toolargs.FlagKind.BOOL, default=False, help=help)


def no_more(args: Sequence[str]) -> None:
    """`cmd.CheckEmpty`: extra positional arguments are a usage error."""
    if args:
        quoted = " ".join(f'"{arg}"' for arg in args)
        raise errors.UsageError(f"unrecognized args: [{quoted}]")


def relation_flag() -> _toolargs.Flag:
    """`-r/--relation ID` (`endpoint:id` or `id`); defaults to the hook's relation."""
    return _toolargs.Flag(names=("r", "relation"), default=None, help="Specify a relation by id")


def relation_id(ctx: _context.HookContext, call: ToolCall) -> int | None:
    """The relation a call names, or the hook's; validated like Juju's `relationIdValue`.

    Raises:
        errors.UsageError: the id is not a number, or names no relation of this unit.
    """
    value = call.flag("relation")
    if value is None:
        return ctx.relation.relation_id if ctx.relation is not None else None
    spelled = call.spelled.get("relation", "-r")
    try:
        parsed = int(str(value).rpartition(":")[2])
    except ValueError:
        raise errors.UsageError(
            f'invalid value "{value}" for option {spelled}: invalid relation id'
        ) from None
    if parsed not in ctx.relations:
        raise errors.UsageError(
            f'invalid value "{value}" for option {spelled}: {_context.RELATION_NOT_FOUND}'
        )
    return parsed


def require_relation(ctx: _context.HookContext, call: ToolCall) -> int:
    """Like `relation_id`, but outside a relation hook `-r` is mandatory."""
    found = relation_id(ctx, call)
    if found is None:
        raise errors.UsageError("no relation id specified")
    return found


def parse_key_values(args: Sequence[str]) -> dict[str, str]:
    """`key=value` arguments (juju/utils `keyvalues.Parse` with empty values allowed)."""
    parsed: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise errors.UsageError(f'expected "key=value", got "{arg}"')
        if key in parsed:
            raise errors.UsageError(f'key "{key}" specified more than once')
        parsed[key] = value
    return parsed


def read_settings_file(data: bytes) -> dict[str, str]:
    """A YAML (or JSON) map of strings, as `relation-set/state-set --file` read it.

    Scalars keep their text (`1` stays "1", `true` stays "true"), as Go's yaml decoding into
    `map[string]string` does; nested values are refused.
    """
    try:
        loaded = yaml.load(data.decode("utf-8"), Loader=yaml.BaseLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise errors.InvalidSpecError(f"yaml: {exc}") from exc
    if loaded is None or loaded == "":
        return {}
    if not isinstance(loaded, dict):
        raise errors.InvalidSpecError(
            "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!seq into map[string]string"
            if isinstance(loaded, list)
            else "yaml: unmarshal errors:\n  line 1: cannot unmarshal !!str into map[string]string"
        )
    settings: dict[str, str] = {}
    for key, value in loaded.items():
        if not isinstance(value, str) or not isinstance(key, str):
            raise errors.InvalidSpecError(
                f'yaml: unmarshal errors:\n  cannot unmarshal a non-string value of "{key}" '
                "into string"
            )
        settings[key] = value
    return settings


def _write_output(cwd: Path, target: str, text: str) -> None:
    """`-o/--output FILE`, relative to the caller's cwd (juju/cmd `ctx.AbsPath`)."""
    (cwd / Path(target).expanduser()).write_text(text, encoding="utf-8")


def _error(code: int, message: str) -> ToolResult:
    return ToolResult(code=code, stderr=f"ERROR {message}\n".encode())


async def invoke(
    ctx: _context.HookContext,
    name: str,
    argv: Sequence[str],
    *,
    stdin: bytes = b"",
    cwd: Path,
) -> ToolResult:
    """Run one tool call against `ctx`; every failure becomes an exit code, never a raise."""
    spec = TOOLS.get(name)
    if spec is None:
        return _error(1, f"unknown command {name!r}")
    flags = spec.all_flags()
    try:
        parsed = _toolargs.parse(argv, flags)
    except _toolargs.HelpRequestedError:
        text = _toolargs.help_text(spec.name, spec.args, spec.purpose, flags)
        return ToolResult(code=0, stdout=text.encode())
    except errors.UsageError as exc:
        return _error(2, exc.message)
    call = ToolCall(
        flags=parsed.flags, args=parsed.args, stdin=stdin, cwd=cwd, spelled=parsed.spelled
    )
    try:
        value = await spec.func(ctx, call)
        notes = "".join(call.notes).encode()
        if spec.output is None:
            return ToolResult(code=0, stderr=notes)
        text = _toolargs.format_value(value, call.flag("format"))
        target = call.flag("output")
        if target:
            _write_output(cwd, target, text)
            return ToolResult(code=0, stderr=notes)
        return ToolResult(code=0, stdout=text.encode(), stderr=notes)
    except errors.UsageError as exc:
        return _error(2, exc.message)
    except errors.RunecraftError as exc:
        return _error(1, exc.message)
    except OSError as exc:
        return _error(1, str(exc))
    except pydantic.ValidationError as exc:  # a value checked only where it is modelled
        return _error(
            1, "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        )
