"""Changes, tasks and notices: the async backbone of the API (pebble.md §3.4, §3.11).

A change groups tasks; its status is derived from theirs. Every status transition of a
change records a `change-update` notice, which is how the unit agent learns of check
failures. Waiting for a change and long-polling notices are asyncio waits, never polls.

Tasks run through `State.run`: each task is a coroutine (`handler(task)`); tasks of one lane
run in order, lanes in parallel, and a task also waits for the tasks it was told to wait for.
A failed task holds what is still pending in its lane and everything waiting on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import os
import re
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import _durations

__all__ = [
    "MAX_READY_CHANGES",
    "NOTICES_FILE",
    "PRUNE_WAIT",
    "READY",
    "STATUSES",
    "Change",
    "Notice",
    "NoticeError",
    "State",
    "Task",
    "format_time",
    "parse_time",
    "validate_custom_notice",
]

STATUSES = frozenset(
    {
        "Default",
        "Do",
        "Doing",
        "Done",
        "Abort",
        "Undo",
        "Undoing",
        "Undone",
        "Hold",
        "Error",
        "Wait",
    }
)
READY = frozenset({"Done", "Undone", "Hold", "Error"})
_PRIORITY = ("Abort", "Undoing", "Undo", "Doing", "Do", "Wait", "Error", "Undone", "Done", "Hold")
_MAX_TASK_LOG = 10
MAX_READY_CHANGES = 500
PRUNE_WAIT = datetime.timedelta(hours=24)
"""Ready changes are dropped this long after they became ready (Pebble's pruneWait)."""
_PRUNE_INTERVAL = datetime.timedelta(minutes=1)
"""At most one full pruning scan per interval (of the state's clock), see `State.prune`."""
NOTICES_FILE = ".rune-pebble.notices.json"
"""Under `$PEBBLE`; not Pebble's `.pebble.state`, whose format this is not."""
_NOTICES_VERSION = 1
_SAVE_DELAY = 0.5
"""Seconds change-update notices wait to be written, so a flapping check costs at most two
writes a second."""
_NOTICE_EXPIRE_AFTER = 7 * 24 * 3600.0
NOTICE_TYPES = frozenset({"change-update", "custom", "warning"})
_CUSTOM_KEY = re.compile(
    r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)+(/[a-z0-9]+(-[a-z0-9]+)*)+\Z"
)
_MAX_KEY_BYTES = 256
_MAX_DATA_BYTES = 4 * 1024
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)

logger = logging.getLogger(__name__)

