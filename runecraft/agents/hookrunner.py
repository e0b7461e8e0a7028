"""Run one hook or action the way Juju 3.6 does (charm-contract §1.2, §1.3, §2).

The handler is `dispatch` if the charm has one, else `hooks/<name>` (or `actions/<name>`);
a missing hook handler is skipped and counts as success, a missing action handler fails the
action, a non-executable one is an error. The process gets a fresh environment (never the
agent's), the charm dir as cwd, no stdin, and its stdout/stderr go line by line into the
unit log (and, for actions, are captured for the results). Cancelling `run_hook`
terminates the hook's whole process group, so an agent that stops leaves no hook behind
(and the hook re-runs on restart). With `records`, the group is on record while the hook
runs, so an agent that was killed instead has it killed by its successor (`_leftovers`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import functools
import os
import shutil
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runecraft import _logging, _retry
from runecraft.agents import _context, _forkserver, _leftovers, _unitlog, uniter

__all__ = [
    "CONTAINERS_DIR_ENV",
    "DEFAULT_AGENT_PATH",
    "JUJU_VERSION",
    "MAX_CAPTURE",
    "ActionEnv",
    "HookOutcome",
    "HookResult",
    "StorageEnv",
    "UnitEnvironment",
    "find_handler",
    "hook_environment",
    "run_command",
    "run_hook",
]

logger = _logging.get_logger(__name__)

JUJU_VERSION = "3.6.12"
"""The Juju version charms see; ops switches behaviour on it (§2.1)."""

DEFAULT_AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""PATH after the tools dir when the agent is not told otherwise (Juju's is similar)."""

CONTAINERS_DIR_ENV = "RUNECRAFT_CONTAINERS_DIR"
"""Where this unit's `/charm/containers` really is (pebble.md §1.3): hooks of a charm with
containers get it, and the fork server rewrites ops' Pebble socket paths to it."""

MAX_CAPTURE = 16 * 1024 * 1024
"""Most bytes of an action's stdout (and of its stderr) kept for its results."""

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
    principal: str = ""
    """For a subordinate unit: its principal unit."""


@dataclass(frozen=True, kw_only=True)
class StorageEnv:
    """The storage variables of a `<name>-storage-*` hook (charm-contract §2)."""

    id: str
    """`data/0`."""
    location: str
    kind: str = "filesystem"


@dataclass(frozen=True, kw_only=True)
class ActionEnv:
    """The action variables of an action run."""

    name: str
    id: str


