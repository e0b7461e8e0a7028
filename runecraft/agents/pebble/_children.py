"""Children that die with the daemon, as they would with their container.

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


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` making the child SIGKILLed when this process dies (None: cannot).

    It runs in the child after the uid/gid switch (a credential change clears the
    setting) and before exec; if the parent died before it ran, the child exits."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            return  # the child still runs, as it would without this
        if os.getppid() != parent:
            os._exit(1)

    return preexec
