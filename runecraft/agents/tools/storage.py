"""Storage tools: `storage-list`, `storage-get`, `storage-add` (charm-contract §4.3).

Reads come from the instances attached when the hook started; `storage-add` is buffered
and committed with the hook (the controller attaches the new instances and the unit then
runs their `-storage-attached` hooks).
"""

from __future__ import annotations

from typing import Any

from runecraft import errors
from runecraft.agents import _context, _toolargs
from runecraft.agents.tools._registry import ToolCall, tool
from runecraft.schemas import charm as charm_schema

__all__: list[str] = []

STORAGE_KEYS = ("kind", "location")


@tool("storage-list", args="[<storage-name>]", output="smart")
async def _storage_list(ctx: _context.HookContext, call: ToolCall) -> list[str]:
    """List storage attached to the unit."""
    name = call.optional_arg("")
    return [sid for sid in ctx.storage if not name or sid.partition("/")[0] == name]


@tool(
    "storage-get",
    args="[<key>]",
    flags=(
        _toolargs.Flag(
            names=("s",), default="", help="specify a storage instance by id (default: the hook's)"
        ),
    ),
    output="smart",
)
async def _storage_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Print information for the storage instance with the specified id."""
    key = call.optional_arg("")
    storage_id = str(call.flag("s")) or ctx.storage_id
    if not storage_id:
        raise errors.UsageError("no storage instance specified")
    view = ctx.storage.get(storage_id)
    if view is None:
        spelled = call.spelled.get("s", "-s")
        raise errors.UsageError(
            f'invalid value "{storage_id}" for option {spelled}: storage instance '
            f'"{storage_id}" not found'
        )
    values = {"kind": view.kind, "location": view.location}
    if key:
        if key not in values:
            raise errors.NotFoundError(
                f'invalid storage attribute "{key}": expected one of {", ".join(STORAGE_KEYS)}'
            )
        return values[key]
    return values


def _declared(ctx: _context.HookContext) -> dict[str, charm_schema.StorageSpec]:
    raw = ctx.metadata().get("storage")
    if not isinstance(raw, dict):
        return {}
    return {
        str(name): charm_schema.StorageSpec.model_validate(spec or {})
        for name, spec in raw.items()
        if isinstance(spec, dict)
    }


@tool("storage-add", args="<charm storage name>[=count] ...")
async def _storage_add(ctx: _context.HookContext, call: ToolCall) -> None:
    """Add storage instances."""
    if not call.args:
        raise errors.UsageError("storage add requires a storage directive")
    declared = _declared(ctx)
    wanted: dict[str, int] = {}
    for arg in call.args:
        name, sep, text = arg.partition("=")
        try:
            count = int(text) if sep else 1
        except ValueError:
            raise errors.UsageError(f'cannot parse count "{text}" in "{arg}"') from None
        if count < 1:
            raise errors.UsageError(f'count must be at least 1, got {count} in "{arg}"')
        if name not in declared:
            raise errors.NotFoundError(f'charm storage "{name}" not found')
        wanted[name] = wanted.get(name, 0) + count
    for name, count in wanted.items():
        have = sum(1 for sid in ctx.storage if sid.partition("/")[0] == name)
        pending = ctx.storage_adds.get(name, 0)
        _, high = declared[name].count_range
        if high is not None and have + pending + count > high:
            raise errors.InvalidSpecError(
                f'cannot add {count} "{name}" storage: the charm allows at most {high} '
                f"(the unit has {have + pending})"
            )
    for name, count in wanted.items():
        ctx.storage_adds[name] = ctx.storage_adds.get(name, 0) + count
