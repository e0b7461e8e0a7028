"""Charm-state and leader-settings tools: `state-get/set/delete`, `leader-get/set`.

Charm state is a per-unit string map kept by the controller; `state-set`/`state-delete`
are buffered and committed with the hook (charm-contract §5). Leader settings (Juju 3.x,
used by charmhelpers and bash charms) are applied at once by the leader only.
"""

from __future__ import annotations

from typing import Any

from runecraft import errors
from runecraft.agents import _context, _toolargs
from runecraft.agents.tools._registry import (
    ToolCall,
    bool_flag,
    parse_key_values,
    read_settings_file,
    tool,
)
from runecraft.schemas import bus

__all__ = ["MAX_STATE_KEY_BYTES", "MAX_STATE_VALUE_BYTES"]

MAX_STATE_KEY_BYTES = 256
"""Juju `quota.MaxCharmStateKeySize`."""
MAX_STATE_VALUE_BYTES = 64 * 1024
"""Juju `quota.MaxCharmStateValueSize`."""


def _key_arg(call: ToolCall) -> str:
    """The optional key; `-` stands for none."""
    key = call.optional_arg("")
    return "" if key == "-" else key


@tool(
    "state-get",
    args="[<key>]",
    flags=(bool_flag("strict", help="Return an error if the requested key does not exist"),),
    output="smart",
)
async def _state_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Print server-side-state value."""
    key = _key_arg(call)
    state = ctx.charm_state()
    if not key:
        return state
    if key not in state and call.flag("strict"):
        raise errors.NotFoundError(f'"{key}" not found')
    return state.get(key)


@tool(
    "state-set",
    args="key=value [key=value ...]",
    flags=(_toolargs.Flag(names=("file",), default="", help="file containing key-value pairs"),),
)
async def _state_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Set server-side-state values."""
    overrides = parse_key_values(call.args)
    values: dict[str, str] = {}
    if call.flag("file"):
        values = read_settings_file(call.read(call.flag("file")))
    values.update(overrides)
    for key, value in values.items():
        if len(key.encode()) > MAX_STATE_KEY_BYTES:
            raise errors.InvalidSpecError(
                f"max allowed key length ({MAX_STATE_KEY_BYTES}) exceeded"
            )
        if len(value.encode()) > MAX_STATE_VALUE_BYTES:
            raise errors.InvalidSpecError(
                f"max allowed value length ({MAX_STATE_VALUE_BYTES}) exceeded"
            )
    ctx.state_writes.update(values)


@tool("state-delete", args="<key>")
async def _state_delete(ctx: _context.HookContext, call: ToolCall) -> None:
    """Delete server-side-state key value pairs."""
    ctx.state_writes[call.only_arg(missing="no key specified")] = None


@tool("leader-get", args="[<key>]", output="smart")
async def _leader_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Print application leadership settings."""
    key = _key_arg(call)
    if not key:
        return dict(ctx.leader_settings)
    return ctx.leader_settings.get(key)


@tool("leader-set", args="<key>=<value> [...]")
async def _leader_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Write application leadership settings."""
    settings = parse_key_values(call.args)
    if not ctx.leader:
        raise errors.PermissionDeniedError("cannot write settings: not the leader")
    if not settings:
        return
    await ctx.backend.leader_set(settings)
    ctx.leader_settings = bus.merge_settings(ctx.leader_settings, settings)
