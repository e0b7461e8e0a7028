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
import errno
import os
import signal
import stat
import time
from pathlib import Path

from runecraft import _logging
from runecraft.agents import _proc

__all__ = ["REAP_TIMEOUT", "ProcessRecords"]

logger = _logging.get_logger(__name__)

REAP_TIMEOUT = 10.0
"""Longest `reap()` waits for killed groups to be gone (SIGKILL is not refusable, but a
process in uninterruptible sleep ends only when its I/O does)."""

_RECORD_MAX = 4096
"""Bytes of a record read at most (one line: a start time and what the group was)."""

_POLL = 0.02
"""Seconds between looks at `/proc` while waiting (the processes are not our children)."""


def _members(pgid: int, started: int) -> list[int]:
    """Live (not zombie) processes of group `pgid` that started no earlier than its leader."""
    found = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            proc = _proc.stat(int(entry.name))
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
        started = _proc.start_time(pgid)
        if started is None:  # gone already: nothing can be left of it
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory / str(pgid)
        partial = path.with_name(f".{pgid}.new")
        try:
            partial.write_text(f"{started} {what}\n", encoding="utf-8")
            partial.replace(path)
        except OSError:
            with contextlib.suppress(OSError):  # nothing half-written left (a full disk)
                partial.unlink()
            raise

    def discard(self, pgid: int) -> None:
        """The group's leader ended (or was stopped): forget it. A record that cannot be
        removed (a read-only file system) is logged and left: the next `reap()` finds its
        group gone and tries again."""
        try:
            (self.directory / str(pgid)).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("cannot remove a process record", pgid=pgid, error=str(exc))

    def recorded(self) -> dict[int, tuple[int, str]]:
        """Group id → (leader start time, what it was) of every record to trust.

        Only a regular file this agent owns names a group, and never group 0 or 1 (kernel
        threads and init) nor the agent's own: killing those kills the agent on every
        start. Anything else in the directory is logged and left alone.
        """
        found: dict[int, tuple[int, str]] = {}
        try:
            paths = sorted(self.directory.iterdir())
        except FileNotFoundError:
            return found
        except OSError as exc:
            logger.error("cannot list the process records", error=str(exc))
            return found
        for path in paths:
            try:
                record = self._read(path)
            except OSError as exc:
                logger.warning("cannot read a process record", record=path.name, error=str(exc))
                continue
            if record is not None:
                found[int(path.name)] = record
        return found

    def _read(self, path: Path) -> tuple[int, str] | None:
        """The record at `path`, or None (logged) if it names no group to trust; one cut
        short while being written is removed."""
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            logger.warning("a process record is a link; ignoring it", record=path.name)
            return None
        with os.fdopen(fd, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid():
                logger.warning(
                    "a process record is not a file of ours; ignoring it", record=path.name
                )
                return None
            text = file.read(_RECORD_MAX).decode("utf-8", errors="replace")
        if path.name.isdigit() and not _trusted_group(int(path.name)):
            logger.warning("a process record names a group never to kill", record=path.name)
            path.unlink()
            return None
        started, _, what = text.strip().partition(" ")
        if not path.name.isdigit() or not started.isdigit():
            path.unlink()  # a record cut short while being written
            return None
        return int(started), what

    async def reap(self, timeout: float = REAP_TIMEOUT) -> list[int]:
        """Kill every recorded group that is still running and wait until it is gone.

        Returns the groups that were killed. Records are removed once their group is gone;
        one that outlives `timeout` stays (the next `reap()` tries again) and is logged.
        """
        records = self.recorded()
        killed: list[int] = []
        for pgid, (started, what) in sorted(records.items()):
            leader = _proc.stat(pgid)
            if leader is not None and leader.started != started and leader.state != "Z":
                logger.info("recorded process group was reused; leaving it", pgid=pgid)
                self.discard(pgid)
                continue
            if not _members(pgid, started):
                self.discard(pgid)
                continue
            logger.warning("killing a process group left by an earlier agent", pgid=pgid, what=what)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError as exc:
                logger.warning("cannot kill a recorded process group", pgid=pgid, error=str(exc))
            killed.append(pgid)
        deadline = time.monotonic() + timeout
        for pgid in killed:
            while _members(pgid, records[pgid][0]):
                if time.monotonic() >= deadline:
                    logger.error("a killed process group is still running", pgid=pgid)
                    break
                await asyncio.sleep(_POLL)
            else:
                self.discard(pgid)
        return killed


def _trusted_group(pgid: int) -> bool:
    """Whether a record may name `pgid`: not the kernel's (0), init's (1) or our own."""
    return pgid > 1 and pgid != os.getpgrp()
