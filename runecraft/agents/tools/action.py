"""Action tools: `action-get`, `action-set`, `action-fail`, `action-log` (charm-contract §4.3).

They work only while an action runs (Juju 3.x: `not running an action` otherwise). Results
and the failure mark go back in the action's outcome; `action-log` is sent at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runecraft import errors
from runecraft.agents import _context
from runecraft.agents.tools._registry import ToolCall, tool

__all__ = ["DEFAULT_FAIL_MESSAGE", "RESERVED_KEYS"]

DEFAULT_FAIL_MESSAGE = "action failed without reason given, check action for errors"
RESERVED_KEYS = ("stdout", "stdout-encoding", "stderr", "stderr-encoding")
"""Result keys the agent fills from the process; `action-set` may not write them."""

_KEY_RULE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")


def _running(ctx: _context.HookContext) -> _context.ActionRun:
    if ctx.action is None:
        raise errors.PermanentError("not running an action")
    return ctx.action


@tool("action-get", args="[<key>[.<key>.<key>...]]", output="smart")
async def _action_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Get action parameters."""
    path = call.optional_arg("")
    action = _running(ctx)
    value: Any = dict(action.params)
    if not path:
        return value
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _parse_results(args: tuple[str, ...]) -> list[tuple[list[str], str]]:
    parsed: list[tuple[list[str], str]] = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise errors.UsageError(f'argument "{arg}" must be of the form key...=value')
        keys = key.split(".")
        for part in keys:
            if not _KEY_RULE.match(part):
                raise errors.UsageError(
                    f'key "{part}" must start and end with lowercase alphanumeric, '
                    "and contain only lowercase alphanumeric, hyphens and periods"
                )
            if part in RESERVED_KEYS:
                raise errors.UsageError(f'cannot set reserved action key "{part}"')
        parsed.append((keys, value))
    return parsed


@tool("action-set", args="<key>=<value> [<key>=<value> ...]")
async def _action_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Set action results."""
    parsed = _parse_results(call.args)
    action = _running(ctx)
    for keys, value in parsed:
        target = action.results
        for key in keys[:-1]:
            child = target.get(key)
            if not isinstance(child, dict):
                child = {}
                target[key] = child
            target = child
        target[keys[-1]] = value


@tool("action-fail", args='["<failure message>"]')
async def _action_fail(ctx: _context.HookContext, call: ToolCall) -> None:
    """Set action fail status with message."""
    message = call.optional_arg(DEFAULT_FAIL_MESSAGE)
    action = _running(ctx)
    action.failed = True
    action.message = message


@tool("action-log", args="<message>")
async def _action_log(ctx: _context.HookContext, call: ToolCall) -> None:
    """Record a progress message for the current action."""
    if not call.args:
        raise errors.UsageError("no message specified")
    action = _running(ctx)
    message = " ".join(call.args)
    action.log.append(message)
    await ctx.backend.action_log(action.id, message)
