"""What the CLI asks of the controller package, run as `python -m runecraft.controller`:
the CLI's own process never loads controller code (nor pylxd), so every command starts fast.

The program answers in JSON lines (see `runecraft.controller.__main__`); an error it reports
is raised here as the same class of `runecraft.errors`, so messages and exit codes are those
of the code that raised it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from runecraft import errors

__all__ = ["delegate"]


def delegate(*args: str, progress: Callable[[str], None] = lambda _: None) -> Any:
    """Run `python -m runecraft.controller ARGS...`, passing each progress line to
    `progress`, and return its result (or raise its error)."""
    command = [sys.executable, "-m", "runecraft.controller", "--log-level", "WARNING", *args]
    answer: dict[str, Any] = {}
    with subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            message = _message(line)
            if message is None:
                sys.stderr.write(line)  # not ours (a library's print): shown, not parsed
            elif "progress" in message:
                progress(str(message["progress"]))
            else:
                answer = message
    if isinstance(answer.get("error"), dict):
        error = answer["error"]
        cls = errors.BY_CODE.get(str(error.get("code")), errors.RunecraftError)
        raise cls(str(error.get("message", "")))
    if process.returncode == 130:
        raise KeyboardInterrupt
    if process.returncode != 0 or "result" not in answer:
        raise errors.PermanentError(
            f"`python -m runecraft.controller {args[0]}` failed with exit code "
            f"{process.returncode} (its output is above)"
        )
    return answer["result"]


def _message(line: str) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    ours = isinstance(message, dict) and message.keys() & {"progress", "result", "error"}
    return message if ours else None
