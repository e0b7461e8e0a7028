"""Hook tools (`status-set`, `relation-get`, ...): the table, the hook context, the call.

A hook process runs the tools as executables (see `_hooktool`, the client); each call
arrives at the unit agent's socket (`_toolserver`) and is executed by `invoke` against the
`HookContext` of the hook that is running. Only that hook's context id is accepted.

The context (`_context`) serves reads from the remote state the hook started with (stable
within the hook) and buffers the writes Juju makes transactional until the hook succeeds;
the tools themselves live in `runecraft.agents.tools`, one module per family.
"""

from __future__ import annotations

from runecraft.agents import _context, tools

__all__ = [
    "TOOLS",
    "ActionRun",
    "ContextBackend",
    "HookContext",
    "HookRelation",
    "RelationView",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "invoke",
]

TOOLS = tools.TOOLS
ToolCall = tools.ToolCall
ToolResult = tools.ToolResult
ToolSpec = tools.ToolSpec
invoke = tools.invoke
ActionRun = _context.ActionRun
ContextBackend = _context.ContextBackend
HookContext = _context.HookContext
HookRelation = _context.HookRelation
RelationView = _context.RelationView
