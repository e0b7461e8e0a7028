"""Relation tools: `relation-ids`, `relation-list`, `relation-get`, `relation-set`,
`relation-model-get` (charm-contract §4.3, §6).

Reads come from the hook's context (remote data as of the hook's start, own bags with this
hook's uncommitted writes); `relation-set` only buffers. Error texts are the ones ops maps:
`relation not found` (→ `RelationNotFoundError`), `permission denied` for a follower reading
its own non-peer application bag, `cannot write relation settings` for a follower writing
any application bag.
"""

from __future__ import annotations

from typing import Any

from runecraft import errors
from runecraft.agents import _context, _toolargs
from runecraft.agents.tools._registry import (
    ToolCall,
    bool_flag,
    no_more,
    parse_key_values,
    read_settings_file,
    relation_flag,
    relation_id,
    require_relation,
    tool,
)
from runecraft.schemas import bus

__all__ = ["MAX_SETTINGS_BYTES"]

MAX_SETTINGS_BYTES = 16 * 1024 * 1024
"""Largest total of keys and values in one relation bag (Juju `MaxRelationSettingsSize`)."""

PERMISSION_DENIED = "permission denied"
CANNOT_WRITE = "cannot write relation settings"
NO_TARGET = "no unit or application specified"


@tool("relation-ids", args="[<name>]", output="smart")
async def _relation_ids(ctx: _context.HookContext, call: ToolCall) -> list[str]:
    """List all relation ids for a relation name."""
    if call.args:
        name = call.args[0]
    elif ctx.relation is not None:
        name = ctx.relation.endpoint
    else:
        raise errors.UsageError("no endpoint name specified")
    no_more(call.args[1:])
    broken = ctx.relation.relation_id if ctx.relation and _is_broken_hook(ctx) else None
    views = sorted(ctx.relations.values(), key=lambda view: view.id)
    return [view.name for view in views if view.endpoint == name and view.id != broken]


def _bag_flags(app_help: str, *more: _toolargs.Flag) -> tuple[_toolargs.Flag, ...]:
    """`-r` (which relation) and `--app` (its application bag rather than a unit's)."""
    return (relation_flag(), bool_flag("app", help=app_help), *more)


def _is_broken_hook(ctx: _context.HookContext) -> bool:
    return ctx.relation is not None and ctx.hook.endswith("-relation-broken")


@tool(
    "relation-list",
    flags=_bag_flags("List remote application instead of participating units"),
    output="smart",
)
async def _relation_list(ctx: _context.HookContext, call: ToolCall) -> Any:
    """List relation units."""
    rid = require_relation(ctx, call)
    no_more(call.args)
    view = ctx.relation_view(rid)
    if call.flag("app"):
        return view.remote_app
    return list(view.members)


def _target(ctx: _context.HookContext, call: ToolCall) -> tuple[str, bool]:
    """Juju's `determineUnitOrAppName`: (unit or app name, read the app bag)."""
    app = bool(call.flag("app"))
    rest = call.args[1:]
    if rest:
        no_more(rest[1:])
        supplied = rest[0]
        if app:
            return supplied.partition("/")[0], True
        return supplied, False
    hook_relation = ctx.relation
    if app:
        if hook_relation is None or not hook_relation.remote_app:
            raise errors.UsageError(NO_TARGET)
        return hook_relation.remote_app, True
    if hook_relation is not None and hook_relation.remote_unit:
        return hook_relation.remote_unit, False
    if hook_relation is not None and hook_relation.remote_app:
        return hook_relation.remote_app, True
    raise errors.UsageError(NO_TARGET)


def _read_bag(ctx: _context.HookContext, rid: int, target: str, app: bool) -> dict[str, str] | Any:
    view = ctx.relation_view(rid)
    if target == ctx.unit:
        return ctx.own_unit_bag(rid)
    if app:
        if target == ctx.application:
            if ctx.leader:
                return ctx.own_app_bag(rid)
            if view.peer:
                committed = view.local_app_data
                return dict(committed if committed is not None else view.app_data)
            raise errors.PermissionDeniedError(PERMISSION_DENIED)
        if target != view.remote_app:
            raise errors.NotFoundError(f'application "{target}" is not in relation "{view.name}"')
        return dict(view.app_data)
    if "/" not in target:
        raise errors.InvalidSpecError("expected unit name, got application name")
    bag = view.unit_data.get(target)
    if bag is None:
        raise errors.NotFoundError(
            f'cannot read settings for unit "{target}" in relation "{view.name}": '
            f'unit "{target}": settings not found'
        )
    return dict(bag)


@tool(
    "relation-get",
    args="[<key> [<unit id>]]",
    flags=_bag_flags("Get the relation data for the overall application, not just a unit"),
    output="smart",
)
async def _relation_get(ctx: _context.HookContext, call: ToolCall) -> Any:
    """Get relation settings."""
    key = call.args[0] if call.args else ""
    if key == "-":
        key = ""
    rid = require_relation(ctx, call)
    target, app = _target(ctx, call)
    bag = _read_bag(ctx, rid, target, app)
    if key:
        return bag.get(key)
    return bag


@tool(
    "relation-set",
    args="key=value [key=value ...]",
    flags=_bag_flags(
        "pick whether you are setting application or unit relation data",
        _toolargs.Flag(names=("file",), default="", help="file containing key-value pairs"),
        _toolargs.Flag(names=("format",), default="", help="deprecated format flag"),
    ),
)
async def _relation_set(ctx: _context.HookContext, call: ToolCall) -> None:
    """Set relation settings."""
    rid = require_relation(ctx, call)
    overrides = parse_key_values(call.args)
    if call.flag("format"):
        call.notes.append('--format flag deprecated for command "relation-set"')
    settings: dict[str, str] = {}
    if call.flag("file"):
        settings = read_settings_file(call.read(call.flag("file")))
    settings.update(overrides)
    ctx.relation_view(rid)
    app = bool(call.flag("app"))
    if app and not ctx.leader:
        raise errors.PermissionDeniedError(CANNOT_WRITE)
    current = ctx.own_app_bag(rid) if app else ctx.own_unit_bag(rid)
    merged = bus.merge_settings(current, settings)
    size = sum(len(k.encode()) + len(v.encode()) for k, v in merged.items())
    if size > MAX_SETTINGS_BYTES:
        raise errors.InvalidSpecError(
            f"relation data of {size} bytes exceeds the limit of {MAX_SETTINGS_BYTES} bytes"
        )
    ctx.set_relation(rid, settings, app=app)


@tool("relation-model-get", flags=(relation_flag(),), output="smart")
async def _relation_model_get(ctx: _context.HookContext, call: ToolCall) -> dict[str, str]:
    """Get details about the model hosting a related application."""
    no_more(call.args)
    rid = relation_id(ctx, call)
    if rid is None:
        raise errors.UsageError("no relation id specified")
    view = ctx.relation_view(rid)
    return {"uuid": view.remote_model_uuid or ctx.model_uuid}
