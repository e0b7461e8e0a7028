"""What the kernel says of a process in `/proc/<pid>/stat`: the one reader of it.

A pid names a process only until the process ends and the pid is reused; the pid with the
process's start time (clock ticks since boot) names one process for good, which is how
process records (`_leftovers`) and the tool server's peers (`_toolserver`) tell a reused
pid from the process they meant.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcStat", "alive", "start_time", "stat"]


@dataclass(frozen=True)
class ProcStat:
    """The fields of `/proc/<pid>/stat` the agents use."""

    pid: int
    state: str
    """One letter: `Z` is a zombie (ended, not yet reaped by its parent)."""
    ppid: int
    pgid: int
    started: int
    """Start time, clock ticks since boot."""


def stat(pid: int) -> ProcStat | None:
    """The process `pid` as `/proc` shows it now, or None if there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold anything, ")" too.
    fields = text.rpartition(")")[2].split()
    try:
        return ProcStat(
            pid=pid,
            state=fields[0],
            ppid=int(fields[1]),
            pgid=int(fields[2]),
            started=int(fields[19]),
        )
    except (IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), or None if there is no such process."""
    proc = stat(pid)
    return None if proc is None else proc.started


def alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie does not (its parent has not reaped it yet); a process
    of another user does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = stat(pid)
    return proc is None or proc.state != "Z"
