"""Run one hook the way Juju 3.6 does (charm-contract §1.2, §1.3, §2).

The handler is `dispatch` if the charm has one, else `hooks/<name>`; a missing handler is
skipped and counts as success, a non-executable one is an error. The process gets a fresh
environment (never the agent's), the charm dir as cwd, no stdin, and its stdout/stderr go
line by line into the unit log. Cancelling `run_hook` terminates the hook's whole process
group, so an agent that stops leaves no hook behind (and the hook re-runs on restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from runecraft.agents import _unitlog

__all__ = [
    "DEFAULT_AGENT_PATH",
    "JUJU_VERSION",
    "HookOutcome",
    "HookResult",
    "UnitEnvironment",
    "find_handler",
    "hook_environment",
    "run_hook",
]

logger = structlog.get_logger(__name__)

JUJU_VERSION = "3.6.12"
"""The Juju version charms see; ops switches behaviour on it (§2.1)."""

DEFAULT_AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH after the tools dir when the agent is not told otherwise (Juju's is similar)."""

_DRAIN_TIMEOUT = 2.0
"""Seconds to keep reading output after the hook exited (a daemon it started may hold the
pipe open forever)."""


@dataclass(frozen=True, kw_only=True)
class UnitEnvironment:
    """The per-unit facts every hook's environment is built from."""

    unit: str
    model_name: str
    model_uuid: str
    machine_id: str
    charm_dir: Path
    tools_dir: Path
    socket_path: Path
    api_addresses: str = ""
    """Space-separated `host:port` of the controller API."""
    agent_path: str = DEFAULT_AGENT_PATH
    """The agent's PATH; the tools dir is put in front of it."""


def hook_environment(
    unit_env: UnitEnvironment, *, hook: str, context_id: str, dispatch_path: str | None = None
) -> dict[str, str]:
    """The complete environment of one hook process (Juju `HookVars` + OS variables)."""
    charm_dir = str(unit_env.charm_dir)
    return {
        "JUJU_DISPATCH_PATH": dispatch_path or f"hooks/{hook}",
        "JUJU_HOOK_NAME": hook,
        "JUJU_UNIT_NAME": unit_env.unit,
        "JUJU_MODEL_NAME": unit_env.model_name,
        "JUJU_MODEL_UUID": unit_env.model_uuid,
        "JUJU_VERSION": JUJU_VERSION,
        "JUJU_CHARM_DIR": charm_dir,
        "CHARM_DIR": charm_dir,
        "JUJU_CONTEXT_ID": context_id,
        "JUJU_AGENT_SOCKET_ADDRESS": str(unit_env.socket_path),
        "JUJU_AGENT_SOCKET_NETWORK": "unix",
        "JUJU_MACHINE_ID": unit_env.machine_id,
        "JUJU_PRINCIPAL_UNIT": "",
        "JUJU_AVAILABILITY_ZONE": "",
        "JUJU_API_ADDRESSES": unit_env.api_addresses,
        "CLOUD_API_VERSION": "",
        "JUJU_CHARM_HTTP_PROXY": "",
        "JUJU_CHARM_HTTPS_PROXY": "",
        "JUJU_CHARM_FTP_PROXY": "",
        "JUJU_CHARM_NO_PROXY": "",
        "PATH": f"{unit_env.tools_dir}{os.pathsep}{unit_env.agent_path}",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "APT_LISTCHANGES_FRONTEND": "none",
        "TERM": "tmux-256color",
    }


class HookOutcome(enum.Enum):
    """How a hook run ended."""

    SUCCEEDED = "succeeded"
    MISSING = "missing"
    """No handler: skipped, counts as success."""
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class HookResult:
    """The outcome plus what the unit log and status should say about it."""

    outcome: HookOutcome
    exit_code: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        """A missing hook is as good as a successful one."""
        return self.outcome is not HookOutcome.FAILED


class HandlerError(Exception):
    """The handler exists but cannot be run (not executable, charm missing)."""


def find_handler(charm_dir: Path, hook: str) -> Path | None:
    """`dispatch` first, then `hooks/<hook>`; None when neither exists.

    Raises:
        HandlerError: the charm is missing from disk, or the handler is not executable.
    """
    if not (charm_dir / "metadata.yaml").is_file():
        raise HandlerError(f"charm missing from disk: no metadata.yaml in {charm_dir}")
    for candidate in (charm_dir / "dispatch", charm_dir / "hooks" / hook):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise HandlerError(f"{candidate.relative_to(charm_dir)} is not executable")
            return candidate
    return None


_MAX_LINE = 1 << 20
"""Longer output lines are split, so one huge line can neither stall nor exhaust the agent."""


async def _pump(stream: asyncio.StreamReader, log: _unitlog.UnitLog, level: str) -> None:
    """Copy a hook's output into the unit log line by line (chunked: no line-length limit)."""

    def emit(line: bytes) -> None:
        log.write(level, "hook", line.decode("utf-8", errors="replace").rstrip("\r"))

    pending = b""
    while chunk := await stream.read(1 << 16):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            emit(line)
        if len(pending) > _MAX_LINE:
            emit(pending)
            pending = b""
    if pending:
        emit(pending)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


async def _terminate(process: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the hook's process group, then SIGKILL it if it lingers."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        async with asyncio.timeout(grace):
            await process.wait()
    except TimeoutError:
        _signal_group(process.pid, signal.SIGKILL)
        await process.wait()


async def run_hook(
    *,
    charm_dir: Path,
    hook: str,
    env: Mapping[str, str],
    log: _unitlog.UnitLog,
    kill_grace: float = 5.0,
) -> HookResult:
    """Run `hook` to completion and say how it ended; never raises for charm faults."""
    try:
        handler = find_handler(charm_dir, hook)
    except HandlerError as exc:
        log.write("ERROR", "uniter", f'hook "{hook}" cannot run: {exc}')
        return HookResult(outcome=HookOutcome.FAILED, message=str(exc))
    if handler is None:
        log.write("INFO", "uniter", f'skipped "{hook}" hook (missing)')
        return HookResult(outcome=HookOutcome.MISSING)

    log.write("INFO", "uniter", f'running hook "{hook}" (via {handler.relative_to(charm_dir)})')
    try:
        process = await asyncio.create_subprocess_exec(
            str(handler),
            cwd=charm_dir,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        log.write("ERROR", "uniter", f'hook "{hook}" cannot start: {exc}')
        return HookResult(outcome=HookOutcome.FAILED, message=str(exc))

    assert process.stdout is not None and process.stderr is not None
    pumps = [
        asyncio.create_task(_pump(process.stdout, log, "DEBUG")),
        asyncio.create_task(_pump(process.stderr, log, "WARNING")),
    ]
    try:
        code = await process.wait()
        _, lingering = await asyncio.wait(pumps, timeout=_DRAIN_TIMEOUT)
        for pump in lingering:
            pump.cancel()
    except asyncio.CancelledError:
        if process.returncode is None:  # only the hook itself, never daemons it left running
            await asyncio.shield(_terminate(process, kill_grace))
        raise
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    if code == 0:
        log.write("INFO", "uniter", f'ran "{hook}" hook')
        return HookResult(outcome=HookOutcome.SUCCEEDED, exit_code=0)
    logger.info("hook failed", hook=hook, exit_code=code)
    log.write("ERROR", "uniter", f'hook "{hook}" failed: exit status {code}')
    return HookResult(outcome=HookOutcome.FAILED, exit_code=code, message=f"exit status {code}")
