"""What the unit agent records of each hook it runs (`schemas.hooks.HookRun`).

* `cause` says why the uniter chose the operation, from what the operation carries (the
  remote facts it was chosen for) and the local state before it ran.
* `recorded_env` keeps the hook's `JUJU_*` variables (and `CHARM_DIR`), with the hook's
  context token and credential-looking values redacted.
* `ToolCalls` collects a running hook's tool calls (the tool server adds each one), with
  secret content redacted and the whole bounded (`schemas.hooks` limits).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runecraft.agents import uniter
from runecraft.schemas import bus
from runecraft.schemas import hooks as hook_schema

__all__ = ["Ran", "ToolCalls", "cause", "recorded_env", "redact_value"]

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|credential|private|api[-_]?key", re.IGNORECASE
)
"""Names whose values are treated as credentials (environment variables, relation keys)."""
_PUBLIC = frozenset(
    {"JUJU_SECRET_ID", "JUJU_SECRET_LABEL", "JUJU_SECRET_REVISION", "JUJU_NOTICE_KEY"}
)
"""Variables named like credentials that only name things."""
_NEVER = frozenset({"JUJU_CONTEXT_ID"})
"""The hook's token for the unit agent's tool socket: never stored."""
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+:[^/@\s]+@")
_SECRET_OUTPUT = frozenset({"secret-get", "credential-get"})
"""Tools whose whole output is secret content."""
_MAX_ARGS = 64
"""Arguments kept of one call."""
_SECRET_ARGS = frozenset({"secret-add", "secret-set"})
"""Tools whose `key=value` arguments are secret content."""


def _short(sha: str) -> str:
    return sha[:12]


def _relation_cause(op: uniter.Operation) -> hook_schema.HookCause:
    name = f"{op.endpoint}:{op.relation_id}"
    unit = op.departing_unit or op.remote_unit
    summary = f"relation {name} {op.relation_event}"
    summary += f" by {unit}" if unit else f" with {op.remote_app}" if op.remote_app else ""
    if op.change_version:
        summary += f" (version {op.change_version})"
    details = {
        "relation_id": str(op.relation_id),
        "endpoint": op.endpoint,
        "event": op.relation_event,
        "remote_app": op.remote_app,
        "remote_unit": op.remote_unit,
        "departing_unit": op.departing_unit,
        "version": str(op.change_version),
    }
    return hook_schema.HookCause(
        kind="relation", summary=summary, details={k: v for k, v in details.items() if v}
    )


def _workload_cause(event: uniter.WorkloadEvent) -> hook_schema.HookCause:
    details = {
        "container": event.container,
        "event": event.kind,
        "notice_id": event.notice_id,
        "notice_key": event.notice_key,
        "check": event.check_name,
    }
    subject = event.notice_key or event.check_name
    summary = f"container {event.container}: {event.kind}" + (f" {subject}" if subject else "")
    return hook_schema.HookCause(
        kind="workload", summary=summary, details={k: v for k, v in details.items() if v}
    )


def _lifecycle(summary: str, **details: str) -> hook_schema.HookCause:
    return hook_schema.HookCause(kind="lifecycle", summary=summary, details=details)


def _hook_cause(
    op: uniter.Operation, local: uniter.LocalState, remote: bus.UnitRemoteState
) -> hook_schema.HookCause:
    hook = op.hook
    config = {"config_hash": op.config_hash}
    charm = {"charm": remote.charm.name, "charm_sha256": op.charm_sha}
    simple: dict[str, hook_schema.HookCause] = {
        uniter.INSTALL: _lifecycle(f"unit deployed ({remote.charm.name})", **charm),
        uniter.UPGRADE_CHARM: hook_schema.HookCause(
            kind="charm", summary=f"charm changed to {_short(op.charm_sha)}", details=charm
        ),
        uniter.CONFIG_CHANGED: hook_schema.HookCause(
            kind="config", summary=f"config hash {_short(op.config_hash)}", details=config
        ),
        uniter.START: _lifecycle("first config-changed ran"),
        uniter.STOP: _lifecycle("unit dying"),
        uniter.REMOVE: _lifecycle("unit stopped"),
        uniter.LEADER_ELECTED: hook_schema.HookCause(kind="leadership", summary="became leader"),
        uniter.LEADER_SETTINGS_CHANGED: hook_schema.HookCause(
            kind="leadership",
            summary=f"leader settings version {op.leader_settings_version}",
            details={"leader_settings_version": str(op.leader_settings_version)},
        ),
        uniter.UPDATE_STATUS: hook_schema.HookCause(
            kind="update-status",
            summary=f"every {remote.update_status_interval:g}s",
            details={"interval": f"{remote.update_status_interval:g}"},
        ),
    }
    if op.relation_id is not None:
        return _relation_cause(op)
    if op.workload is not None:
        return _workload_cause(op.workload)
    if op.secret_id:
        return hook_schema.HookCause(
            kind="secret",
            summary=f"secret {op.secret_id} revision {op.secret_revision}",
            details={
                "secret_id": op.secret_id,
                "label": op.secret_label,
                "revision": str(op.secret_revision),
            },
        )
    if op.storage_id:
        return hook_schema.HookCause(
            kind="storage", summary=f"storage {op.storage_id}", details={"storage": op.storage_id}
        )
    if hook == uniter.CONFIG_CHANGED and local.config_hash is None:
        return hook_schema.HookCause(
            kind="config", summary=f"config hash {_short(op.config_hash)} (first)", details=config
        )
    return simple.get(hook, _lifecycle(hook))


def cause(
    op: uniter.Operation, local: uniter.LocalState, remote: bus.UnitRemoteState
) -> hook_schema.HookCause:
    """Why `op` runs, given the local state before it (a failed hook run again is a retry,
    naming the attempt and the cause of the first run)."""
    if op.is_action:
        return hook_schema.HookCause(
            kind="action",
            summary=f"action {op.action_id} ({op.action_name})",
            details={"action_id": op.action_id, "action": op.action_name},
        )
    first = _hook_cause(op, local, remote)
    error = local.error
    if error is not None and error.op is not None and error.op.id == op.id:
        attempt = str(error.attempts + 1)
        return hook_schema.HookCause(
            kind="retry",
            summary=f"retry {attempt} of {first.summary}",
            details={**first.details, "attempt": attempt, "first_cause": first.kind},
        )
    return first


def redact_value(name: str, value: str) -> str:
    """`value` as it may be stored: redacted when `name` names a credential, else with any
    URL's `user:password@` made `user:[redacted]@`."""
    if name in _NEVER or (name not in _PUBLIC and _SECRET_NAME.search(name)):
        return hook_schema.REDACTED if value else ""
    return _URL_CREDENTIALS.sub(lambda match: _redact_userinfo(match.group(0)), value)


