"""Waiting for a condition a test cannot be told about, and whether a process still runs:
shared by the integration tests and the chaos harness (a plain module: conftest modules are
not for importing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from runecraft.agents._proc import alive  # the agents' own check, not a copy

__all__ = ["TimedOutError", "alive", "until"]

T = TypeVar("T")


class TimedOutError(AssertionError):
    """The condition did not hold by the deadline (an assertion: the test fails on it)."""


def until(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 120.0,
    *,
    interval: float = 0.1,
    between: Callable[[], object] | None = None,
) -> T:
    """Probe until it holds (returns something other than None or False) and return what it
    found. Between two probes wait `interval` seconds, or for `between()` where something
    can say a change happened (the controller's status long poll)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise TimedOutError(f"timed out after {timeout:.0f} s waiting for {what}")
        if between is None:
            time.sleep(interval)
        else:
            between()
