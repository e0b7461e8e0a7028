"""Local Pebble daemons: one `rune-pebble run` per workload container of a machine unit.

On Kubernetes each workload container runs its own Pebble (pebble.md §1.2); on local and
LXD machines there is no container, so the unit agent runs the daemon itself, as
`python -m runecraft.agents.pebble run --hold --create-dirs --root <root> --unit <unit>`
(the interpreter of the agent: the console script may not be on PATH), with `PEBBLE` the
container's state dir and `PEBBLE_SOCKET` the socket the charm reaches through
`/charm/containers/<c>/pebble.socket` (rerouted, see `_workloads`).

The daemon is supervised: when it dies it is started again after a back-off, which is what
a container restart is on Kubernetes (a new boot id, so `<c>-pebble-ready` runs again).

The daemon is the workload, so it outlives an agent that was killed: the next agent finds
it by its pid file (only if its command line says it is ours) and adopts it, watching it
until it ends (then it is restarted as usual) or stopping it when the unit's daemons stop.
Its services run on (the new agent runs `<c>-pebble-ready` once more, as a restarted Juju
agent does: the boot id it saw last is kept in memory only).
Hooks and the rest of what a killed agent left are killed instead (`_leftovers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from runecraft import _logging, _pidfd, _retry
from runecraft.agents import _proc

__all__ = ["DaemonPaths", "LocalDaemon", "daemon_argv"]

logger = _logging.get_logger(__name__)

FIRST_RESTART_DELAY = 1.0
"""Seconds before restarting a daemon that died (doubles up to `MAX_RESTART_DELAY`)."""
MAX_RESTART_DELAY = 30.0
HEALTHY_RUN = 60.0
"""A daemon that ran this long before dying is restarted after the first delay again."""
STOP_GRACE = 15.0
"""Seconds between SIGTERM and SIGKILL when stopping a daemon: longer than its own orderly
stop (the longest kill-delay, 5 s by default, plus the fail delay, 5 s). A service with a
longer kill-delay is cut short, but not orphaned: the daemon's children get SIGKILL when
it dies (see `pebble._children`)."""
_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
"""What a daemon (and so its services) inherits from the agent's environment."""


@dataclass(frozen=True)
class DaemonPaths:
    """Where one container's daemon lives: `<unit dir>/containers/<c>/` and its socket."""

    base: Path
    socket: Path

    @property
    def root(self) -> Path:
        """The container's root: API file paths are rooted here (`--root`)."""
        return self.base / "root"

    @property
    def state(self) -> Path:
        """`$PEBBLE`: layers and state."""
        return self.base / "pebble"

    @property
    def pid_file(self) -> Path:
        return self.base / "pebble.pid"

    @property
    def log(self) -> Path:
        """The daemon's stdout and stderr (its services' output too)."""
        return self.base / "pebble.log"


def daemon_argv(unit: str, paths: DaemonPaths) -> list[str]:
    """The command line of one container's daemon (`-P`: its working directory, the
    container's root, which the charm writes to, is never on its import path)."""
    return [
        sys.executable,
        "-P",
        "-m",
        "runecraft.agents.pebble",
        "run",
        "--hold",
        "--create-dirs",
        "--root",
        str(paths.root),
        "--unit",
        unit,
    ]


def _daemon_env(paths: DaemonPaths) -> dict[str, str]:
    env = {key: os.environ[key] for key in _ENV_KEPT if key in os.environ}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    env["PEBBLE"] = str(paths.state)
    env["PEBBLE_SOCKET"] = str(paths.socket)
    return env


def _is_ours(pid: int, unit: str, paths: DaemonPaths) -> bool:
    """The process's command line is this container's daemon (the pid was not reused)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    want = [os.fsencode(arg) for arg in daemon_argv(unit, paths)[1:]]
    return argv[1 : 1 + len(want)] == want


async def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (polling, it is not our child) until `pid` has gone; False on timeout."""
    deadline = time.monotonic() + timeout
    while _proc.alive(pid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _left_running(unit: str, paths: DaemonPaths) -> int | None:
    """The pid of this container's daemon left by an earlier agent (by its pid file)."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid > 0 and _proc.alive(pid) and _is_ours(pid, unit, paths):
        return pid
    paths.pid_file.unlink(missing_ok=True)
    return None


async def _stop_adopted(pid: int) -> None:
    """SIGTERM a daemon we did not start, then SIGKILL its group if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not await _wait_gone(pid, STOP_GRACE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        await _wait_gone(pid, STOP_GRACE)


class LocalDaemon:
    """One container's supervised daemon: `await run()` until cancelled."""

    def __init__(self, unit: str, container: str, paths: DaemonPaths) -> None:
        self.unit = unit
        self.container = container
        self.paths = paths
        self._process: asyncio.subprocess.Process | None = None
        self._adopted: int | None = None
        """The pid of a daemon an earlier agent started, while it runs."""
        self.starts = 0
        """How many times the daemon was started (tests watch restarts)."""

    @property
    def pid(self) -> int | None:
        """The running daemon's process id."""
        if self._adopted is not None:
            return self._adopted
        process = self._process
        return None if process is None or process.returncode is not None else process.pid

    async def run(self) -> None:
        """Adopt the daemon an earlier agent left, or start one; restart it whenever it
        dies; stop it when cancelled."""
        log = logger.bind(unit=self.unit, container=self.container)
        failures = 0
        try:
            if (pid := _left_running(self.unit, self.paths)) is not None:
                log.info("adopting the pebble daemon an earlier agent left running", pid=pid)
                self._adopted = pid
                await _pidfd.exited(pid, lambda: _proc.alive(pid))
                self._adopted = None
                log.warning("adopted pebble daemon ended; starting it again", pid=pid)
            while True:
                started = time.monotonic()
                code = await self._run_once(log)
                failures = 1 if time.monotonic() - started >= HEALTHY_RUN else failures + 1
                delay = _retry.backoff_delay(
                    failures, first=FIRST_RESTART_DELAY, cap=MAX_RESTART_DELAY
                )
                log.warning("pebble daemon ended; restarting", exit_code=code, delay=delay)
                await asyncio.sleep(delay)
        finally:
            await asyncio.shield(self._stop())

    async def _run_once(self, log: _logging.Logger) -> int | None:
        """Run the daemon until it exits; its exit code (None: it could not start)."""
        paths = self.paths
        try:
            for directory in (paths.base, paths.socket.parent):
                directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            paths.root.mkdir(exist_ok=True)
            paths.socket.unlink(missing_ok=True)  # a dead daemon's socket refuses connections
            with paths.log.open("ab") as output:
                self._process = await asyncio.create_subprocess_exec(
                    *daemon_argv(self.unit, paths),
                    cwd=paths.root,  # services without a working-dir start in the root
                    env=_daemon_env(paths),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                )
        except OSError as exc:
            log.error("cannot start the pebble daemon", error=str(exc))
            return None
        self.starts += 1
        try:
            paths.pid_file.write_text(f"{self._process.pid}\n")
        except OSError as exc:  # only a later agent's clean-up needs it
            log.warning("cannot write the pid file", error=str(exc))
        log.info("pebble daemon started", pid=self._process.pid, socket=str(paths.socket))
        return await self._process.wait()

    async def _stop(self) -> None:
        """SIGTERM (the daemon stops its services), then SIGKILL its group if it lingers."""
        adopted, self._adopted = self._adopted, None
        if adopted is not None:
            await _stop_adopted(adopted)
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                async with asyncio.timeout(STOP_GRACE):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        self.paths.pid_file.unlink(missing_ok=True)
        self.paths.socket.unlink(missing_ok=True)
