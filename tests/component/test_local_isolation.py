"""The local substrate's machine users and the files the controller writes for them.

A machine's directory is its user's: whatever it plants there (a link to a root file) must
not make the controller write or open something else as root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from runecraft import errors
from runecraft.controller.providers import MachineSpec, ProviderContext, local
from runecraft.controller.providers import _local_isolation as isolation
from runecraft.schemas.agent import BrokerAddress

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="machine users need root")

GUARD = 60.0
"""Seconds a provider call may take before the test calls it blocked (a guard only)."""
SYSTEM_PYTHON = "/usr/bin/python3"
"""An interpreter a machine user can run, for the processes it leaves behind."""
T = TypeVar("T")


@pytest.fixture
def machine_dir() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        yield root / "0"
    finally:
        shutil.rmtree(root)


@pytest.fixture
async def user(machine_dir: Path) -> AsyncIterator[isolation.MachineUser]:
    name = isolation.machine_user(str(uuid.uuid4()), str(uuid.uuid4()), 0)
    made = await isolation.ensure_user(name, machine_dir)
    machine_dir.mkdir(mode=0o700)
    os.chown(machine_dir, made.uid, made.gid)
    yield made
    await isolation.remove_user(name)


def test_machine_users_differ_by_controller_model_and_machine() -> None:
    controller, model = str(uuid.uuid4()), str(uuid.uuid4())
    names = {
        isolation.machine_user(controller, model, 0),
        isolation.machine_user(controller, model, 1),
        isolation.machine_user(controller, str(uuid.uuid4()), 0),
        isolation.machine_user(str(uuid.uuid4()), model, 0),
    }
    assert len(names) == 4
    assert all(n.startswith(isolation.USER_PREFIX) and len(n) <= 32 for n in names)


async def test_a_machine_user_is_a_system_user_without_a_login_shell(
    user: isolation.MachineUser, machine_dir: Path
) -> None:
    entry = pwd.getpwnam(user.name)
    assert entry.pw_uid == user.uid != 0
    assert entry.pw_shell == "/usr/sbin/nologin"
    assert entry.pw_dir == str(machine_dir)
    assert (await isolation.ensure_user(user.name, machine_dir)) == user  # idempotent


async def test_concurrent_user_creation_and_removal_contend_for_the_passwd_lock() -> None:
    names = [isolation.machine_user(str(uuid.uuid4()), "m", n) for n in range(4)]
    made = await asyncio.gather(*(isolation.ensure_user(n, Path("/nonexistent")) for n in names))
    assert len({m.uid for m in made}) == len(names)
    await asyncio.gather(*(isolation.remove_user(n) for n in names))
    for name in names:
        with pytest.raises(KeyError):
            pwd.getpwnam(name)


async def test_isolation_a_link_planted_for_the_agent_config_is_not_followed(
    user: isolation.MachineUser, machine_dir: Path
) -> None:
    target = machine_dir.parent / "root-owned"
    target.write_text("untouched")
    config = machine_dir / "agent.json"
    config.symlink_to(target)
    planted_tmp = machine_dir / f".agent.json.{os.getpid()}.tmp"
    planted_tmp.symlink_to(target)
    isolation.create_file(config, b"{}", user)
    assert target.read_text() == "untouched"
    assert not config.is_symlink()
    info = config.stat()
    assert (config.read_bytes(), info.st_uid, oct(info.st_mode & 0o777)) == (
        b"{}",
        user.uid,
        "0o600",
    )


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
async def test_isolation_a_log_planted_as_a_link_is_refused(
    user: isolation.MachineUser, machine_dir: Path, plant: str
) -> None:
    target = machine_dir.parent / "root-owned"
    target.write_text("untouched")
    log = machine_dir / "agent.log"
    if plant == "symlink":
        log.symlink_to(target)
    else:
        os.link(target, log)
    with pytest.raises((OSError, errors.PermanentError)):
        os.close(isolation.open_log(log, user))
    assert target.read_text() == "untouched"
    assert target.stat().st_uid == 0


async def test_a_machine_log_is_handed_to_its_user(
    user: isolation.MachineUser, machine_dir: Path
) -> None:
    fd = isolation.open_log(machine_dir / "agent.log", user)
    try:
        os.write(fd, b"line\n")
    finally:
        os.close(fd)
    assert (machine_dir / "agent.log").stat().st_uid == user.uid


async def test_removing_a_user_ends_its_processes(user: isolation.MachineUser) -> None:
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        "read line",
        stdin=asyncio.subprocess.PIPE,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        cwd="/",
    )
    await isolation.remove_user(user.name)
    assert await process.wait() != 0  # killed, not ended by input
    with pytest.raises(KeyError):
        pwd.getpwnam(user.name)


async def test_a_machine_user_gets_a_private_runtime_dir_removed_with_it(
    user: isolation.MachineUser,
) -> None:
    path = isolation.prepare_runtime_dir(user)
    info = path.stat()
    assert (info.st_uid, oct(info.st_mode & 0o777)) == (user.uid, "0o700")
    assert oct(path.parent.stat().st_mode & 0o777) == "0o711"
    assert isolation.prepare_runtime_dir(user) == path  # a restarted agent keeps it
    await isolation.remove_user(user.name)
    assert not path.exists()


def _as_user(user: isolation.MachineUser, code: str) -> subprocess.Popen[str]:
    """`code` run by the system Python as `user`, in a session of its own, reporting on
    stdout and held until its stdin closes."""
    return subprocess.Popen(
        [SYSTEM_PYTHON, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        cwd="/",
        start_new_session=True,
    )


NON_DUMPABLE = """
import ctypes, sys
assert ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE 0
print("ready", flush=True)
sys.stdin.read()
"""

FORKING = """
import os, sys, time
print(os.getpid(), flush=True)
for _ in range(60_000):  # a new pid every millisecond, one process at a time, for a minute
    if os.fork():
        os._exit(0)
    time.sleep(0.001)
