"""Starting the controller's long-lived programs: the controller itself, a managed
mosquitto, the local substrate's machine agents."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RunAs", "spawn"]


@dataclass(frozen=True)
class RunAs:
    """Another user to run a program as (root only): its ids, and its whole environment."""

    uid: int
    gid: int
    env: Mapping[str, str]


def spawn(
    argv: Sequence[str],
    log: Path | int,
    *,
    cwd: Path | None = None,
    run_as: RunAs | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (a Ctrl-C meant for whoever started it does not reach
    it), with no stdin and its output appended to `log` (a path, or a descriptor opened for
    appending, which is closed). With `run_as`, as that user, with only its environment
    and no supplementary groups."""
    fd = (
        log if isinstance(log, int) else os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    )
    as_user: dict[str, Any] = (
        {}
        if run_as is None
        else {
            "env": dict(run_as.env),
            "user": run_as.uid,
            "group": run_as.gid,
            "extra_groups": [],
        }
    )
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
            **as_user,
        )
    finally:
        os.close(fd)