def hook_environment(
    unit_env: UnitEnvironment,
    *,
    hook: str,
    context_id: str,
    relation: _context.HookRelation | None = None,
    action: ActionEnv | None = None,
    storage: StorageEnv | None = None,
    workload: uniter.WorkloadEvent | None = None,
    containers_dir: Path | None = None,
) -> dict[str, str]:
    """The complete environment of one hook or action process (Juju `HookVars` + OS).

    `workload` is the event of a `<c>-pebble-*` hook; `containers_dir` is set for a charm
    that declares containers (`RUNECRAFT_CONTAINERS_DIR`).
    """
    charm_dir = str(unit_env.charm_dir)
    env = {
        "JUJU_DISPATCH_PATH": f"actions/{action.name}" if action else f"hooks/{hook}",
        "JUJU_HOOK_NAME": "" if action else hook,
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
        "JUJU_PRINCIPAL_UNIT": unit_env.principal,
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
    if relation is not None:
        env["JUJU_RELATION"] = relation.endpoint
        env["JUJU_RELATION_ID"] = f"{relation.endpoint}:{relation.relation_id}"
        env["JUJU_REMOTE_UNIT"] = relation.remote_unit
        env["JUJU_REMOTE_APP"] = relation.remote_app
        if relation.departing_unit:
            env["JUJU_DEPARTING_UNIT"] = relation.departing_unit
    if storage is not None:
        env["JUJU_STORAGE_ID"] = storage.id
        env["JUJU_STORAGE_LOCATION"] = storage.location
        env["JUJU_STORAGE_KIND"] = storage.kind
    if action is not None:
        env["JUJU_ACTION_NAME"] = action.name
        env["JUJU_ACTION_UUID"] = action.id
        env["JUJU_ACTION_TAG"] = f"action-{action.id}"
    if workload is not None:
        env.update(_workload_env(workload))
    if containers_dir is not None:
        env[CONTAINERS_DIR_ENV] = str(containers_dir)
    return env


def _workload_env(event: uniter.WorkloadEvent) -> dict[str, str]:
    """`JUJU_WORKLOAD_NAME`, plus the notice or check a Pebble event is about (pebble.md
    §1.1: ops requires exactly these per event)."""
    env = {"JUJU_WORKLOAD_NAME": event.container}
    if event.kind == "custom-notice":
        env["JUJU_NOTICE_ID"] = event.notice_id
        env["JUJU_NOTICE_TYPE"] = event.notice_type
        env["JUJU_NOTICE_KEY"] = event.notice_key
    elif event.kind in ("check-failed", "check-recovered"):
        env["JUJU_PEBBLE_CHECK_NAME"] = event.check_name
    return env


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
    stdout: bytes = b""
    """Captured output (actions only)."""
    stderr: bytes = b""

    @property
    def ok(self) -> bool:
        """A missing hook is as good as a successful one."""
        return self.outcome is not HookOutcome.FAILED


class HandlerError(Exception):
    """The handler exists but cannot be run (not executable, charm missing)."""


def find_handler(charm_dir: Path, name: str, kind: str = "hooks") -> Path | None:
    """`dispatch` first, then `hooks/<name>` (or `actions/<name>`); None when neither exists.

    Raises:
        HandlerError: the charm is missing from disk, or the handler is not executable.
    """
    if not (charm_dir / "metadata.yaml").is_file():
        raise HandlerError(f"charm missing from disk: no metadata.yaml in {charm_dir}")
    for candidate in (charm_dir / "dispatch", charm_dir / kind / name):
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                raise HandlerError(f"{candidate.relative_to(charm_dir)} is not executable")
            return candidate
    return None


_MAX_LINE = 1 << 20
"""Longer output lines are split, so one huge line can neither stall nor exhaust the agent."""


async def _pump(
    stream: asyncio.StreamReader,
    log: _unitlog.UnitLog,
    level: str,
    capture: bytearray | None = None,
) -> None:
    """Copy a hook's output into the unit log line by line (chunked: no line-length limit),
    keeping up to `MAX_CAPTURE` raw bytes in `capture` when given."""

    def emit(line: bytes) -> None:
        log.write(level, "hook", line.decode("utf-8", errors="replace").rstrip("\r"))

    pending = b""
    while chunk := await stream.read(1 << 16):
        if capture is not None and len(capture) < MAX_CAPTURE:
            capture += chunk[: MAX_CAPTURE - len(capture)]
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


class _HookProcess(Protocol):
    """A running hook: a spawned `asyncio.subprocess.Process` or a `ForkedHook`."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


async def _terminate(process: _HookProcess, grace: float) -> None:
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
    action: str | None = None,
    forks: _forkserver.ForkServer | None = None,
    on_start: Callable[[int], None] | None = None,
    records: _leftovers.ProcessRecords | None = None,
) -> HookResult:
    """Run `hook` (or the action `action`) to completion; never raises for charm faults.

    An action's output is captured into the result; its missing handler is `MISSING` too
    (the caller fails the action, as Juju does). With `forks`, a standard ops `dispatch`
    runs as a fork of the unit's fork server (see `_forkserver`). `on_start` is told the
    hook's pid as soon as it runs (the tool server serves only that process tree);
    `records` keeps its process group on record while it runs.
    """
    name, kind = (action, "actions") if action is not None else (hook, "hooks")
    what = f'action "{name}"' if action is not None else f'hook "{name}"'
    try:
        handler = find_handler(charm_dir, name, kind)
    except HandlerError as exc:
        log.write("ERROR", "uniter", f"{what} cannot run: {exc}")
        return HookResult(outcome=HookOutcome.FAILED, message=str(exc))
    if handler is None:
        log.write("INFO", "uniter", f'skipped "{name}" {kind[:-1]} (missing)')
        return HookResult(outcome=HookOutcome.MISSING)

    log.write("INFO", "uniter", f"running {what} (via {handler.relative_to(charm_dir)})")
    forked = None
    if forks is not None and handler.name == "dispatch":
        on_fork = (
            None if records is None else functools.partial(_record, records, what=what, log=log)
        )
        forked = await forks.start(charm_dir, dict(env), on_fork)
    return await _run_process(
        [str(handler)],
        cwd=charm_dir,
        env=env,
        log=log,
        what=what,
        capture=action is not None,
        kill_grace=kill_grace,
        started=forked,
        on_start=on_start,
        records=records,
    )


async def run_command(
    *,
    charm_dir: Path,
    command: str,
    env: Mapping[str, str],
    log: _unitlog.UnitLog,
    timeout: float | None = None,
    kill_grace: float = 5.0,
    on_start: Callable[[int], None] | None = None,
    records: _leftovers.ProcessRecords | None = None,
) -> HookResult:
    """Run a `juju exec` command with bash in the charm dir, output captured.

    A non-zero exit is the command's answer, not a failure of the operation: the result
    is SUCCEEDED with its exit code (Juju reports it as the task's `return-code`). Only a
    command that cannot start or outlives `timeout` seconds FAILS.
    """
    what = "juju-exec command"
    log.write("INFO", "uniter", f"running {what}")
    try:
        async with asyncio.timeout(timeout):
            result = await _run_process(
                ["/bin/bash", "-c", command],
                cwd=charm_dir,
                env=env,
                log=log,
                what=what,
                capture=True,
                kill_grace=kill_grace,
                on_start=on_start,
                records=records,
            )
    except TimeoutError:
        log.write("ERROR", "uniter", f"{what} timed out after {timeout}s")
        return HookResult(outcome=HookOutcome.FAILED, message=f"command timed out after {timeout}s")
    if result.exit_code is None:
        return result
    return dataclasses.replace(result, outcome=HookOutcome.SUCCEEDED, message="")


_PERL_GATE = (
    'my $go; sysread(STDIN, $go, 3) == 3 && $go eq "go\\n" or exit 111; '
    'open(STDIN, "<", "/dev/null") or die "/dev/null: $!\\n"; '
    'exec { $ARGV[0] } @ARGV; die "cannot run $ARGV[0]: $!\\n";'
)
_PYTHON_GATE = (
    "import os, sys\n"
    "if os.read(0, 3) != b'go\\n': sys.exit(111)\n"
    "os.dup2(os.open(os.devnull, os.O_RDONLY), 0)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


@functools.cache
def _gate() -> list[str]:
    """What runs in front of a spawned hook, the hook's argv after it: it waits for `go` on
    stdin (a pipe from the agent, written once the hook's group is on record), then becomes
    the hook, its stdin `/dev/null` and its environment untouched (a shell would add `PWD`).
    An agent that dies first closes the pipe, and the hook never runs. Perl where there is
    (it starts in a millisecond), else this Python."""
    perl = shutil.which("perl")
    if perl is not None:
        return [perl, "-e", _PERL_GATE]
    return [sys.executable, "-I", "-S", "-c", _PYTHON_GATE]


def _kernel_runs(path: str) -> bool:
    """`path` is a program the kernel itself runs (`#!` or ELF), as a direct spawn would: the
    gate's `exec` must not find another way to run any other file."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return False
    return head.startswith(b"#!") or head == b"\x7fELF"


async def _record(
    records: _leftovers.ProcessRecords, pgid: int, *, what: str, log: _unitlog.UnitLog
) -> None:
    """Put the hook's group on record, waiting with back-off while the record cannot be
    written (a full disk): the hook waits at its gate meanwhile, as the unit's state waits
    for room (`UnitAgent._durable`), instead of failing for a fault of the machine."""
    outage = _retry.Outage("cannot record a hook's process group; retrying")
    while True:
        try:
            records.add(pgid, what)
        except OSError as exc:
            delay = outage.failed(exc, pgid=pgid, what=what)
            if outage.failures == 1:
                reason = exc.strerror or str(exc)
                log.write("WARNING", "uniter", f"{what} waits: cannot record its process: {reason}")
            await asyncio.sleep(delay)
            continue
        outage.recovered(pgid=pgid, what=what)
        return


async def _spawn(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    records: _leftovers.ProcessRecords | None,
    what: str,
    log: _unitlog.UnitLog,
) -> asyncio.subprocess.Process:
    """Spawn `argv` in a session of its own; with `records`, its group is on record before
    it runs (held at the `_GATE` until then)."""
    gated = records is not None and _kernel_runs(argv[0])
    gate_r, gate_w = os.pipe() if gated else (-1, -1)
    try:
        spawned = await asyncio.create_subprocess_exec(
            *([*_gate(), *argv] if gated else argv),
            cwd=cwd,
            env=dict(env),
            stdin=gate_r if gated else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        if records is not None:
            await _record(records, spawned.pid, what=what, log=log)
        if gated:
            os.write(gate_w, b"go\n")
        return spawned
    finally:
        if gated:
            os.close(gate_r)
            os.close(gate_w)


async def _run_process(
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: _unitlog.UnitLog,
    what: str,
    capture: bool,
    kill_grace: float,
    started: _forkserver.ForkedHook | None = None,
    on_start: Callable[[int], None] | None = None,
    records: _leftovers.ProcessRecords | None = None,
) -> HookResult:
    """Spawn `argv` in its own session (or take the forked hook `started`), pump its output
    into the unit log (and capture it when asked), and terminate its process group if
    cancelled. Its group is on `records` from the moment it was spawned until it ended."""
    process: _HookProcess
    if started is not None:
        process, out_stream, err_stream = started, started.stdout, started.stderr
    else:
        try:
            spawned = await _spawn(argv, cwd=cwd, env=env, records=records, what=what, log=log)
        except OSError as exc:
            log.write("ERROR", "uniter", f"{what} cannot start: {exc}")
            return HookResult(outcome=HookOutcome.FAILED, message=str(exc))
        assert spawned.stdout is not None and spawned.stderr is not None
        process, out_stream, err_stream = spawned, spawned.stdout, spawned.stderr
    if on_start is not None:
        on_start(process.pid)

    out = bytearray() if capture else None
    err = bytearray() if capture else None
    pumps = [
        asyncio.create_task(_pump(out_stream, log, "DEBUG", out)),
        asyncio.create_task(_pump(err_stream, log, "WARNING", err)),
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
        if started is not None:
            started.close()
        if records is not None and process.returncode is not None:
            records.discard(process.pid)

    stdout, stderr = bytes(out or b""), bytes(err or b"")
    if code == 0:
        log.write("INFO", "uniter", f"ran {what}")
        return HookResult(outcome=HookOutcome.SUCCEEDED, exit_code=0, stdout=stdout, stderr=stderr)
    logger.info("hook failed", what=what, exit_code=code)
    log.write("ERROR", "uniter", f"{what} failed: exit status {code}")
    return HookResult(
        outcome=HookOutcome.FAILED,
        exit_code=code,
        message=f"exit status {code}",
        stdout=stdout,
        stderr=stderr,
    )
