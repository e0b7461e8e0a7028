"""Process groups on record (`_leftovers`): a hook's group is recorded before it runs and
until it ends (a hook whose agent died before recording it never runs); `reap()` kills
recorded groups that still run, and leaves a reused pid alone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runecraft.agents import _leftovers, _proc, _unitlog, hookrunner
from tests._tmpfs import fill, small_tmpfs


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed and reaped whatever the test did."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def _group(spawned: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """A group leader with a child, both running until killed (a hook and its `sleep`)."""
    process = subprocess.Popen(
        ["/bin/bash", "-c", "sleep 600 & echo $!; wait"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    spawned.append(process)
    return process


async def test_reap_kills_every_member_of_a_recorded_group(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    records = _leftovers.ProcessRecords(tmp_path / "processes")
    hook = _group(spawned)
    assert hook.stdout is not None
    child = int(hook.stdout.readline())
    records.add(hook.pid, "hook install")
    assert list(records.recorded()) == [hook.pid]

    assert await records.reap() == [hook.pid]
    assert hook.wait() == -signal.SIGKILL
    gone = _proc.stat(child)
    assert gone is None or gone.state == "Z"
    assert records.recorded() == {}


async def test_reap_leaves_a_reused_pid_and_forgets_ended_groups(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    records = _leftovers.ProcessRecords(tmp_path / "processes")
    stranger = _group(spawned)
    started = _proc.start_time(stranger.pid)
    assert started is not None
    # The recorded group's leader started earlier: this process only has its pid now.
    (tmp_path / "processes").mkdir()
    (tmp_path / "processes" / str(stranger.pid)).write_text(f"{started - 1} hook install\n")
    ended = subprocess.Popen(["/bin/true"], start_new_session=True)
    ended.wait()
    (tmp_path / "processes" / str(ended.pid)).write_text("1 hook start\n")

    assert await records.reap() == []
    assert stranger.poll() is None
    assert records.recorded() == {}


async def test_a_hooks_group_is_on_record_while_it_runs(tmp_path: Path) -> None:
    charm = tmp_path / "charm"
    (charm / "hooks").mkdir(parents=True)
    (charm / "metadata.yaml").write_text("name: c\n")
    (charm / "hooks" / "install").write_text('#!/bin/sh\nread go < "$GATE"\necho "$go"\n')
    (charm / "hooks" / "install").chmod(0o755)
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    opened = os.open(gate, os.O_RDWR)  # the hook ends only once it is told to
    records = _leftovers.ProcessRecords(tmp_path / "processes")
    seen: dict[int, dict[int, tuple[int, str]]] = {}

    def started(pid: int) -> None:
        seen[pid] = records.recorded()
        os.write(opened, b"go\n")

    try:
        result = await hookrunner.run_hook(
            charm_dir=charm,
            hook="install",
            env={"PATH": "/usr/bin:/bin", "GATE": str(gate)},
            log=_unitlog.UnitLog(tmp_path / "unit.log", "c/0"),
            on_start=started,
            records=records,
        )
    finally:
        os.close(opened)
    assert result.ok
    ((pid, recorded),) = seen.items()
    assert list(recorded) == [pid] and recorded[pid][1] == 'hook "install"'
    assert records.recorded() == {}  # it ended: nothing to kill


GATES = {
    "perl": ["perl", "-e", hookrunner._PERL_GATE],
    "python": [sys.executable, "-I", "-S", "-c", hookrunner._PYTHON_GATE],
}


@pytest.mark.parametrize("gate", GATES.values(), ids=GATES.keys())
@pytest.mark.parametrize("agent_said", [b"go\n", b""], ids=["recorded", "agent-died"])
def test_the_gate_runs_the_hook_untouched_only_once_told(
    tmp_path: Path, gate: list[str], agent_said: bytes
) -> None:
    if shutil.which(gate[0]) is None:
        pytest.skip(f"no {gate[0]}")
    hook = tmp_path / "hook"
    hook.write_text(
        f"#!{sys.executable} -I\nimport json, os, sys\n"
        "with open(os.environ['OUT'], 'w') as out:\n"
        "    seen = {'env': dict(os.environ), 'argv': sys.argv[1:], 'in': sys.stdin.read()}\n"
        "    json.dump(seen, out)\n"
    )
    hook.chmod(0o755)
    env = {"OUT": str(tmp_path / "env"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    done = subprocess.run(
        [*gate, str(hook), "arg"], input=agent_said + b"more", env=env, check=False
    )
    if agent_said:
        assert done.returncode == 0
        # Its environment exactly as given (a shell would add PWD), its stdin /dev/null.
        seen = json.loads((tmp_path / "env").read_text())
        assert seen == {"env": env, "argv": ["arg"], "in": ""}
    else:  # the agent is gone before it said "go"
        assert done.returncode != 0 and not (tmp_path / "env").exists()


async def test_a_hook_without_an_interpreter_line_fails_as_it_did_unrecorded(
    tmp_path: Path,
) -> None:
    charm = tmp_path / "charm"
    (charm / "hooks").mkdir(parents=True)
    (charm / "metadata.yaml").write_text("name: c\n")
    (charm / "hooks" / "install").write_text(f"touch {tmp_path / 'ran'}\n")
    (charm / "hooks" / "install").chmod(0o755)
    records = _leftovers.ProcessRecords(tmp_path / "processes")

    result = await hookrunner.run_hook(
        charm_dir=charm,
        hook="install",
        env={"PATH": "/usr/bin:/bin"},
        log=_unitlog.UnitLog(tmp_path / "unit.log", "c/0"),
        records=records,
    )
    assert not result.ok and "Exec format error" in result.message
    assert not (tmp_path / "ran").exists() and records.recorded() == {}


_AGENT = """
import asyncio, json, os, sys
from pathlib import Path
from runecraft.agents import _leftovers, _proc
directory = Path(sys.argv[1])
own = os.getpgrp()
(directory / str(own)).write_text(f"{_proc.start_time(own)} hook install\\n")
print(json.dumps(asyncio.run(_leftovers.ProcessRecords(directory).reap())))
"""


def test_reap_never_kills_the_kernels_group_or_the_agents_own(tmp_path: Path) -> None:
    directory = tmp_path / "processes"
    directory.mkdir()
    # Kernel threads show group 0 in /proc; killpg(0) is the caller's own group.
    (directory / "0").write_text("0 hook install\n")
    (directory / "1").write_text("0 hook install\n")
    # The agent, in a session of its own, finds a record naming its own group.
    agent = subprocess.run(
        [sys.executable, "-c", _AGENT, str(directory)],
        capture_output=True,
        start_new_session=True,
        timeout=60,
        check=False,
    )
    assert agent.returncode == 0, agent.stderr.decode()
    assert json.loads(agent.stdout.splitlines()[-1]) == []  # after its log lines
    assert sorted(path.name for path in directory.iterdir()) == []


async def test_reap_trusts_only_regular_files_of_its_own(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    directory = tmp_path / "processes"
    directory.mkdir()
    records = _leftovers.ProcessRecords(directory)
    linked, listed = _group(spawned), _group(spawned)
    # A link to a record that would kill a running group: not the agent's record.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text(f"{_proc.start_time(linked.pid)} hook install\n")
    (directory / str(linked.pid)).symlink_to(elsewhere)
    (directory / str(listed.pid)).mkdir()  # a directory cannot be read nor unlinked

    assert records.recorded() == {}
    assert await records.reap() == []
    assert linked.poll() is None and listed.poll() is None
    assert (directory / str(listed.pid)).is_dir() and elsewhere.exists()


def _remount_read_only(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)


async def test_reap_on_a_read_only_file_system_goes_on(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    with small_tmpfs("1m") as mount:
        directory = mount / "processes"
        records = _leftovers.ProcessRecords(directory)
        ended = subprocess.Popen(["/bin/true"], start_new_session=True)
        ended.wait()
        directory.mkdir()
        (directory / str(ended.pid)).write_text("1 hook start\n")
        hook = _group(spawned)
        records.add(hook.pid, "hook install")
        _remount_read_only(mount)

        # Neither record can be removed: both groups are dealt with all the same.
        assert await records.reap() == [hook.pid]
        assert hook.wait() == -signal.SIGKILL
        assert sorted(records.recorded()) == sorted([ended.pid, hook.pid])


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition on what the agent writes, with a deadline."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 (the waiting side is the code under test)
            await asyncio.sleep(0.02)


async def test_a_hook_whose_record_finds_a_full_disk_waits_for_room(tmp_path: Path) -> None:
    charm = tmp_path / "charm"
    (charm / "hooks").mkdir(parents=True)
    (charm / "metadata.yaml").write_text("name: c\n")
    (charm / "hooks" / "install").write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\n")
    (charm / "hooks" / "install").chmod(0o755)
    log = _unitlog.UnitLog(tmp_path / "unit.log", "c/0")
    with small_tmpfs("1m") as mount:
        records = _leftovers.ProcessRecords(mount / "processes")
        filler = fill(mount)
        hook = asyncio.create_task(
            hookrunner.run_hook(
                charm_dir=charm,
                hook="install",
                env={"PATH": "/usr/bin:/bin"},
                log=log,
                records=records,
            )
        )
        try:
            await until(lambda: "cannot record its process" in _text(tmp_path / "unit.log"))
            assert not hook.done() and not (tmp_path / "ran").exists()  # held at its gate
            filler.unlink()
            result = await hook
        finally:
            hook.cancel()
            log.close()
        assert result.ok and (tmp_path / "ran").exists()
        assert records.recorded() == {} and not list((mount / "processes").iterdir())