TaskHandler = Callable[["Task"], Coroutine[Any, Any, None]]
StatusListener = Callable[["Change", str, str], None]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def format_time(moment: datetime.datetime) -> str:
    """Go's RFC3339Nano of a UTC time: microseconds, trailing zeros dropped, `Z`.

    Notices are filtered with `after=` values we emitted, so what we print must parse back
    to exactly what we store (microseconds, as stored)."""
    moment = moment.astimezone(datetime.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str) -> datetime.datetime:
    """An RFC3339 time with up to 9 fractional digits (truncated to microseconds)."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f'cannot parse "{text}" as an RFC3339 time')
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "")[:6].ljust(6, "0")
    if match.group(8):
        zone = datetime.UTC
    else:
        sign = -1 if match.group(9) == "-" else 1
        offset = datetime.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        zone = datetime.timezone(sign * offset)
    moment = datetime.datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=zone)
    return moment.astimezone(datetime.UTC)


def _log_time(moment: datetime.datetime) -> str:
    """Go's `time.RFC3339` (whole seconds), as task logs carry it."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Task:
    """One step of a change (`start`, `stop`, `exec`, `perform-check`, ...)."""

    def __init__(
        self,
        change: Change,
        task_id: str,
        kind: str,
        summary: str,
        lane: int,
        waits: Sequence[Task],
    ) -> None:
        self.id = task_id
        self.kind = kind
        self.summary = summary
        self.change = change
        self.lane = lane
        """0 is no lane; tasks in one lane run in the order they were added."""
        self.waits = tuple(waits)
        """Tasks that must be Done before this one runs."""
        self.data: dict[str, Any] = {}
        """Shown as the task's `data` (exec puts `exit-code` here)."""
        self.spawn_time = change._state.now()
        self.ready_time: datetime.datetime | None = None
        self._status = "Do"
        self._log: list[str] = []
        self._ready = asyncio.Event()
        self._abort_callbacks: list[Callable[[], None]] = []

    @property
    def status(self) -> str:
        return self._status

    @property
    def ready(self) -> bool:
        return self._status in READY

    def set_status(self, status: str) -> None:
        """Move to `Doing`, `Done`, `Error`, ...; wakes waiters and records notices."""
        if status not in STATUSES or status in ("Default", "Wait"):
            raise ValueError(f"invalid task status {status!r}")
        old = self._status
        if old == status or (old == "Abort" and status == "Done"):
            return
        self._status = status
        if status in READY and old not in READY:
            self.ready_time = self.change._state.now()
            self._ready.set()
        self.change._task_status_changed()

    async def wait(self, timeout: float | None = None) -> None:
        """Until this task is ready; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    def log(self, message: str, level: str = "INFO") -> None:
        """Append `<RFC3339> LEVEL message` to the task log (the last 10 are kept)."""
        self._log.append(f"{_log_time(self.change._state.now())} {level} {message}")
        del self._log[:-_MAX_TASK_LOG]

    @property
    def logs(self) -> Sequence[str]:
        return tuple(self._log)

    def fail(self, message: str) -> None:
        """Log `message` as ERROR and move to `Error` (the change's `err` names it); what is
        pending in this task's lane, and every task waiting on it, is held."""
        self.log(message, "ERROR")
        self.change._abort_tasks(self.change._halted_by(self))
        self.set_status("Error")

    def on_abort(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the change is aborted while this task is `Doing`."""
        self._abort_callbacks.append(callback)

    def _abort(self) -> None:
        if self._status == "Do":
            self.set_status("Hold")
        elif self._status == "Doing":
            self.set_status("Abort")
            for callback in self._abort_callbacks:
                callback()

    def _errors(self) -> list[str]:
        found = []
        for line in self._log:
            _, _, rest = line.partition(" ")
            if rest.startswith("ERROR "):
                found.append(rest[len("ERROR ") :])
        return found

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "summary": self.summary,
            "status": self._status,
            "progress": {"label": "", "done": 0 if self._status == "Do" else 1, "total": 1},
            "spawn-time": format_time(self.spawn_time),
        }
        if self._log:
            body["log"] = list(self._log)
        if self.ready_time is not None:
            body["ready-time"] = format_time(self.ready_time)
        if self.data:
            body["data"] = dict(self.data)
        return body


class Change:
    """A change: its tasks, derived status, `err`, data, and JSON as ops reads it."""

    def __init__(
        self,
        state: State,
        change_id: str,
        kind: str,
        summary: str,
        data: Mapping[str, Any] | None,
        notice_data: Mapping[str, str] | None,
    ) -> None:
        self.id = change_id
        self.kind = kind
        self.summary = summary
        self.data: dict[str, Any] = dict(data or {})
        """Shown as the change's `data`."""
        self.notice_data: dict[str, str] = dict(notice_data or {})
        self.service_names: tuple[str, ...] = ()
        """What `GET /v1/changes?for=<service>` matches."""
        self.spawn_time = state.now()
        self.ready_time: datetime.datetime | None = None
        self._state = state
        self._tasks: list[Task] = []
        self._explicit: str | None = None
        self._observed = "Default"
        self._recorded = "Default"
        self._ready = asyncio.Event()

    def add_task(self, kind: str, summary: str, lane: int = 0, waits: Iterable[Task] = ()) -> Task:
        """A new task (`Do`). In a lane (not 0) it also waits for the lane's previous task."""
        waiting = list(waits)
        if lane:
            earlier = [task for task in self._tasks if task.lane == lane]
            if earlier and earlier[-1] not in waiting:
                waiting.append(earlier[-1])
        task = Task(self, self._state._next_task_id(), kind, summary, lane, waiting)
        self._tasks.append(task)
        self._state._tasks[task.id] = task
        return task

    @property
    def tasks(self) -> Sequence[Task]:
        return tuple(self._tasks)

    @property
    def status(self) -> str:
        """The explicit status if one was set, `Hold` without tasks, else the first task
        status present in Pebble's priority order."""
        if self._explicit is not None:
            return self._explicit
        present = {task.status for task in self._tasks}
        for status in _PRIORITY:
            if status in present:
                return status
        return "Hold"

    @property
    def ready(self) -> bool:
        return self.status in READY

    def set_status(self, status: str) -> None:
        """Force a status (an empty replan is `Done` at once)."""
        if status not in STATUSES:
            raise ValueError(f"invalid change status {status!r}")
        self._explicit = None if status == "Default" else status
        self._status_changed()

    def abort(self) -> None:
        """Hold what has not started; abort (cancel) what is running."""
        self._abort_tasks(self._tasks)

    @property
    def err(self) -> str | None:
        """`cannot perform the following tasks:` with one line per logged task error."""
        if self.status != "Error":
            return None
        lines = [
            f"- {task.summary} ({error})"
            for task in self._tasks
            if task.status == "Error"
            for error in task._errors()
        ]
        if not lines:
            return (
                f'internal inconsistency: change "{self.kind}" in ErrorStatus '
                "with no task errors logged"
            )
        return "cannot perform the following tasks:\n" + "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        status = self.status
        body: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "summary": self.summary,
            "status": status,
            "ready": status in READY,
            "spawn-time": format_time(self.spawn_time),
        }
        err = self.err
        if err:
            body["err"] = err
        if self.ready_time is not None:
            body["ready-time"] = format_time(self.ready_time)
        if self._tasks:
            body["tasks"] = [task.to_json() for task in self._tasks]
        if self.data:
            body["data"] = dict(self.data)
        return body

    async def wait(self, timeout: float | None = None) -> None:
        """Until ready; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            await self._ready.wait()

    def _halted_by(self, failed: Task) -> list[Task]:
        """Tasks a failure holds: its lane's and, transitively, those waiting on them."""
        found: list[Task] = []
        queue = [failed]
        seen = {failed.id}
        lanes: set[int] = set()
        while queue:
            task = queue.pop()
            if task.lane and task.lane not in lanes:
                lanes.add(task.lane)
                queue.extend(t for t in self._tasks if t.lane == task.lane and t.id not in seen)
                seen.update(t.id for t in self._tasks if t.lane == task.lane)
            for other in self._tasks:
                if task in other.waits and other.id not in seen:
                    seen.add(other.id)
                    queue.append(other)
            if task is not failed:
                found.append(task)
        return found

    def _abort_tasks(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            task._abort()

    def _task_status_changed(self) -> None:
        self._status_changed()

    def _status_changed(self) -> None:
        status = self.status
        if status in READY and not self._ready.is_set():
            self.ready_time = self._state.now()
            self._ready.set()
            became_ready = True
        else:
            became_ready = False
        if status != self._observed:
            old, self._observed = self._observed, status
            self._state._status_changed(self, old, status)
        skip = status == self._recorded or (self._recorded, status) in (
            ("Doing", "Do"),
            ("Undoing", "Undo"),
        )
        if not skip:
            self._recorded = status
            self._state._change_notice(self)
        if became_ready:
            self._state._change_ready()


class Notice:
    """A notice, unique by (user-id, type, key)."""

    def __init__(
        self,
        notice_id: str,
        user_id: int | None,
        type: str,
        key: str,
        moment: datetime.datetime,
    ) -> None:
        self.id = notice_id
        self.user_id = user_id
        self.type = type
        self.key = key
        self.first_occurred = moment
        self.last_occurred = moment
        self.last_repeated = moment
        self.occurrences = 1
        self.last_data: dict[str, str] = {}
        self.repeat_after: float | None = None
        self.expire_after = _NOTICE_EXPIRE_AFTER

    def expired(self, now: datetime.datetime) -> bool:
        return self.last_occurred + datetime.timedelta(seconds=self.expire_after) < now

    def _identity(self) -> dict[str, Any]:
        """The fields the notices file and the API both carry, as the API prints them."""
        return {
            "id": self.id,
            "user-id": self.user_id,
            "type": self.type,
            "key": self.key,
            "first-occurred": format_time(self.first_occurred),
            "last-occurred": format_time(self.last_occurred),
            "last-repeated": format_time(self.last_repeated),
            "occurrences": self.occurrences,
        }

    def to_record(self) -> dict[str, Any]:
        """What the notices file keeps (durations in seconds, times as we print them)."""
        return {
            **self._identity(),
            "last-data": dict(self.last_data),
            "repeat-after": self.repeat_after,
            "expire-after": self.expire_after,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Notice:
        """The notice `to_record` wrote; ValueError, TypeError or KeyError if malformed."""
        user_id = record["user-id"]
        if user_id is not None and type(user_id) is not int:
            raise TypeError(f"bad user-id {user_id!r}")
        notice_id, kind, key = (str(record[name]) for name in ("id", "type", "key"))
        if not notice_id.isdigit() or kind not in NOTICE_TYPES or not key:
            raise ValueError(f"bad notice {notice_id!r} {kind!r} {key!r}")
        notice = cls(notice_id, user_id, kind, key, parse_time(record["first-occurred"]))
        notice.last_occurred = parse_time(record["last-occurred"])
        notice.last_repeated = parse_time(record["last-repeated"])
        notice.occurrences = int(record["occurrences"])
        notice.last_data = {str(k): str(v) for k, v in dict(record["last-data"]).items()}
        repeat_after = record["repeat-after"]
        notice.repeat_after = float(repeat_after) if repeat_after else None
        notice.expire_after = float(record["expire-after"])
        return notice

    def to_json(self) -> dict[str, Any]:
        body = self._identity()
        if self.last_data:
            body["last-data"] = dict(self.last_data)
        if self.repeat_after:
            body["repeat-after"] = _durations.format_duration(self.repeat_after)
        body["expire-after"] = _durations.format_duration(self.expire_after)
        return body


class NoticeError(ValueError):
    """A custom notice the API refuses (400 with this message)."""


def validate_custom_notice(key: str, data: Mapping[str, Any] | None) -> dict[str, str]:
    """Pebble's checks on `POST /v1/notices`: the key's form and size, the data's size and
    type. Returns the data as strings."""
    if not _CUSTOM_KEY.match(key):
        raise NoticeError(f'invalid key "{key}" (must be in "example.com/path" format)')
    if len(key.encode()) > _MAX_KEY_BYTES:
        raise NoticeError(f"key must be {_MAX_KEY_BYTES} bytes or less")
    if data is None:
        return {}
    if len(json.dumps(data).encode()) > _MAX_DATA_BYTES:
        raise NoticeError(f"total size of data must be {_MAX_DATA_BYTES} bytes or less")
    if not isinstance(data, Mapping) or not all(isinstance(v, str) for v in data.values()):
        raise NoticeError("cannot decode notice data: values must be strings")
    return {str(k): v for k, v in data.items()}


class State:
    """Everything the daemon remembers: changes and tasks in memory; notices and the id
    counters also in `path` (if given), so notice ids survive a restart as Pebble's do.

    A long-lived daemon does not grow without end: see `prune`. `clock` gives the time of
    everything recorded (tests move it)."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime.datetime] = _now,
        path: Path | None = None,
        save_delay: float = _SAVE_DELAY,
    ) -> None:
        self._clock = clock
        self._path = path
        self._save_delay = save_delay
        self._save_handle: asyncio.TimerHandle | None = None
        self._dirty = False
        self._changes: dict[str, Change] = {}
        self._tasks: dict[str, Task] = {}
        self._last_change = 0
        self._last_task = 0
        self._ready_count = 0
        self._pruned_at = clock()
        self._notices: dict[tuple[int | None, str, str], Notice] = {}
        self._last_notice = 0
        self._notice_event = asyncio.Event()
        self._listeners: list[StatusListener] = []
        self._runners: set[asyncio.Task[None]] = set()

    def now(self) -> datetime.datetime:
        return self._clock()

    # Changes and tasks.

    def new_change(
        self,
        kind: str,
        summary: str,
        data: Mapping[str, Any] | None = None,
        notice_data: Mapping[str, str] | None = None,
    ) -> Change:
        """A new change (status Hold until it has tasks); records a change-update notice."""
        self._last_change += 1
        change = Change(self, str(self._last_change), kind, summary, data, notice_data)
        self._changes[change.id] = change
        self._change_notice(change)
        return change

    def change(self, change_id: str) -> Change | None:
        return self._changes.get(change_id)

    def changes(self) -> list[Change]:
        """Every change, oldest first."""
        return list(self._changes.values())

    def task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def wait_change(self, change_id: str, timeout: float | None) -> Change:
        """The change once ready; TimeoutError after `timeout` seconds (KeyError if unknown)."""
        change = self._changes.get(change_id)
        if change is None:
            raise KeyError(change_id)
        await change.wait(timeout)
        return change

    def add_status_listener(self, listener: StatusListener) -> None:
        """Call `listener(change, old, new)` on every change status transition, at once."""
        self._listeners.append(listener)

    def run(self, change: Change, handler: TaskHandler) -> None:
        """Run the change's tasks in the background with `handler(task)`.

        A task runs once the tasks it waits for are Done; it is `Doing` while the handler
        runs, `Done` when it returns, failed with the exception's text when it raises, and
        `Hold` when the change was aborted under it (the handler is cancelled)."""
        runner = asyncio.get_running_loop().create_task(self._run_change(change, handler))
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)

    async def close(self) -> None:
        """Cancel every running task handler (the daemon is stopping), then write the
        notices still waiting to be written."""
        runners = list(self._runners)
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        self.flush()

    # Pruning.

    def prune(self) -> None:
        """Pebble's pruning: drop changes (with their tasks) ready for over `PRUNE_WAIT`,
        then the oldest ready ones beyond `MAX_READY_CHANGES`, and expired notices. Changes
        not ready are never dropped.

        It runs where the state grows, so growth stays bounded without a timer: the ready
        limit is kept each time a change becomes ready (dropping from the oldest end, so
        cheaply), and the full scan runs at most once per `_PRUNE_INTERVAL` when a change
        becomes ready or a notice is added. Lookups skip expired notices in between."""
        now = self.now()
        self._pruned_at = now
        old = [
            change
            for change in self._changes.values()
            if change.ready
            and change.ready_time is not None
            and change.ready_time < now - PRUNE_WAIT
        ]
        for change in old:
            self._drop(change)
        self._drop_excess_ready()
        expired = [unique for unique, notice in self._notices.items() if notice.expired(now)]
        for unique in expired:
            del self._notices[unique]
        if expired:
            self._notices_changed(urgent=False)

    def _maybe_prune(self) -> None:
        if self.now() - self._pruned_at >= _PRUNE_INTERVAL:
            self.prune()

    def _change_ready(self) -> None:
        self._ready_count += 1
        self._maybe_prune()
        self._drop_excess_ready()

    def _drop_excess_ready(self) -> None:
        excess = self._ready_count - MAX_READY_CHANGES
        if excess <= 0:
            return
        victims: list[Change] = []
        for change in self._changes.values():  # oldest first
            if len(victims) >= excess:
                break
            if change.ready:
                victims.append(change)
        for change in victims:
            self._drop(change)

    def _drop(self, change: Change) -> None:
        del self._changes[change.id]
        for task in change.tasks:
            self._tasks.pop(task.id, None)
        if change.ready_time is not None:
            self._ready_count -= 1

    # Persistence of notices.

    def load(self) -> None:
        """Read back the notices and id counters `path` holds (if any). A file that cannot
        be read or parsed is logged and ignored: the daemon starts afresh, as it would
        without the file."""
        if self._path is None:
            return
        try:
            text = self._path.read_text()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("Cannot read notices from %s (ignored): %s", self._path, exc)
            return
        try:
            counters, notices = _parse_notices_file(text)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("Cannot parse notices in %s (ignored): %r", self._path, exc)
            return
        now = self.now()
        for notice in notices:
            if not notice.expired(now):
                self._notices[(notice.user_id, notice.type, notice.key)] = notice
        ids = [int(notice.id) for notice in notices]
        self._last_notice = max(self._last_notice, counters["notice"], *ids, 0)
        self._last_change = max(self._last_change, counters["change"])
        self._last_task = max(self._last_task, counters["task"])

    def flush(self) -> None:
        """Write the notices now if they changed since the last write."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
        if self._path is None or not self._dirty:
            return
        self._dirty = False
        record = {
            "version": _NOTICES_VERSION,
            "last-notice-id": self._last_notice,
            "last-change-id": self._last_change,
            "last-task-id": self._last_task,
            "notices": [notice.to_record() for notice in self._notices.values()],
        }
        try:
            _write_atomically(self._path, json.dumps(record, separators=(",", ":")).encode())
        except OSError as exc:
            logger.warning("Cannot write notices to %s: %s", self._path, exc)

    def _notices_changed(self, *, urgent: bool) -> None:
        """Write at once when `urgent` (a notice someone will look up by id), else within
        `save_delay` seconds, coalescing what happens in between."""
        if self._path is None:
            return
        self._dirty = True
        if urgent:
            self.flush()
            return
        if self._save_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._save_handle = loop.call_later(self._save_delay, self.flush)

    async def _run_change(self, change: Change, handler: TaskHandler) -> None:
        async with asyncio.TaskGroup() as group:
            for task in change.tasks:
                group.create_task(self._run_task(task, handler))

    async def _run_task(self, task: Task, handler: TaskHandler) -> None:
        for waited in task.waits:
            await waited._ready.wait()
        if task.status != "Do":
            return
        if any(waited.status != "Done" for waited in task.waits):
            task.set_status("Hold")
            return
        task.set_status("Doing")
        work = asyncio.get_running_loop().create_task(handler(task))

        def cancel() -> None:
            work.cancel()

        task.on_abort(cancel)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            if not work.done():
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                raise
            if task.status == "Abort":
                task.set_status("Hold")
            return
        except Exception as exc:
            if task.status in ("Doing", "Abort"):
                task.fail(str(exc) or type(exc).__name__)
            return
        if task.status == "Doing":
            task.set_status("Done")
        elif task.status == "Abort":
            task.set_status("Hold")

    def _next_task_id(self) -> str:
        self._last_task += 1
        return str(self._last_task)

    def _status_changed(self, change: Change, old: str, new: str) -> None:
        for listener in self._listeners:
            listener(change, old, new)

    def _change_notice(self, change: Change) -> None:
        data = {"kind": change.kind, **change.notice_data}
        self.add_notice(user_id=None, type="change-update", key=change.id, data=data)

    # Notices.

    def add_notice(
        self,
        *,
        user_id: int | None,
        type: str,
        key: str,
        data: Mapping[str, str] | None = None,
        repeat_after: float | None = None,
    ) -> Notice:
        """Record an occurrence; `last-repeated` moves (and long-polls wake) only for a new
        notice or when `repeat_after` is unset or has elapsed since the last repeat."""
        if type not in NOTICE_TYPES or not key:
            raise ValueError(f"cannot add {type} notice with key {key!r}")
        now = self.now()
        unique = (user_id, type, key)
        notice = self._notices.get(unique)
        fresh = notice is None or notice.expired(now)
        if notice is None or fresh:
            self._last_notice += 1
            notice = Notice(str(self._last_notice), user_id, type, key, now)
            self._notices[unique] = notice
        else:
            notice.occurrences += 1
            if not repeat_after or now > notice.last_repeated + datetime.timedelta(
                seconds=repeat_after
            ):
                notice.last_repeated = now
                fresh = True
        notice.last_occurred = now
        notice.last_data = dict(data or {})
        notice.repeat_after = repeat_after or None
        if fresh:
            self._notice_event.set()
            self._notice_event = asyncio.Event()
        self._maybe_prune()
        self._notices_changed(urgent=type != "change-update")
        return notice

    def notice(self, notice_id: str) -> Notice | None:
        now = self.now()
        for notice in self._notices.values():
            if notice.id == notice_id and not notice.expired(now):
                return notice
        return None

    def notices(
        self,
        *,
        user_id: int | None = None,
        types: Sequence[str] = (),
        keys: Sequence[str] = (),
        after: datetime.datetime | None = None,
    ) -> list[Notice]:
        """Notices matching: `user_id` (theirs plus public ones; None for every user's),
        any of `types`, any of `keys`, `last-repeated` strictly after `after`; oldest
        repeat first."""
        now = self.now()
        found = [
            notice
            for notice in self._notices.values()
            if not notice.expired(now)
            and (user_id is None or notice.user_id is None or notice.user_id == user_id)
            and (not types or notice.type in types)
            and (not keys or notice.key in keys)
            and (after is None or notice.last_repeated > after)
        ]
        return sorted(found, key=lambda notice: (notice.last_repeated, int(notice.id)))

    async def wait_notices(
        self,
        *,
        timeout: float,
        user_id: int | None = None,
        types: Sequence[str] = (),
        keys: Sequence[str] = (),
        after: datetime.datetime | None = None,
    ) -> list[Notice]:
        """As `notices`, waiting up to `timeout` seconds for one to match (then `[]`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._notice_event
            found = self.notices(user_id=user_id, types=types, keys=keys, after=after)
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                return found
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await event.wait()


def _parse_notices_file(text: str) -> tuple[dict[str, int], list[Notice]]:
    """The id counters and notices of a notices file; ValueError (or TypeError, KeyError)
    if it is not one we wrote."""
    record = json.loads(text)
    if not isinstance(record, dict) or record.get("version") != _NOTICES_VERSION:
        raise ValueError("not a notices file of a known version")
    counters = {name: record[f"last-{name}-id"] for name in ("notice", "change", "task")}
    if not all(type(value) is int and value >= 0 for value in counters.values()):
        raise ValueError(f"bad id counters {counters!r}")
    return counters, [Notice.from_record(item) for item in record["notices"]]


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (mode 0600): a reader sees the old file or the new one."""
    temp = path.with_name(f"{path.name}.{os.getpid()}.new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
