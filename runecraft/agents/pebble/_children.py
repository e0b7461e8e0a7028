"""Children that start as in a fresh container and die with the daemon, as they would with it.

Signals the daemon inherited as ignored (`nohup` ignores SIGHUP, a CI runner may ignore
others) would stay ignored in every service, and a shell cannot even trap a signal it
started with ignored; in a container PID 1's children start with default dispositions, so
each child resets them.

In a container, a service or exec process dies when Pebble (PID 1) dies. Here they run in
their own sessions, so a daemon killed (SIGKILL, OOM) would orphan them and a restarted
daemon would start second copies. On Linux each child asks the kernel for SIGKILL when
its parent dies (`prctl(PR_SET_PDEATHSIG)`); elsewhere this is a no-op.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1
_RESET = tuple(
    getattr(signal, name)
    for name in ("SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGALRM")
    if hasattr(signal, name)
)
"""Signals every child starts with at their default action."""


def _load_prctl() -> Callable[..., int] | None:
    """libc's `prctl`, resolved in the daemon (not after fork, where dlopen is unsafe)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes  # noqa: PLC0415 (a minimal image may lack _ctypes)

        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (ImportError, OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _reset_signals() -> None:
    for signum in _RESET:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):  # not the main thread: leave it as inherited
            return


def die_with_parent() -> Callable[[], None]:
    """A `preexec_fn` resetting the child's signals and making it SIGKILLed when this
    process dies (where the platform allows).

    It runs in the child after the uid/gid switch (a credential change clears the
    setting) and before exec; if the parent died before it ran, the child exits."""
    prctl = _PRCTL
    parent = os.getpid()

    def preexec() -> None:
        _reset_signals()
        if prctl is None or prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return  # the child still runs, as it would without this
        if os.getppid() != parent:
            os._exit(1)

    return preexec