"""
"""A process that keeps moving to a new pid (its parent exits as it forks): a kill by pid
lists it and misses it; never more than two processes, and gone by itself after a minute."""


async def test_isolation_removing_a_user_ends_its_non_dumpable_processes(
    user: isolation.MachineUser,
) -> None:
    process = _as_user(user, NON_DUMPABLE)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    # Non-dumpable: its /proc entries show root as their owner (on older kernels
    # /proc/<pid> itself too), so an owner match cannot find it.
    assert Path(f"/proc/{process.pid}/status").stat().st_uid == 0
    await isolation.remove_user(user.name)
    assert process.wait() == -signal.SIGKILL
    with pytest.raises(KeyError):
        pwd.getpwnam(user.name)


async def test_isolation_removing_a_user_ends_processes_that_keep_forking(
    user: isolation.MachineUser,
) -> None:
    process = _as_user(user, FORKING)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == str(process.pid)
    await isolation.remove_user(user.name)
    process.wait()
    assert isolation._live_processes(user.uid) == []
    with pytest.raises(KeyError):
        pwd.getpwnam(user.name)


# The provider as a root controller runs it: real machine users, real agents.


@pytest.fixture
async def provider() -> AsyncIterator[local.LocalProvider]:
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    made = local.LocalProvider(
        ProviderContext(controller_uuid=str(uuid.uuid4()), data_dir=home / "machines")
    )
    try:
        yield made
    finally:
        for directory in made.root.glob("*/*"):
            if directory.name.isdigit():
                _release_fifos(directory)
                await made.destroy_machine(directory.parent.name, int(directory.name))
        local.remove_machines(home / "machines")
        shutil.rmtree(home)


def _release_fifos(directory: Path) -> None:
    """Open every FIFO planted in `directory` both ways (whoever blocked on one goes on),
    then remove it and links to it."""
    for path in sorted(directory.iterdir(), key=lambda p: not p.is_symlink()):
        if path.is_symlink() or stat.S_ISFIFO(path.lstat().st_mode):
            if path.exists():
                os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))
            path.unlink()


def _spec(model_uuid: str, number: int = 0) -> MachineSpec:
    with socket.socket() as probe:  # a broker nobody serves: the agent keeps trying
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return MachineSpec.for_agent(
        model_name="m",
        model_uuid=model_uuid,
        number=number,
        agent=f"machine-{number}",
        password="secret",
        broker=BrokerAddress(host="127.0.0.1", port=port, username="u", password="p"),
        api_url="http://127.0.0.1:9",
    )


async def _guarded(call: Callable[[], Awaitable[T]]) -> T:
    """`call()` on a loop of its own in a thread, so that one blocking its loop (on a FIFO)
    fails the test at the guard instead of freezing it; its result, or its error raised."""
    outcome: list[T | BaseException] = []
    done = threading.Event()

    def run() -> None:
        async def once() -> T:
            return await call()

        try:
            outcome.append(asyncio.run(once()))
        except BaseException as exc:  # handed to the test
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    async with asyncio.timeout(GUARD):
        while not done.is_set():
            await asyncio.to_thread(done.wait, 0.5)
    (result,) = outcome
    if isinstance(result, BaseException):
        raise result
    return result


def _plant(path: Path, kind: str, owner: Path) -> None:
    """What a machine's user can put at `path` in its own directory."""
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path, 0o600)
    elif kind == "symlink":
        fifo = owner / "elsewhere.fifo"
        os.mkfifo(fifo, 0o600)
        path.symlink_to(fifo)
    info = owner.stat()
    if kind != "deleted":
        os.chown(path, info.st_uid, info.st_gid, follow_symlinks=False)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "deleted"])
