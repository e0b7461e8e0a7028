"""Logging, status, leadership and config tools: the ones every charm calls.

`juju-log`, `status-set`, `status-get`, `application-version-set`, `is-leader`,
`config-get`. Statuses and the workload version take effect at once (they are reported
immediately); `is-leader` answers from the hook's start (Juju's 30 s guarantee).
"""

from __future__ import annotations

from typing import Any

from runecraft import errors
from runecraft.agents import _context, _toolargs, _unitlog
from runecraft.agents.tools import _registry
from runecraft.agents.tools._registry import ToolCall, bool_flag, no_more, tool
from runecraft.schemas import bus

__all__: list[str] = []

SETTABLE_STATUSES = ("maintenance", "blocked", "waiting", "active")
_LEVEL_ALIASES = {"WARN": "WARNING"}


@tool(
    "juju-log",
    args="<message>",
    flags=(
        bool_flag("debug", help="log at debug level"),
        _toolargs.Flag(
            names=("l", "log-level"), default="INFO", help="Send log message at the given level"
        ),
    ),
)
async def _juju_log(ctx: _context.HookContext, call: ToolCall) -> None:
    """Write a message to the unit log."""
    if not call.args:
        raise errors.UsageError("no message specified")
    level = "DEBUG" if call.flag("debug") else str(call.flag("log_level")).upper()
    level = _LEVEL_ALIASES.get(level, level)
    if level not in _unitlog.LEVELS:
        ctx.log.write("WARNING", "juju-log", f'Specified log level of "{level}" is not valid')
        level = "INFO"
    if _unitlog.LEVELS.index(level) < _unitlog.LEVELS.index(ctx.remote.log_level):
        return  # below the model's logging-config for this unit: dropped, as in Juju
    message = " ".join(call.args)
    if ctx.relation is not None:
        message = f"{ctx.relation.endpoint}:{ctx.relation.relation_id}: {message}"
    ctx.log.write(level, "juju-log", message)


@tool(
    "status-set",
    args="<maintenance | blocked | waiting | active> [message]",
    flags=(
        bool_flag(
            "application",
            help="Set this status for the application to which the unit belongs if the unit "
            "is the leader",
        ),
    ),
)
async def _status_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Set status information."""
    if not call.args:
        raise errors.UsageError("invalid args, require <status> [message]")
    status = call.args[0]
    if status not in SETTABLE_STATUSES:
        valid = " ".join(SETTABLE_STATUSES)
        raise errors.UsageError(f'invalid status "{status}", expected one of [{valid}]')
    message = call.args[1] if len(call.args) > 1 else ""
    no_more(call.args[2:])
    value = bus.StatusValue(status=status, message=message)
    if call.flag("application"):
        if not ctx.leader:
            raise errors.PermissionDeniedError(_registry.NOT_LEADER)
        ctx.app_status = value
        await ctx.backend.set_app_status(value)
        return
    ctx.unit_status = value
    ctx.status_set_called = True
    await ctx.backend.set_unit_status(value)


def _status_details(value: bus.StatusValue) -> dict[str, Any]:
    return {"status": value.status, "message": value.message, "status-data": {}}


@tool(
    "status-get",
    flags=(
        bool_flag("include-data", help="print all status data"),
        bool_flag("application", help="print status for all units of this application"),
    ),
    output="smart",
)
async def _status_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Print status information."""
    no_more(call.args)
    if call.flag("application"):
        if not ctx.leader:
            raise errors.PermissionDeniedError(_registry.NOT_LEADER)
        details = _status_details(ctx.app_status)
        # The agent knows only its own unit's status: the leader's view.
        details["units"] = {ctx.unit: _status_details(ctx.unit_status)}
        return {"application-status": details}
    if call.flag("include_data"):
        return _status_details(ctx.unit_status)
    return ctx.unit_status.status


@tool("application-version-set", args="<new-version>")
async def _application_version_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Specify which version of the application is deployed."""
    await ctx.backend.set_workload_version(call.only_arg(missing="no version specified"))


@tool("is-leader", output="smart")
async def _is_leader(ctx: _context.HookContext, call: ToolCall) -> bool:
    """Print application leadership status."""
    no_more(call.args)
    return ctx.leader


@tool(
    "config-get",
    args="[<key>]",
    flags=(bool_flag("a", "all", help="print all keys"),),
    output="smart",
)
async def _config_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Print application configuration."""
    key = call.optional_arg(None)
    config = ctx.remote.config
    if key is not None:
        if call.flag("all"):
            raise errors.UsageError(f'cannot use argument --all together with key "{key}"')
        return config.get(key)
    if call.flag("all"):
        return {**dict.fromkeys(ctx.config_options()), **config}
    return {name: value for name, value in config.items() if value is not None}
