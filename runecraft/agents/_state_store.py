"""Persist a unit's local state (`state.json` in the unit dir) so a restart resumes exactly.

Writes are atomic (temp file, fsync, rename, fsync of the directory): after a crash the file
holds either the old or the new state, never a torn one. The agent saves before and after
every operation step, which is what makes "a hook killed mid-run runs again; a finished hook
is not committed twice" true.

A running agent saves through a `StateSaver`: the two fsyncs of a write run in a worker
thread, not on the event loop the bus link, the heartbeat and every other unit share; and
records kept while a write is in flight replace one another, so the next write writes only
the latest. The agent awaits `settled()` where it must know the latest record is on disk
(before a hook starts, before a commit is sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from runecraft import errors
from runecraft.agents import uniter
from runecraft.schemas import bus

__all__ = ["FORMAT_VERSION", "StateSaver", "StateStore", "UnitRecord"]

FORMAT_VERSION = 3
_READABLE = (1, 2, 3)
"""Versions `load` understands (1 had no relations, commits or ports; 2 no workload events)."""


@dataclass(frozen=True, kw_only=True)
class UnitRecord:
    """Everything a unit agent must remember across restarts."""

    local: uniter.LocalState = dataclasses.field(default_factory=uniter.LocalState)
    workload: bus.StatusValue | None = None
    """Workload status last set by the charm or automatically (None = never set)."""
    app_status: bus.StatusValue | None = None
    """Application status last set by this unit as leader."""
    workload_version: str = ""
    pending_commits: tuple[bus.HookCommit, ...] = ()
    """Commits persisted and sent but not yet acknowledged by a snapshot's `commit_seq`."""
    ports: tuple[str, ...] = ()
    """The unit's open ports as committed (`80/tcp`, or `80/tcp@endpoint`)."""
    workload_events: tuple[uniter.WorkloadEvent, ...] = ()
    """Workload (Pebble) events waiting for their hooks, oldest first. Not in `local`: the
    watchers append while a hook runs, and the commit folds into `local` as it was."""
    workload_seq: int = 0
    """The last `WorkloadEvent.seq` handed out."""
    notice_cursors: dict[str, str] = dataclasses.field(default_factory=dict)
    """Container → `last-repeated` of the last Pebble notice seen (the `after=` of the next
    poll). Juju keeps it in memory and re-delivers notices after a restart; we do not."""
    report_seq_reserved: int = 0
    """Report numbers up to this one may have been handed out: a restarted agent counts on
    from here (reserved in blocks, so reporting costs no write each time)."""
    hook_runs: int = 0
    """The id of the newest hook run (`schemas.hooks.HookRun.id`): ids never repeat."""


def _plain(value: Any) -> Any:
    """`value` as JSON-ready data, in one walk: a dataclass as a dict of its fields, an enum
    as its value. (`dataclasses.asdict` deep-copies every leaf, then this walk ran again over
    its copy: that was most of the encoding, done on every save.)"""
    fields = getattr(type(value), "__dataclass_fields__", None)
    if fields is not None:
        return {name: _plain(getattr(value, name)) for name in fields}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _encode(record: UnitRecord) -> dict[str, Any]:
    def status(value: bus.StatusValue | None) -> dict[str, str] | None:
        return None if value is None else {"status": value.status, "message": value.message}

    return {
        "v": FORMAT_VERSION,
        "local": _plain(record.local),
        "workload": status(record.workload),
        "app_status": status(record.app_status),
        "workload_version": record.workload_version,
        "pending_commits": [c.model_dump(mode="json") for c in record.pending_commits],
        "ports": list(record.ports),
        "workload_events": _plain(record.workload_events),
        "workload_seq": record.workload_seq,
        "notice_cursors": dict(record.notice_cursors),
        "report_seq_reserved": record.report_seq_reserved,
        "hook_runs": record.hook_runs,
    }


def _decode_op(op: dict[str, Any] | None) -> uniter.Operation | None:
    if op is None:
        return None
    workload = op.get("workload")
    return uniter.Operation(
        **{
            **op,
            "kind": uniter.OpKind(op["kind"]),
            "step": uniter.Step(op["step"]),
            "workload": None if workload is None else uniter.WorkloadEvent(**workload),
        }
    )


