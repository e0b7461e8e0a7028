"""Starting the controller's long-lived programs: the controller itself, a managed
mosquitto, the local substrate's machine agents."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["spawn"]


def spawn(argv: Sequence[str], log: Path, *, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (a Ctrl-C meant for whoever started it does not reach
    it), with no stdin and its output appended to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
