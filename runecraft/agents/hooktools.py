"""Hook tools (`status-set`, `config-get`, ...): the table, the hook context, the tools.

A hook process runs the tools as executables (see `_hooktool`, the client); each call
arrives at the unit agent's socket (`_toolserver`) and is executed here by `invoke` against
the `HookContext` of the hook that is running. Only that hook's context id is accepted.

Adding a tool is one decorated coroutine: `@_tool("name", args=..., purpose=..., flags=...,
output="smart")`. The shared parser handles flags, `--help` and `--format`/`-o`; the coroutine
gets a `ToolCall` and returns the value to print (tools with `output=None` print nothing).
Raise `errors.UsageError` for bad invocations (exit 2) and any other `RunecraftError` for
runtime failures (exit 1), both printed as `ERROR <message>` like Juju's tools.

Reads come from the snapshot of remote state the hook started with, so they are stable
within one hook (and `is-leader` can only be sticky). Writes that Juju buffers until the hook
succeeds (relation-set, state-set, ...) will go in `HookContext` buffers; the tools here all
take effect at once through `ContextBackend`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog
import yaml

from runecraft import errors
from runecraft.agents import _toolargs, _unitlog
from runecraft.schemas import bus

__all__ = [
    "TOOLS",
    "ContextBackend",
    "HookContext",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "invoke",
]

logger = structlog.get_logger(__name__)

SETTABLE_STATUSES = ("maintenance", "blocked", "waiting", "active")
NOT_LEADER = "this unit is not the leader"


class ContextBackend(Protocol):
    """Effects a hook applies immediately (the unit agent reports them at once)."""

    async def set_unit_status(self, status: bus.StatusValue) -> None:
        """The charm set its unit's workload status."""

    async def set_app_status(self, status: bus.StatusValue) -> None:
        """The leader set its application's status."""

    async def set_workload_version(self, version: str) -> None:
        """The charm set the workload version."""


@dataclass(kw_only=True)
class HookContext:
    """What the tools of one running hook see and change."""

    id: str
    """`JUJU_CONTEXT_ID`: the hook's token for the tool socket."""
    hook: str
    remote: bus.UnitRemoteState
    """Remote state as of the hook's start: reads are stable within a hook."""
    charm_dir: Path
    log: _unitlog.UnitLog
    backend: ContextBackend
    unit_status: bus.StatusValue = field(default_factory=lambda: bus.StatusValue(status="unknown"))
    app_status: bus.StatusValue = field(default_factory=lambda: bus.StatusValue(status="unknown"))
    status_set_called: bool = False
    """The hook called `status-set` for the unit (decides the automatic status after start)."""
    _config_options: tuple[str, ...] | None = None

    @property
    def unit(self) -> str:
        """`app/N`."""
        return self.remote.unit

    @property
    def leader(self) -> bool:
        """Leadership as of the hook's start (Juju guarantees it for 30 s)."""
        return self.remote.leader

    def config_options(self) -> tuple[str, ...]:
        """Option names declared in the charm's `config.yaml` (for `config-get --all`)."""
        if self._config_options is None:
            try:
                loaded = yaml.safe_load((self.charm_dir / "config.yaml").read_text())
            except (OSError, yaml.YAMLError):
                loaded = None
            options = loaded.get("options") if isinstance(loaded, dict) else None
            self._config_options = tuple(options) if isinstance(options, dict) else ()
        return self._config_options


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One parsed invocation of a tool."""

    flags: Mapping[str, Any]
    args: tuple[str, ...]
    stdin: bytes = b""
    cwd: Path = Path("/")

    def flag(self, key: str) -> Any:
        """The value of a flag (its default when not given)."""
        return self.flags[key]


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What the client prints and exits with."""

    code: int
    stdout: bytes = b""
    stderr: bytes = b""


ToolFunc = Callable[[HookContext, ToolCall], Awaitable[Any]]


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


def _tool(
    name: str,
    *,
    args: str = "",
    purpose: str,
    flags: Sequence[_toolargs.Flag] = (),
    output: str | None = None,
) -> Callable[[ToolFunc], ToolFunc]:
    def register(func: ToolFunc) -> ToolFunc:
        TOOLS[name] = ToolSpec(
            name=name, args=args, purpose=purpose, flags=tuple(flags), output=output, func=func
        )
        return func

    return register


def _bool_flag(*names: str, help: str) -> _toolargs.Flag:
    return _toolargs.Flag(names=names, kind=_toolargs.FlagKind.BOOL, default=False, help=help)


def _no_more(args: Sequence[str]) -> None:
    """`cmd.CheckEmpty`: extra positional arguments are a usage error."""
    if args:
        quoted = " ".join(f'"{arg}"' for arg in args)
        raise errors.UsageError(f"unrecognized args: [{quoted}]")


def _write_output(cwd: Path, target: str, text: str) -> None:
    """`-o/--output FILE`, relative to the caller's cwd (juju/cmd `ctx.AbsPath`)."""
    (cwd / Path(target).expanduser()).write_text(text, encoding="utf-8")


