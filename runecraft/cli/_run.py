"""Pure parts of `rune run` and `rune show-task`: Juju's `key=value` parameters and the
task documents Juju (and jubilant) read back."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from runecraft import errors
from runecraft.schemas import api

__all__ = [
    "FINISHED",
    "failure_message",
    "juju_time",
    "parse_params",
    "task_document",
]

FINISHED = frozenset({"completed", "failed", "error", "aborted", "cancelled"})
"""Task statuses that will not change any more."""

_FAILED = frozenset({"failed", "error", "aborted", "cancelled"})


def _typed(text: str) -> Any:
    """A value as YAML reads it (`3` → 3, `true` → True), but dates and other non-JSON
    scalars stay the string the user typed (Go's YAML does not make dates either)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, bool | int | float | str | list | dict) or value is None:
        return value
    return text


def parse_params(
    pairs: Sequence[str], base: Mapping[str, Any] | None = None, *, string_args: bool = False
) -> dict[str, Any]:
    """`key=value` action parameters over those of a `--params` file.

    Values are parsed as YAML unless `string_args`; dotted keys build nested objects
    (`a.b=1` → `{"a": {"b": 1}}`), as `juju run` does.
    """
    params: dict[str, Any] = dict(base or {})
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise errors.UsageError(f'invalid parameter "{pair}": expected KEY=VALUE')
        value = text if string_args else _typed(text)
        *parents, leaf = key.split(".")
        target = params
        for parent in parents:
            child = target.get(parent)
            if not isinstance(child, dict):
                child = target[parent] = {}
            target = child
        target[leaf] = value
    return params


def juju_time(timestamp: float | None) -> str:
    """`2024-01-02 03:04:05 +0000 UTC`, as Juju prints task times."""
    if timestamp is None:
        return ""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def task_document(task: api.ActionInfo) -> dict[str, Any]:
    """One task as `juju run --format json` prints it under the unit's name (and
    `show-task` on its own): id, status, message, log, results, timing, unit."""
    document: dict[str, Any] = {"id": task.id, "status": task.status}
    if task.message:
        document["message"] = task.message
    document["log"] = [f"{juju_time(entry.timestamp)} {entry.message}" for entry in task.log]
    document["results"] = dict(task.results)
    timing = {"enqueued": juju_time(task.enqueued)}
    if task.started is not None:
        timing["started"] = juju_time(task.started)
    if task.completed is not None:
        timing["completed"] = juju_time(task.completed)
    document["timing"] = timing
    document["unit"] = task.unit
    return document


def failure_message(tasks: Sequence[api.ActionInfo]) -> str | None:
    """Juju's `the following task failed` text (jubilant matches `task failed`), or None."""
    failed = [t for t in tasks if t.status in _FAILED]
    if not failed:
        return None
    lines = []
    for task in failed:
        code = task.results.get("return-code")
        detail = f" with return code {code}" if code is not None else ""
        if task.message:
            detail += f": {task.message}"
        lines.append(f' id "{task.id}"{detail}')
    return (
        "the following task failed:\n"
        + "\n".join(lines)
        + "\n\nuse 'rune show-task' to inspect the failure"
    )
