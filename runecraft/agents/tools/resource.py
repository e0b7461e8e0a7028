"""`resource-get`: the local path of an application resource, downloaded on first use."""

from __future__ import annotations

from runecraft import errors
from runecraft.agents import _context, _resources
from runecraft.agents.tools._registry import ToolCall, tool

__all__: list[str] = []


@tool("resource-get", args="<resource name>", output="smart")
async def _resource_get(ctx: _context.HookContext, call: ToolCall) -> str:
    """Get the path to the locally cached resource file."""
    name = call.only_arg(missing="missing required resource name")
    resource = ctx.resources.get(name)
    if resource is None or ctx.resource_root is None or ctx.resource_fetch is None:
        raise errors.NotFoundError(f'could not download resource: resource "{name}" not found')
    try:
        path = await _resources.materialise(resource, ctx.resource_root, ctx.resource_fetch)
    except errors.RunecraftError as exc:
        raise errors.TemporaryError(f"could not download resource: {exc.message}") from exc
    return str(path)
