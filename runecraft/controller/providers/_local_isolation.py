"""Isolation of the local substrate's machines when the controller runs as root.

Each machine's agent, and so every hook and Pebble daemon it starts, runs as a system user
of its own (`rune-<12 hex>`, named from the controller, model and machine so that two
controllers on one host never share one). Its directory is its own, mode 0700; nothing
of the controller (its home with `controller.yaml` and `state.db`, other machines) is
readable from it.

The controller's home is usually private (`~/.local/share/runecraft`, a 0700 temp dir),
so the machines live outside it, under `MACHINES_ROOT/<controller-uuid>/` (each level
0711: enterable, not listable), and `<home>/machines` is a symlink there. The controller's
Python may be private too (a venv under /root): then the agent's runtime is installed from
the wheelhouse (`_wheelhouse`) under `RUNTIME_ROOT`, world-readable, keyed by its content.

Everything the controller writes into a machine's directory is written without following
links and handed to the machine's user: the directory is that user's to play tricks in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import structlog

from runecraft import errors
from runecraft.controller.providers import _wheelhouse
from runecraft.schemas import agent as agent_schema

__all__ = [
    "AGENT_PATH",
    "MACHINES_ROOT",
    "RUNTIME_ROOT",
    "USER_PREFIX",
    "MachineUser",
    "agent_python",
    "create_file",
    "ensure_user",
    "isolating",
    "kill_processes",
    "machine_user",
    "machines_dir",
    "open_log",
    "prepare_runtime_dir",
    "read_own_file",
    "remove_machines",
    "remove_user",
]

logger = structlog.get_logger(__name__)

MACHINES_ROOT = Path("/var/lib/runecraft/machines")
"""Root-owned, 0711: `<controller-uuid>/<model-uuid>/<number>/` below it."""
RUNTIME_ROOT = Path("/var/lib/runecraft/runtime")
"""Agent runtimes installed from the wheelhouse, world-readable, one per content key."""
USER_PREFIX = "rune-"
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_LOCK_RETRIES = 20
"""Attempts of useradd/userdel while another process holds the passwd lock."""
_PASSWD_BUSY = {1, 10}
"""useradd/userdel exit codes for "cannot lock or update /etc/passwd, /etc/group"."""
_USER_GONE = 6
_KILL_PASSES = 100
"""Rounds of kill(-1) as a machine user before giving up on processes it keeps forking."""


def isolating() -> bool:
    """Whether machines get users of their own: only root can make them."""
    return os.geteuid() == 0


@dataclass(frozen=True)
class MachineUser:
    """The system user one machine's agent runs as."""

    name: str
    uid: int
    gid: int


def machine_user(controller_uuid: str, model_uuid: str, number: int) -> str:
    """The machine's user name: unique per controller, model and machine, 17 characters."""
    digest = hashlib.sha256(f"{controller_uuid}/{model_uuid}/{number}".encode()).hexdigest()
    return f"{USER_PREFIX}{digest[:12]}"


async def _account_tool(argv: list[str], *, ok: frozenset[int] = frozenset()) -> int:
    """Run useradd/userdel, retrying while the passwd files are locked by someone else."""
    delay = 0.05
    for _ in range(_LOCK_RETRIES):
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, err = await process.communicate()
        code = process.returncode
        assert code is not None
        if code == 0 or code in ok:
            return code
        if code not in _PASSWD_BUSY:
            break
        await asyncio.sleep(delay)  # back-off for the lock holder, not synchronisation
        delay = min(delay * 2, 1.0)
    raise errors.TemporaryError(
        f"{argv[0]} {argv[-1]} failed (exit {code}): {err.decode(errors='replace').strip()}"
    )


async def ensure_user(name: str, home: Path) -> MachineUser:
    """The system user `name` (made if missing: no login shell, its own group)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        await _account_tool(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                str(home),
                "--shell",
                "/usr/sbin/nologin",
                name,
            ],
            ok=frozenset({9}),  # made meanwhile by a concurrent call
        )
        entry = pwd.getpwnam(name)
    return MachineUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _live_processes(uid: int) -> list[int]:
    """Pids of processes (not zombies) with `uid` among their real, effective or saved ids.

    Read from /proc/<pid>/status, not the owner of /proc/<pid>: a non-dumpable process
    shows as root there."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue  # gone meanwhile
        uids = {int(u) for u in fields.get("Uid", "").split()[:3]}
        if uid in uids and not fields.get("State", "").strip().startswith(("Z", "X")):
            pids.append(int(entry.name))
    return pids


