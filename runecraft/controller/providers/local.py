"""The zero-setup substrate: a machine is a directory plus a machine-agent process.

Agents run in their own session so they outlive a controller crash; the controller finds
them again by pid file (checking the command line, so a reused pid is never mistaken).
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

from runecraft.controller._daemon import spawn
from runecraft.controller.providers._base import InstanceInfo, MachineSpec, ProviderContext

__all__ = ["LocalProvider", "agent_pids"]

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


def _agent_alive(pid_file: Path) -> int | None:
    """The pid of the agent recorded in `pid_file`, if that agent is running."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    config = str(pid_file.parent / "agent.json")
    if AGENT_MODULE in _cmdline(pid) and config in _cmdline(pid) and not _is_zombie(pid):
        return pid
    return None


def agent_pids(machines_dir: Path) -> list[int]:
    """Pids of every live agent under a local provider's machines directory."""
    pids = []
    for pid_file in sorted(machines_dir.glob("*/*/agent.pid")):
        pid = _agent_alive(pid_file)
        if pid is not None:
            pids.append(pid)
    return pids


class LocalProvider:
    """Machines as directories under `<data_dir>/<model-uuid>/<number>/`."""

    name = "local"

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.root = context.data_dir
        self._children: dict[Path, subprocess.Popen[bytes]] = {}

    def machine_dir(self, model_uuid: str, number: int) -> Path:
        return self.root / model_uuid / str(number)

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        directory = self.machine_dir(spec.model_uuid, spec.number)
        info = InstanceInfo(
            instance_id=f"local:{spec.model_uuid}/{spec.number}",
            hostname=socket.gethostname(),
            address="127.0.0.1",
        )
        if _agent_alive(directory / "agent.pid") is not None:
            return info
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        config_path = directory / "agent.json"
        config = spec.agent_config.model_copy(update={"data_dir": str(directory)})
        tmp = config_path.with_suffix(".tmp")
        tmp.write_text(config.model_dump_json(indent=2))
        tmp.chmod(0o600)
        tmp.replace(config_path)
        process = spawn(
            [sys.executable, "-m", AGENT_MODULE, "--config", str(config_path)],
            directory / "agent.log",
            cwd=directory,
        )
        self._children[directory] = process
        (directory / "agent.pid").write_text(str(process.pid))
        logger.info("machine agent started", machine=spec.number, pid=process.pid)
        return info

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        directory = self.machine_dir(model_uuid, number)
        child = self._children.get(directory)
        if child is not None and child.poll() is not None:
            del self._children[directory]
            return False
        return _agent_alive(directory / "agent.pid") is not None

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        directory = self.machine_dir(model_uuid, number)
        pid = _agent_alive(directory / "agent.pid")
        if pid is not None:
            await _terminate(pid, self._children.pop(directory, None))
        shutil.rmtree(directory, ignore_errors=True)
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
