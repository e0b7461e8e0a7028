"""The zero-setup substrate: a machine is a directory plus a machine-agent process.

Agents run in their own session so they outlive a controller crash; the controller finds
them again by pid file (checking the command line, so a reused pid is never mistaken).

As root, each machine's agent (and so its hooks) runs as a system user of its own, in a
0700 directory outside the controller's home (see `_local_isolation`); otherwise agents
run as the controller's user and nothing separates them (`isolation_message`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import structlog

from runecraft import _tracing, errors
from runecraft.controller._daemon import RunAs, spawn
from runecraft.controller.providers import _local_isolation as isolation
from runecraft.controller.providers._base import InstanceInfo, MachineSpec, ProviderContext

__all__ = ["LocalProvider", "agent_pids", "isolation_message", "pid_file", "remove_machines"]

logger = structlog.get_logger(__name__)

AGENT_MODULE = "runecraft.agents"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in {"Z", "X"}


def pid_file(directory: Path) -> Path:
    """Where the controller records a machine's agent: beside the machine's directory
    (`<model dir>/<n>.agent.pid`), in the controller's own model directory, out of reach
    of the machine's user (who could otherwise delete it, or plant a FIFO or a link)."""
    return directory.parent / f"{directory.name}.agent.pid"


def _recorded_pid(directory: Path) -> int | None:
    """The agent pid recorded for `directory`; one recorded inside it by an earlier
    version is read only if the controller wrote it, and moved beside it."""
    for path in (pid_file(directory), directory / "agent.pid"):
        try:
            pid = int(isolation.read_own_file(path).strip())
        except (OSError, ValueError):
            continue
        if path != pid_file(directory):
            isolation.create_file(pid_file(directory), str(pid).encode(), None, 0o644)
        return pid
    return None


def _agent_alive(directory: Path) -> int | None:
    """The pid of the machine's agent, if it is running."""
    pid = _recorded_pid(directory)
    if pid is None:
        return None
    config = str(directory / "agent.json")
    if AGENT_MODULE in _cmdline(pid) and config in _cmdline(pid) and not _is_zombie(pid):
        return pid
    return None


def agent_pids(machines_dir: Path) -> list[int]:
    """Pids of every live agent under a local provider's machines directory."""
    pids = []
    for directory in sorted(machines_dir.resolve().glob("*/*")):
        if directory.name.isdigit():
            pid = _agent_alive(directory)
            if pid is not None:
                pids.append(pid)
    return pids


def isolation_message(
    instance_id: str, *, isolated: bool, controller_uid: int | None = None
) -> str:
    """What `rune status` says of a local machine's isolation, given whether the local
    provider does run machines as users of their own (a root controller keeping a machines
    directory from before isolation does not): '' when it does. `controller_uid` (by
    default this process's) only says why not."""
    if not instance_id.startswith("local:") or isolated:
        return ""
    uid = os.geteuid() if controller_uid is None else controller_uid
    if uid == 0:
        return (
            "not isolated: the machines directory predates isolation, so this machine's "
            "agent and hooks run as root"
        )
    return (
        "not isolated: the controller does not run as root, so this machine's agent "
        "and hooks run as the controller's user"
    )


def remove_machines(machines_dir: Path) -> None:
    """Forget every machine of a destroyed controller (their users, and their directory
    outside the home); blocking, after the agents were stopped."""
    if isolation.isolating():
        isolation.remove_machines(machines_dir)


class LocalProvider:
    """Machines as directories under `<data_dir>/<model-uuid>/<number>/`."""

    name = "local"

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.root = context.data_dir.resolve()
        self.isolated = False
        if isolation.isolating():
            try:
                self.root = isolation.machines_dir(context.data_dir, context.controller_uuid)
            except OSError as exc:
                raise errors.PermanentError(
                    f"cannot prepare {isolation.MACHINES_ROOT} for machines of their own: {exc}"
                ) from exc
            self.isolated = self.root != context.data_dir
        self._children: dict[Path, subprocess.Popen[bytes]] = {}
        self._python: str | None = None
        """The interpreter machine users run the agent with (found on first use)."""

    def machine_dir(self, model_uuid: str, number: int) -> Path:
        return self.root / model_uuid / str(number)

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        directory = self.machine_dir(spec.model_uuid, spec.number)
        info = InstanceInfo(
            instance_id=f"local:{spec.model_uuid}/{spec.number}",
            hostname=socket.gethostname(),
            address="127.0.0.1",
        )
        if _agent_alive(directory) is not None:
            return info
        user = await self._prepare(directory, spec)
        config_path = directory / "agent.json"
        config = spec.agent_config.model_copy(update={"data_dir": str(directory)})
        isolation.create_file(config_path, config.model_dump_json(indent=2).encode(), user)
        python, run_as = sys.executable, None
        if user is not None:
            python = await self._agent_python(user, directory)
            run_as = RunAs(
                uid=user.uid,
                gid=user.gid,
                env={
                    "PATH": isolation.AGENT_PATH,
                    "HOME": str(directory),
                    "USER": user.name,
                    "LOGNAME": user.name,
                    "LANG": "C.UTF-8",
                    # The agent exports its spans where the controller does.
                    **_tracing.exported_environment(),
                },
            )
        process = spawn(
            [python, "-m", AGENT_MODULE, "--config", str(config_path)],
            isolation.open_log(directory / "agent.log", user),
            cwd=directory,
            run_as=run_as,
        )
        self._children[directory] = process
        isolation.create_file(pid_file(directory), str(process.pid).encode(), None, 0o644)
        logger.info(
            "machine agent started",
            machine=spec.number,
            pid=process.pid,
            user=user.name if user is not None else None,
        )
        return info

    async def _prepare(self, directory: Path, spec: MachineSpec) -> isolation.MachineUser | None:
        """Make the machine's directory (0700), owned by its own user when isolating."""
        if not self.isolated:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            return None
        directory.parent.mkdir(mode=0o711, exist_ok=True)
        directory.parent.chmod(0o711)
        name = isolation.machine_user(self.context.controller_uuid, spec.model_uuid, spec.number)
        user = await isolation.ensure_user(name, directory)
        isolation.prepare_runtime_dir(user)
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chown(directory, user.uid, user.gid, follow_symlinks=False)
        directory.chmod(0o700)
        return user

    async def _agent_python(self, user: isolation.MachineUser, directory: Path) -> str:
        if self._python is None:
            self._python = await isolation.agent_python(user, directory)
        return self._python

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        directory = self.machine_dir(model_uuid, number)
        child = self._children.get(directory)
        if child is not None and child.poll() is not None:
            del self._children[directory]
            return False
        return _agent_alive(directory) is not None

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        directory = self.machine_dir(model_uuid, number)
        pid = _agent_alive(directory)
        if pid is not None:
            await _terminate(pid, self._children.pop(directory, None))
        if self.isolated:  # what the machine's user left running goes before its files
            name = isolation.machine_user(self.context.controller_uuid, model_uuid, number)
            await isolation.remove_user(name)
        shutil.rmtree(directory, ignore_errors=True)
        pid_file(directory).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()

    async def close(self) -> None:
        for child in self._children.values():
            child.poll()


async def _terminate(pid: int, child: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline:
        if child is not None:
            if child.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return
        await asyncio.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if child is not None:
        await asyncio.to_thread(child.wait)
