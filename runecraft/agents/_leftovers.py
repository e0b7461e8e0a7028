"""Processes an agent starts that must not outlive it: hooks, actions, `juju exec` commands
and hook fork servers.

Each runs as the leader of a process group of its own. The group id and the leader's start
time (`/proc/<pid>/stat`, clock ticks since boot) are written to `<dir>/<pgid>` before a
spawned hook runs (it waits at a gate in `hookrunner` until then; an agent that dies first
leaves it nothing to run), and for a forked hook or a fork server as soon as its pid is
known, before the agent awaits anything; they are removed once it ended (or the agent
stopped it). An agent that stops cleanly leaves no record; one killed with SIGKILL
leaves its running hook's record behind, and the next agent calls `reap()` before it runs
any hook: every group on record is killed (SIGKILL, all its members) and waited for, so the
hook that re-runs never runs beside its predecessor.

A record is trusted only while it still names the same group: if the leader's pid now
belongs to a process that started at another time, the pid was reused and nothing is
killed; a member of the group that started before the recorded leader cannot be of it.

Pebble daemons of local workloads are not recorded: they are the workload, and have their
own pid file (`_pebble_daemon`). A process that left its group (`setsid`) escapes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

__all__ = ["REAP_TIMEOUT", "ProcessRecords", "start_time"]

logger = structlog.get_logger(__name__)

REAP_TIMEOUT = 10.0
"""Longest `reap()` waits for killed groups to be gone (SIGKILL is not refusable, but a
process in uninterruptible sleep ends only when its I/O does)."""

_POLL = 0.02
"""Seconds between looks at `/proc` while waiting (the processes are not our children)."""


@dataclass(frozen=True)
class _Proc:
    pid: int
    state: str
    pgid: int
    started: int


def _stat(pid: int) -> _Proc | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    try:
        return _Proc(pid=pid, state=fields[0], pgid=int(fields[2]), started=int(fields[19]))
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if there is no such process."""
    proc = _stat(pid)
    return None if proc is None else proc.started


def _members(pgid: int, started: int) -> list[int]:
    """Live (not zombie) processes of group `pgid` that started no earlier than its leader."""
    found = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            proc = _stat(int(entry.name))
            if proc is None or proc.pgid != pgid or proc.state == "Z":
                continue
            if proc.started >= started:
                found.append(proc.pid)
    return found


class ProcessRecords:
    """The records of one agent's running process groups, kept in a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, pgid: int, what: str) -> None:
        """Record the group of the process `pgid` just spawned (a group leader)."""
        started = start_time(pgid)
        if started is None:  # gone already: nothing can be left of it
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / str(pgid)
        partial = path.with_name(f".{pgid}.new")
        partial.write_text(f"{started} {what}\n", encoding="utf-8")
        partial.replace(path)

    def discard(self, pgid: int) -> None:
        """The group's leader ended (or was stopped): forget it."""
        with contextlib.suppress(FileNotFoundError):
            (self.directory / str(pgid)).unlink()

    def recorded(self) -> dict[int, tuple[int, str]]:
        """Group id → (leader start time, what it was) of every record."""
        found: dict[int, tuple[int, str]] = {}
        try:
            paths = list(self.directory.iterdir())
        except FileNotFoundError:
            return found
        for path in paths:
            if not path.name.isdigit():
                path.unlink(missing_ok=True)  # a record cut short while being written
                continue
            try:
                started, _, what = path.read_text(encoding="utf-8").strip().partition(" ")
                found[int(path.name)] = (int(started), what)
            except (OSError, ValueError):
                path.unlink(missing_ok=True)
        return found

    async def reap(self, timeout: float = REAP_TIMEOUT) -> list[int]:
        """Kill every recorded group that is still running and wait until it is gone.

        Returns the groups that were killed. Records are removed once their group is gone;
        one that outlives `timeout` stays (the next `reap()` tries again) and is logged.
        """
        killed: list[int] = []
        for pgid, (started, what) in sorted(self.recorded().items()):
            leader = _stat(pgid)
            if leader is not None and leader.started != started and leader.state != "Z":
                logger.info("recorded process group was reused; leaving it", pgid=pgid)
                self.discard(pgid)
                continue
            if not _members(pgid, started):
                self.discard(pgid)
                continue
            logger.warning("killing a process group left by an earlier agent", pgid=pgid, what=what)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            killed.append(pgid)
        deadline = time.monotonic() + timeout
        for pgid in killed:
            started = self.recorded().get(pgid, (0, ""))[0]
            while _members(pgid, started):
                if time.monotonic() >= deadline:
                    logger.error("a killed process group is still running", pgid=pgid)
                    break
                await asyncio.sleep(_POLL)
            else:
                self.discard(pgid)
        return killed
