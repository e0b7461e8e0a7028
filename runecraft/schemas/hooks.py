"""The record of one hook run: what ran, when, for how long, how it ended and why.

The unit agent sends one `HookRun` per hook or action it ran (on the bus, beside the hook's
commit and report); the controller keeps the newest `KEEP_PER_UNIT` of each unit, and
`rune hooks`, `rune show-hook` and `rune replay` read them back. What a record may hold is
bounded here so that one always fits a bus message: the environment keeps only the hook's
`JUJU_*` variables (credential-looking values redacted, never the hook's context token), and
tool calls are cut at `MAX_TOOL_CALLS` and `MAX_TOOL_BYTES`, a cut marked by `TRUNCATED`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "HOOK_TOOLS",
    "KEEP_PER_UNIT",
    "MAX_TOOL_BYTES",
    "MAX_TOOL_CALLS",
    "MAX_TOOL_OUTPUT",
    "REDACTED",
    "TRUNCATED",
    "HookCause",
    "HookRun",
    "HookRunDetail",
    "HookRunSummary",
    "ToolCallRecord",
]

KEEP_PER_UNIT = 200
"""Hook runs the controller keeps per unit; older ones are pruned as new ones arrive."""
MAX_TOOL_CALLS = 500
"""Tool calls recorded per hook run; later ones are only counted (`tool_calls_dropped`)."""
MAX_TOOL_OUTPUT = 4096
"""Characters kept of one call's stdout, of its stderr, and of one argument."""
MAX_TOOL_BYTES = 256 * 1024
"""Characters of arguments and output recorded over all of one run's calls."""
REDACTED = "[redacted]"
TRUNCATED = "[truncated]"
"""Ends a value that was cut."""

HOOK_TOOLS = (
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "credential-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "juju-reboot",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "resource-get",
    "secret-add",
    "secret-get",
    "secret-grant",
    "secret-ids",
    "secret-info-get",
    "secret-remove",
    "secret-revoke",
    "secret-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
    "storage-add",
    "storage-get",
    "storage-list",
    "unit-get",
)
"""Every hook tool a unit agent serves (a replay answers each of them)."""

Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
"""An exit code (the database keeps 32 bits)."""
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Outcome = Literal["succeeded", "failed", "missing"]
"""`missing`: the charm has no handler for the hook (skipped, counts as success)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ToolCallRecord(_Frozen):
    """One hook-tool call of a run: its name, arguments, exit code and (bounded) output."""

    tool: str
    args: tuple[str, ...] = ()
    exit_code: Int32
    stdout: str = ""
    stderr: str = ""


class HookCause(_Frozen):
    """The change the unit agent ran the hook for, as it knew it when it chose the hook."""

    kind: str
    """`lifecycle`, `config`, `relation`, `leadership`, `action`, `workload`, `secret`,
    `storage`, `charm`, `update-status` or `retry`."""
    summary: str
    """One line for a table: `config hash 3f2a9c01b7de`, `relation db:3 joined by db/0`."""
    details: dict[str, str] = Field(default_factory=dict)
    """The facts behind it (`relation_id`, `remote_unit`, `config_hash`, `action_id`, …)."""


class HookRunSummary(_Frozen):
    """One row of `rune hooks`."""

    id: Count
    """Per unit, increasing with every run (a retry of a failed hook is a new run)."""
    unit: str = Field(max_length=160)
    hook: str = Field(max_length=256)
    """The hook name, or `action NAME` for an action."""
    started: Seconds
    """Wall-clock seconds (Unix time) the hook started."""
    duration: Seconds
    """Seconds it ran."""
    exit_code: Int32 | None = None
    """None when no process ran (a missing handler, a handler that could not start)."""
    outcome: Outcome
    cause: HookCause


class HookRunDetail(HookRunSummary):
    """`rune show-hook`: a run with its environment and the tool calls it made."""

    env: dict[str, str] = Field(default_factory=dict)
    tool_calls: tuple[ToolCallRecord, ...] = ()
    tool_calls_dropped: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0
    """Calls beyond the record's bounds, counted only."""


class HookRun(HookRunDetail):
    """The bus message: a unit agent's record of one run (the controller stores it once per
    unit and id; a repeat is ignored)."""

    kind: Literal["hook-run"] = "hook-run"
