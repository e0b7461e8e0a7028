"""The local substrate's machine users and the files the controller writes for them.

A machine's directory is its user's: whatever it plants there (a link to a root file) must
not make the controller write or open something else as root.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import _local_isolation as isolation

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="machine users need root")


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