def _redact_userinfo(text: str) -> str:
    scheme, _, rest = text.partition("://")
    user = rest.split(":", 1)[0]
    return f"{scheme}://{user}:{hook_schema.REDACTED}@"


def recorded_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of a hook's environment worth keeping, redacted."""
    return {
        name: redact_value(name, value)
        for name, value in sorted(env.items())
        if name.startswith("JUJU_") or name == "CHARM_DIR"
    }


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"{hook_schema.TRUNCATED} {len(text) - limit} more characters"


def _redact_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: hook_schema.REDACTED
            if isinstance(key, str) and _SECRET_NAME.search(key) and item
            else _redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_json(item) for item in value]
    return value


def _redact_output(tool: str, args: Sequence[str], text: str) -> str:
    """Secret content out of a call's output: all of it for secret tools and for a read of
    one credential-looking key (`config-get admin-password`), else the values of such keys
    in a JSON answer."""
    named = any(_SECRET_NAME.search(arg) for arg in args if not arg.startswith("-"))
    if tool in _SECRET_OUTPUT or (named and tool.endswith("-get")):
        return hook_schema.REDACTED if text else ""
    if not _SECRET_NAME.search(text):
        return text
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return json.dumps(_redact_json(parsed)) + ("\n" if text.endswith("\n") else "")


def _redact_arg(tool: str, arg: str) -> str:
    key, equals, value = arg.partition("=")
    if equals and value and (tool in _SECRET_ARGS or _SECRET_NAME.search(key)):
        return f"{key}={hook_schema.REDACTED}"
    return arg


@dataclass
class ToolCalls:
    """A running hook's tool calls, redacted and bounded."""

    calls: list[hook_schema.ToolCallRecord] = field(default_factory=list)
    dropped: int = 0
    _budget: int = hook_schema.MAX_TOOL_BYTES

    def add(self, tool: str, args: Sequence[str], code: int, stdout: bytes, stderr: bytes) -> None:
        """Record one call (counted only once the bounds are reached)."""
        if len(self.calls) >= hook_schema.MAX_TOOL_CALLS or self._budget <= 0:
            self.dropped += 1
            return
        limit = min(hook_schema.MAX_TOOL_OUTPUT, self._budget)
        out = _redact_output(tool, args, stdout.decode("utf-8", "replace"))
        err = stderr.decode("utf-8", "replace")
        kept = [_cut(_redact_arg(tool, arg), limit) for arg in args[:_MAX_ARGS]]
        if len(args) > _MAX_ARGS:
            kept.append(f"{hook_schema.TRUNCATED} {len(args) - _MAX_ARGS} more arguments")
        record = hook_schema.ToolCallRecord(
            tool=tool,
            args=tuple(kept),
            exit_code=code,
            stdout=_cut(out, limit),
            stderr=_cut(err, limit),
        )
        self._budget -= (
            len(record.stdout) + len(record.stderr) + sum(len(a) for a in record.args) + 64
        )
        self.calls.append(record)


@dataclass(frozen=True)
class Ran:
    """What a run of a hook leaves for its record, beside its result."""

    started: float
    duration: float
    env: Mapping[str, str]
    calls: ToolCalls

    def record(
        self,
        unit: str,
        run_id: int,
        why: hook_schema.HookCause,
        *,
        hook: str,
        exit_code: int | None,
        outcome: str,
    ) -> bus.HookRun:
        """The run's record; raises `ValueError` (pydantic's) if it cannot be one."""
        return bus.HookRun.model_validate(
            {
                "unit": unit,
                "id": run_id,
                "hook": hook,
                "started": self.started,
                "duration": self.duration,
                "exit_code": exit_code,
                "outcome": outcome,
                "cause": why,
                "env": recorded_env(self.env),
                "tool_calls": tuple(self.calls.calls),
                "tool_calls_dropped": self.calls.dropped,
            }
        )