def _decode_local(data: dict[str, Any]) -> uniter.LocalState:
    fields = dict(data)
    fields["operation"] = _decode_op(fields.get("operation"))
    err = fields.get("error")
    if err is not None:
        fields["error"] = uniter.HookError(**{**err, "op": _decode_op(err.get("op"))})
    fields["relations"] = {
        int(key): uniter.RelationState(**{**value, "members": dict(value.get("members", {}))})
        for key, value in fields.get("relations", {}).items()
    }
    fields["actions_done"] = tuple(fields.get("actions_done", ()))
    fields["secret_removes"] = tuple(fields.get("secret_removes", ()))
    fields["secret_timers"] = tuple(fields.get("secret_timers", ()))
    fields["storage_attached"] = tuple(fields.get("storage_attached", ()))
    return uniter.LocalState(**fields)


def _decode(data: dict[str, Any]) -> UnitRecord:
    if data.get("v") not in _READABLE:
        raise ValueError(f"unsupported state format {data.get('v')!r}")

    def status(value: dict[str, str] | None) -> bus.StatusValue | None:
        return None if value is None else bus.StatusValue(**value)

    return UnitRecord(
        local=_decode_local(data["local"]),
        workload=status(data.get("workload")),
        app_status=status(data.get("app_status")),
        workload_version=str(data.get("workload_version", "")),
        pending_commits=tuple(
            bus.HookCommit.model_validate(commit) for commit in data.get("pending_commits", ())
        ),
        ports=tuple(str(port) for port in data.get("ports", ())),
        workload_events=tuple(
            uniter.WorkloadEvent(**event) for event in data.get("workload_events", ())
        ),
        workload_seq=int(data.get("workload_seq", 0)),
        notice_cursors={str(k): str(v) for k, v in data.get("notice_cursors", {}).items()},
        report_seq_reserved=int(data.get("report_seq_reserved", 0)),
        hook_runs=int(data.get("hook_runs", 0)),
    )


class StateStore:
    """Load and atomically save one unit's `UnitRecord`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> UnitRecord:
        """The saved record, or a fresh one for a unit that never ran."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return UnitRecord()
        try:
            return _decode(json.loads(raw))
        except (ValueError, KeyError, TypeError, pydantic.ValidationError) as exc:
            raise errors.PermanentError(f"unit state {self.path} is unreadable: {exc}") from exc

    def save(self, record: UnitRecord) -> None:
        """Replace the saved record atomically and durably. On `OSError` (a full disk) the
        saved record is the old one, whole, and the partial new one is gone."""
        self.write(self.encode(record))

    @staticmethod
    def encode(record: UnitRecord) -> bytes:
        """The file's bytes for `record`."""
        return json.dumps(_encode(record), indent=1, sort_keys=True).encode()

    def write(self, payload: bytes) -> None:
        """`save` of encoded bytes (blocking: two fsyncs)."""
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()  # its blocks are what the disk lacks
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


Saved = Callable[[UnitRecord, OSError | None], None]
"""Told on the loop after each write: the record written, and the error if it failed."""


class StateSaver:
    """Saves a unit's records in a worker thread, the latest only.

    `keep(record)` returns at once; if no write is in flight one starts, else `record`
    replaces the one waiting (so N keeps during a write cost one write more, not N). The
    record is encoded on the loop when its write starts (records are immutable values, but
    the encoding walks them: not while the loop may build the next one).
    """

    def __init__(self, store: StateStore, saved: Saved) -> None:
        self.store = store
        self._saved = saved
        self._waiting: UnitRecord | None = None
        self._writer: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        self._settled.set()
        self.writes = 0
        """Writes attempted (a mechanism to observe: fewer than the records kept)."""

    def keep(self, record: UnitRecord) -> None:
        """Save `record` soon; it replaces any record still waiting for its write."""
        self._waiting = record
        if self._writer is None:
            self._settled.clear()
            self._writer = asyncio.get_running_loop().create_task(self._write_latest())

    async def settled(self) -> None:
        """Return once the latest record kept was written (or its write failed: `saved` was
        told which). Cancelling the caller does not cancel the write."""
        await self._settled.wait()

    async def _write_latest(self) -> None:
        try:
            while self._waiting is not None:
                record, self._waiting = self._waiting, None
                payload = self.store.encode(record)
                error: OSError | None = None
                try:
                    await asyncio.to_thread(self.store.write, payload)
                except OSError as exc:
                    error = exc
                self.writes += 1
                self._saved(record, error)
        finally:
            self._writer = None
            self._settled.set()