async def test_isolation_a_planted_agent_pid_neither_blocks_nor_starts_a_second_agent(
    provider: local.LocalProvider, kind: str
) -> None:
    model = str(uuid.uuid4())
    await provider.ensure_machine(_spec(model))
    (agent,) = local.agent_pids(provider.root)
    machine = provider.machine_dir(model, 0)
    assert machine.stat().st_uid != 0 and provider.isolated
    _plant(machine / "agent.pid", kind, machine)
    assert await _guarded(lambda: provider.machine_running(model, 0))
    await _guarded(lambda: provider.ensure_machine(_spec(model)))
    assert local.agent_pids(provider.root) == [agent]
    recorded = local.pid_file(machine).lstat()
    assert (recorded.st_uid, stat.S_ISREG(recorded.st_mode)) == (0, True)


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
async def test_isolation_a_planted_agent_log_is_refused_without_blocking(
    provider: local.LocalProvider, kind: str
) -> None:
    model = str(uuid.uuid4())
    await provider.ensure_machine(_spec(model))
    (agent,) = local.agent_pids(provider.root)
    exited = os.pidfd_open(agent)
    try:
        os.kill(agent, signal.SIGKILL)
        assert select.select([exited], [], [], GUARD)[0], "the agent did not die"
    finally:
        os.close(exited)
    assert not await _guarded(lambda: provider.machine_running(model, 0))
    machine = provider.machine_dir(model, 0)
    _plant(machine / "agent.log", kind, machine)
    with pytest.raises(errors.PermanentError, match=r"agent\.log"):
        await _guarded(lambda: provider.ensure_machine(_spec(model)))
    assert local.agent_pids(provider.root) == []


HOLDER = """
import os, sys
os.setresuid(0, int(sys.argv[1]), 0)  # a root process acting as the user: not its to kill
print("ready", flush=True)
sys.stdin.read()
"""


async def test_isolation_removing_machines_carries_on_past_a_user_that_cannot_go(
    provider: local.LocalProvider,
) -> None:
    model = str(uuid.uuid4())
    for number in (0, 1):
        await provider.ensure_machine(_spec(model, number))
    names = [isolation.machine_user(provider.context.controller_uuid, model, n) for n in (0, 1)]
    busy = pwd.getpwnam(names[0])
    holder = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", HOLDER, str(busy.pw_uid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        await asyncio.to_thread(local.remove_machines, provider.context.data_dir)
        assert pwd.getpwnam(names[0]).pw_uid == busy.pw_uid  # still busy, logged
        with pytest.raises(KeyError):
            pwd.getpwnam(names[1])
        assert local.agent_pids(provider.root) == []
        assert not provider.root.exists()
    finally:
        holder.kill()
        holder.wait()
        await isolation.remove_user(names[0])


@pytest.mark.parametrize("before_isolation", [False, True], ids=["fresh", "kept"])
async def test_isolation_status_reports_what_the_provider_does(before_isolation: bool) -> None:
    home = Path(tempfile.mkdtemp(dir="/tmp"))
    data_dir = home / "machines"
    if before_isolation:  # a machine made when the controller did not isolate
        (data_dir / "model" / "0").mkdir(parents=True)
        (data_dir / "model" / "0" / "agent.json").write_text("{}")
    controller = str(uuid.uuid4())
    try:
        provider = local.LocalProvider(
            ProviderContext(controller_uuid=controller, data_dir=data_dir)
        )
        message = local.isolation_message("local:model/0", isolated=provider.isolated)
        if before_isolation:
            assert not provider.isolated
            assert provider.root == data_dir
            assert message.startswith("not isolated:") and "as root" in message
        else:
            assert provider.isolated
            assert message == ""
    finally:
        local.remove_machines(data_dir)
        shutil.rmtree(isolation.MACHINES_ROOT / controller, ignore_errors=True)
        shutil.rmtree(home)
