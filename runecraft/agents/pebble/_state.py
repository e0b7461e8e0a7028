"""Changes, tasks and notices: the async backbone of the API (pebble.md §3.4, §3.11).

A change groups tasks; its status is derived from theirs. Every status transition of a
change records a `change-update` notice, which is how the unit agent learns of check
failures. Waiting for a change and long-polling notices are asyncio waits, never polls.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Change", "Notice", "State", "Task"]

READY = frozenset({"Done", "Undone", "Hold", "Error"})


class Task:
    """One step of a change (`start`, `stop`, `exec`, `perform-check`, ...)."""

    id: str
    kind: str
    summary: str
    change: Change
    data: dict[str, Any]
    """Shown as the task's `data` (exec puts `exit-code` here)."""

    @property
    def status(self) -> str:
        raise NotImplementedError

    def set_status(self, status: str) -> None:
        """Move to `Doing`, `Done`, `Error`, ...; wakes waiters and records notices."""
        raise NotImplementedError

    def log(self, message: str, level: str = "INFO") -> None:
        """Append `<RFC3339> LEVEL message` to the task log (the last 10 are kept)."""
        raise NotImplementedError

    def fail(self, message: str) -> None:
        """Log `message` as ERROR and move to `Error` (the change's `err` names it)."""
        raise NotImplementedError


class Change:
    """A change: its tasks, derived status, `err`, data, and JSON as ops reads it."""

    id: str
    kind: str
    summary: str
    data: dict[str, Any]

    def add_task(self, kind: str, summary: str, lane: int = 0) -> Task:
        raise NotImplementedError

    @property
    def tasks(self) -> Sequence[Task]:
        raise NotImplementedError

    @property
    def status(self) -> str:
        raise NotImplementedError

    @property
    def ready(self) -> bool:
        return self.status in READY

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


class Notice:
    """A notice, unique by (user-id, type, key)."""

    id: str
    user_id: int | None
    type: str
    key: str
    last_repeated: datetime.datetime

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


class State:
    """Everything the daemon remembers in memory: changes, tasks, notices."""

    def new_change(
        self,
        kind: str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        notice_data: Mapping[str, str] | None = None,
    ) -> Change:
        """A new change (status Hold until it has tasks); records a change-update notice."""
        raise NotImplementedError

    def change(self, change_id: str) -> Change | None:
        raise NotImplementedError

    def task(self, task_id: str) -> Task | None:
        raise NotImplementedError

    async def wait_change(self, change_id: str, timeout: float | None) -> Change:
        """The change once ready; TimeoutError after `timeout` seconds."""
        raise NotImplementedError

    def add_notice(
        self,
        *,
        user_id: int | None,
        type: str,
        key: str,
        data: Mapping[str, str] | None = None,
        repeat_after: float | None = None,
    ) -> Notice:
        raise NotImplementedError