async def invoke(
    ctx: HookContext, tool: str, argv: Sequence[str], *, stdin: bytes = b"", cwd: Path
) -> ToolResult:
    """Run one tool call against `ctx`; every failure becomes an exit code, never a raise."""
    spec = TOOLS.get(tool)
    if spec is None:
        return ToolResult(code=1, stderr=f"ERROR unknown command {tool!r}\n".encode())
    flags = spec.all_flags()
    try:
        parsed = _toolargs.parse(argv, flags)
    except _toolargs.HelpRequestedError:
        text = _toolargs.help_text(spec.name, spec.args, spec.purpose, flags)
        return ToolResult(code=0, stdout=text.encode())
    except errors.UsageError as exc:
        return ToolResult(code=2, stderr=f"ERROR {exc.message}\n".encode())
    call = ToolCall(flags=parsed.flags, args=parsed.args, stdin=stdin, cwd=cwd)
    try:
        value = await spec.func(ctx, call)
        if spec.output is None:
            return ToolResult(code=0)
        text = _toolargs.format_value(value, call.flag("format"))
        target = call.flag("output")
        if target:
            _write_output(cwd, target, text)
            return ToolResult(code=0)
        return ToolResult(code=0, stdout=text.encode())
    except errors.UsageError as exc:
        return ToolResult(code=2, stderr=f"ERROR {exc.message}\n".encode())
    except errors.RunecraftError as exc:
        return ToolResult(code=1, stderr=f"ERROR {exc.message}\n".encode())
    except OSError as exc:
        return ToolResult(code=1, stderr=f"ERROR {exc}\n".encode())


# --- logging -------------------------------------------------------------------------------


_LEVEL_ALIASES = {"WARN": "WARNING"}


@_tool(
    "juju-log",
    args="<message>",
    purpose="Write a message to the unit log.",
    flags=(
        _bool_flag("debug", help="log at debug level"),
        _toolargs.Flag(
            names=("l", "log-level"), default="INFO", help="Send log message at the given level"
        ),
    ),
)
async def _juju_log(ctx: HookContext, call: ToolCall) -> None:
    if not call.args:
        raise errors.UsageError("no message specified")
    level = "DEBUG" if call.flag("debug") else str(call.flag("log_level")).upper()
    level = _LEVEL_ALIASES.get(level, level)
    if level not in _unitlog.LEVELS:
        ctx.log.write("WARNING", "juju-log", f'Specified log level of "{level}" is not valid')
        level = "INFO"
    ctx.log.write(level, "juju-log", " ".join(call.args))


# --- status --------------------------------------------------------------------------------


@_tool(
    "status-set",
    args="<maintenance | blocked | waiting | active> [message]",
    purpose="Set status information.",
    flags=(
        _bool_flag(
            "application",
            help="Set this status for the application to which the unit belongs if the unit "
            "is the leader",
        ),
    ),
)
async def _status_set(ctx: HookContext, call: ToolCall) -> None:
    if not call.args:
        raise errors.UsageError("invalid args, require <status> [message]")
    status = call.args[0]
    if status not in SETTABLE_STATUSES:
        valid = " ".join(SETTABLE_STATUSES)
        raise errors.UsageError(f'invalid status "{status}", expected one of [{valid}]')
    message = call.args[1] if len(call.args) > 1 else ""
    _no_more(call.args[2:])
    value = bus.StatusValue(status=status, message=message)
    if call.flag("application"):
        if not ctx.leader:
            raise errors.PermissionDeniedError(NOT_LEADER)
        ctx.app_status = value
        await ctx.backend.set_app_status(value)
        return
    ctx.unit_status = value
    ctx.status_set_called = True
    await ctx.backend.set_unit_status(value)


def _status_details(value: bus.StatusValue) -> dict[str, Any]:
    return {"status": value.status, "message": value.message, "status-data": {}}


@_tool(
    "status-get",
    purpose="Print status information.",
    flags=(
        _bool_flag("include-data", help="print all status data"),
        _bool_flag("application", help="print status for all units of this application"),
    ),
    output="smart",
)
async def _status_get(ctx: HookContext, call: ToolCall) -> Any:
    _no_more(call.args)
    if call.flag("application"):
        if not ctx.leader:
            raise errors.PermissionDeniedError(NOT_LEADER)
        details = _status_details(ctx.app_status)
        details["units"] = {ctx.unit: _status_details(ctx.unit_status)}
        return {"application-status": details}
    if call.flag("include_data"):
        return _status_details(ctx.unit_status)
    return ctx.unit_status.status


@_tool(
    "application-version-set",
    args="<new-version>",
    purpose="Specify which version of the application is deployed.",
)
async def _application_version_set(ctx: HookContext, call: ToolCall) -> None:
    if not call.args:
        raise errors.UsageError("no version specified")
    _no_more(call.args[1:])
    await ctx.backend.set_workload_version(call.args[0])


# --- leadership and config -----------------------------------------------------------------


@_tool("is-leader", purpose="Print application leadership status.", output="smart")
async def _is_leader(ctx: HookContext, call: ToolCall) -> bool:
    _no_more(call.args)
    return ctx.leader


@_tool(
    "config-get",
    args="[<key>]",
    purpose="Print application configuration.",
    flags=(_bool_flag("a", "all", help="print all keys"),),
    output="smart",
)
async def _config_get(ctx: HookContext, call: ToolCall) -> Any:
    key = call.args[0] if call.args else None
    _no_more(call.args[1:])
    config = ctx.remote.config
    if key is not None:
        if call.flag("all"):
            raise errors.UsageError(f'cannot use argument --all together with key "{key}"')
        return config.get(key)
    if call.flag("all"):
        return {**dict.fromkeys(ctx.config_options()), **config}
    return {name: value for name, value in config.items() if value is not None}