def kill_processes(user: MachineUser) -> None:
    """SIGKILL every process of a machine user being removed (hooks' daemons, Pebble
    services), blocking. The killing is done as the user: kill(-1) from its uid reaches
    exactly its processes, dumpable or not. Passes repeat while any is left (one forked
    meanwhile); kill(-1) succeeds whenever any other process exists, so /proc says when
    they are gone."""
    for _ in range(_KILL_PASSES):
        subprocess.run(
            ["/bin/sh", "-c", "kill -STOP -1; kill -KILL -1"],  # stopped ones fork no more
            cwd="/",
            env={"PATH": AGENT_PATH, "LANG": "C.UTF-8"},
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            capture_output=True,
            check=False,
        )
        if not _live_processes(user.uid):
            return
    logger.warning("machine user still has processes", user=user.name, uid=user.uid)


async def remove_user(name: str) -> None:
    """Delete the machine user `name` (and its group); gone already is fine."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return
    user = MachineUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    await asyncio.to_thread(kill_processes, user)
    shutil.rmtree(Path(agent_schema.RUNTIME_BASE) / str(user.uid), ignore_errors=True)
    await _account_tool(["userdel", name], ok=frozenset({_USER_GONE}))


def prepare_runtime_dir(user: MachineUser) -> Path:
    """The user's short private dir for sockets (`RUNTIME_BASE/<uid>`, 0700), under a
    root-owned base others can enter but not list."""
    base = Path(agent_schema.RUNTIME_BASE)
    _traversable_dir(base)
    path = base / str(user.uid)
    path.mkdir(mode=0o700, exist_ok=True)
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    path.chmod(0o700)
    return path


def _traversable_dir(path: Path) -> None:
    """A root-owned directory others may enter but not list (0711)."""
    path.mkdir(mode=0o711, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0:
        raise errors.PermanentError(f"{path} is not a directory owned by root")
    path.chmod(0o711)


def machines_dir(data_dir: Path, controller_uuid: str) -> Path:
    """Where this controller's machines live, made traversable for their users, with
    `data_dir` (in the controller's home) a symlink to it. A `data_dir` that already holds
    local machines (made before isolation) stays as it is: they run as root."""
    outside = MACHINES_ROOT / controller_uuid
    for level in (MACHINES_ROOT.parent, MACHINES_ROOT, outside):
        _traversable_dir(level)
    if data_dir.is_symlink():
        if data_dir.resolve() == outside.resolve():
            return outside
        data_dir.unlink()
    elif data_dir.is_dir():
        if any(data_dir.glob("*/*/agent.json")):
            logger.warning("machines dir predates isolation; keeping it", path=str(data_dir))
            return data_dir
        for entry in data_dir.iterdir():  # another provider's bookkeeping moves along
            shutil.move(entry, outside / entry.name)
        data_dir.rmdir()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.symlink_to(outside)
    return outside


def remove_machines(data_dir: Path) -> None:
    """Forget a controller's machines: their users, and the directory outside the home
    that `data_dir` links to (blocking; the agents must already be stopped)."""
    if not data_dir.is_symlink():
        return
    outside = data_dir.resolve()
    if outside.parent != MACHINES_ROOT.resolve():
        return  # not ours to delete
    for directory in sorted(outside.glob("*/*")):
        try:
            owner = pwd.getpwuid(directory.lstat().st_uid).pw_name
        except (OSError, KeyError):
            continue
        if not owner.startswith(USER_PREFIX):
            continue
        try:
            asyncio.run(remove_user(owner))
        except errors.RunecraftError as exc:  # the rest are still removed
            logger.warning("cannot remove machine user", user=owner, error=str(exc))
    shutil.rmtree(outside, ignore_errors=True)
    data_dir.unlink(missing_ok=True)


def create_file(path: Path, data: bytes, user: MachineUser | None, mode: int = 0o600) -> None:
    """Write `path` anew (never through a link planted there), owned by `user`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.write(fd, data)
        if user is not None:
            os.fchown(fd, user.uid, user.gid)
    finally:
        os.close(fd)
    tmp.replace(path)


def open_log(path: Path, user: MachineUser | None) -> int:
    """An append descriptor on `path` (made if missing); refuses a link or a file that is
    not the machine's own, without blocking on a FIFO planted there."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    except OSError as exc:  # a link (ELOOP), a FIFO nobody reads (ENXIO)
        raise errors.PermanentError(f"{path} is not a plain log file of this machine") from exc
    info = os.fstat(fd)
    owners = {os.geteuid()} if user is None else {os.geteuid(), user.uid}
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid not in owners:
        os.close(fd)
        raise errors.PermanentError(f"{path} is not a plain log file of this machine")
    os.set_blocking(fd, True)
    if user is not None:
        os.fchown(fd, user.uid, user.gid)
    return fd


def read_own_file(path: Path, limit: int = 4096) -> bytes:
    """The start of `path` if it is a plain file this process wrote (owned by its uid, one
    link); raises OSError otherwise. Never follows a link nor blocks on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid != os.geteuid():
            raise OSError(f"{path} is not a plain file of the controller")
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _runs_as(user: MachineUser, home: Path, argv: list[str]) -> bool:
    """Whether `argv` runs to success as `user` (not at all: the interpreter is not theirs
    to run)."""
    try:
        probe = subprocess.run(
            argv,
            cwd="/",
            env={"PATH": AGENT_PATH, "HOME": str(home), "LANG": "C.UTF-8"},
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return probe.returncode == 0


def _can_run_agent(python: str, user: MachineUser, home: Path) -> bool:
    return _runs_as(user, home, [python, "-c", f"import {_wheelhouse.AGENT_MODULE}.__main__"])


def _system_python(user: MachineUser, home: Path) -> str:
    """A python3 of the controller's minor version that `user` can run."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if os.access(candidate, os.X_OK) and _runs_as(user, home, [candidate, "-c", "pass"]):
            return candidate
    raise errors.PermanentError(
        f"machine users cannot run the controller's Python ({sys.executable}), and there "
        f"is no python{version} for them in /usr/bin or /usr/local/bin"
    )


def _install_runtime(user: MachineUser, home: Path) -> str:
    """The agent's runtime, installed from the wheelhouse under `RUNTIME_ROOT` once per
    content (blocking); the path of its Python."""
    RUNTIME_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
    RUNTIME_ROOT.chmod(0o755)
    wheels = _wheelhouse.build_wheelhouse(RUNTIME_ROOT)
    for level in (RUNTIME_ROOT / "wheelhouse", wheels.directory):
        level.chmod(0o755)
    for wheel in wheels.wheels:
        wheel.chmod(0o644)
    prefix = RUNTIME_ROOT / f"agent-{wheels.directory.name}"
    python = prefix / "venv" / "bin" / "python"
    if python.exists() and _can_run_agent(str(python), user, home):
        return str(python)
    system_python = _system_python(user, home)
    staging = Path(tempfile.mkdtemp(prefix=".agent-", dir=RUNTIME_ROOT))
    try:
        staging.chmod(0o755)
        links = staging / "bin"
        links.mkdir()
        # A wrapper, not a link: the venv must point at the real interpreter.
        wrapper = links / "python3"
        wrapper.write_text(f'#!/bin/sh\nexec {system_python} "$@"\n')
        wrapper.chmod(0o755)
        script = _wheelhouse.install_script(str(staging), str(wheels.directory), wheels.python)
        result = subprocess.run(
            ["/bin/sh", "-c", script],
            env={"PATH": f"{links}:{AGENT_PATH}", "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise errors.PermanentError(
                f"cannot install the agent runtime for machine users: {result.stderr.strip()}"
            )
        shutil.rmtree(links)
        with contextlib.suppress(OSError):  # a concurrent install won: use that one
            staging.rename(prefix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if not _can_run_agent(str(python), user, home):
        raise errors.PermanentError(f"the agent runtime in {prefix} does not run as {user.name}")
    return str(python)


async def agent_python(user: MachineUser, home: Path) -> str:
    """The interpreter machine users run the agent with: the controller's own when they
    can import the agent from it, else a runtime installed for them."""
    if await asyncio.to_thread(_can_run_agent, sys.executable, user, home):
        return sys.executable
    logger.info("machine users cannot use the controller's Python; installing a runtime")
    return await asyncio.to_thread(_install_runtime, user, home)
