"""Ops hooks forked from a fork server: what the charm sees is what a spawned hook sees.

The charms here are made on the spot with a standard `dispatch`; the fork server runs with
this environment's `python3` (which has the real `ops` from PyPI) and imports `ops` as it
does for any charm.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from runecraft.agents import _forkserver, _leftovers, _unitlog, hookrunner
from tests._tmpfs import fill, small_tmpfs

ENV_DISPATCH = (
    "#!/bin/sh\n"
    'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:venv '
    "/usr/bin/env python3 ./src/charm.py\n"
)
CHARMCRAFT_DISPATCH = (
    "#!/bin/sh\n\n"
    'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:venv \\\n'
    "  exec ./src/charm.py\n"
)

# Reports what a hook process can observe, then does what HOOK_DOES says.
CHARM = """#!/usr/bin/env python3
import json, os, sys, time
import ops
facts = {
    "argv": sys.argv,
    "cwd": os.getcwd(),
    "file": __file__,
    "path0": sys.path[0],
    "lib_first": [p for p in sys.path if p.endswith(("/lib", "/venv"))][:2],
    "env": {k: v for k, v in os.environ.items() if k != "_"},
    "stdin": sys.stdin.read(),
    "ops": ops.__name__,
}
does = os.environ.get("HOOK_DOES", "")
if does == "sleep":
    with open("pid", "w") as f:  # a FIFO the test reads
        f.write(str(os.getpid()))
    time.sleep(600)
print(json.dumps(facts))
print("to stderr", file=sys.stderr)
if does == "big":
    sys.stdout.write("x" * 2_000_000 + "\\n")
if does == "exit":
    sys.exit(3)
if does == "message":
    sys.exit("bad config")
if does == "raise":
    raise RuntimeError("crashed on purpose")
"""


def make_charm(root: Path, dispatch: str = ENV_DISPATCH) -> Path:
    charm = root / "charm"
    (charm / "src").mkdir(parents=True)
    (charm / "lib").mkdir()
    (charm / "venv").mkdir()
    (charm / "metadata.yaml").write_text("name: probe\n")
    (charm / "dispatch").write_text(dispatch)
    (charm / "dispatch").chmod(0o755)
    (charm / "src" / "charm.py").write_text(CHARM)
    (charm / "src" / "charm.py").chmod(0o755)
    return charm


def hook_env(charm: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "JUJU_DISPATCH_PATH": "hooks/install",
        "JUJU_CHARM_DIR": str(charm),
        "LANG": "C.UTF-8",
        **extra,
    }


@pytest.fixture
async def forks(tmp_path: Path) -> AsyncIterator[_forkserver.ForkServer]:
    server = _forkserver.ForkServer(tmp_path / "fork.sock", tmp_path / "fork.log")
    try:
        yield server
    finally:
        await server.close()


async def run(
    charm: Path, env: dict[str, str], forks: _forkserver.ForkServer | None, action: bool = False
) -> hookrunner.HookResult:
    log = _unitlog.UnitLog(charm.parent / "unit.log", "probe/0")
    try:
        return await hookrunner.run_hook(
            charm_dir=charm,
            hook="install",
            env=env,
            log=log,
            forks=forks,
            action="probe" if action else None,
        )
    finally:
        log.close()


@pytest.mark.parametrize("dispatch", [ENV_DISPATCH, CHARMCRAFT_DISPATCH])
async def test_a_forked_hook_sees_what_a_spawned_hook_sees(
    tmp_path: Path, forks: _forkserver.ForkServer, dispatch: str
) -> None:
    charm = make_charm(tmp_path, dispatch)
    env = hook_env(charm)
    spawned = await run(charm, env, None, action=True)
    forked = await run(charm, env, forks, action=True)
    again = await run(charm, env, forks, action=True)
    assert forks.pid is not None  # the hooks did go through the fork server
    for result in (spawned, forked, again):
        assert (result.outcome, result.exit_code, result.stderr) == (
            hookrunner.HookOutcome.SUCCEEDED,
            0,
            b"to stderr\n",
        )
    seen = [json.loads(result.stdout) for result in (spawned, forked, again)]
    assert seen[0] == seen[1] == seen[2]
    assert seen[0]["argv"] == ["./src/charm.py"]
    assert seen[0]["file"] == f"{os.path.realpath(charm)}/./src/charm.py"
    assert seen[0]["env"]["PYTHONPATH"] == "lib:venv"
    assert seen[0]["env"]["PWD"] == os.path.realpath(charm)


@pytest.mark.parametrize(
    ("does", "code", "stderr_end"),
    [
        ("exit", 3, b"to stderr\n"),
        ("message", 1, b"bad config\n"),
        ("raise", 1, b"RuntimeError: crashed on purpose\n"),
    ],
)
async def test_exits_and_tracebacks_are_the_interpreters(
    tmp_path: Path, forks: _forkserver.ForkServer, does: str, code: int, stderr_end: bytes
) -> None:
    charm = make_charm(tmp_path)
    env = hook_env(charm, HOOK_DOES=does)
    spawned = await run(charm, env, None, action=True)
    forked = await run(charm, env, forks, action=True)
    assert forks.pid is not None
    assert spawned.exit_code == forked.exit_code == code
    assert spawned.stderr.endswith(stderr_end)
    assert forked.stderr == spawned.stderr  # a traceback starts at the charm, as spawned


async def test_all_of_a_forked_hooks_output_arrives(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    charm = make_charm(tmp_path)
    env = hook_env(charm, HOOK_DOES="big")
    for _ in range(3):
        result = await run(charm, env, forks, action=True)
        assert forks.pid is not None
        assert result.stdout.endswith(b"x" * 2_000_000 + b"\n")


async def test_cancelling_a_forked_hook_kills_it(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    charm = make_charm(tmp_path)
    env = hook_env(charm, HOOK_DOES="sleep")
    log = _unitlog.UnitLog(tmp_path / "unit.log", "probe/0")
    os.mkfifo(charm / "pid")
    task = asyncio.create_task(
        hookrunner.run_hook(
            charm_dir=charm, hook="install", env=env, log=log, forks=forks, kill_grace=5
        )
    )
    async with asyncio.timeout(60):
        pid = int(await asyncio.to_thread((charm / "pid").read_text))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    log.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # gone (and reaped by the fork server)


async def test_a_charm_the_server_cannot_serve_is_spawned_and_not_tried_again(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    charm = make_charm(tmp_path)
    (charm / "src" / "charm.py").write_text(CHARM.replace("import ops\n", "ops = json\n"))
    (charm / "venv" / "ops").mkdir()
    (charm / "venv" / "ops" / "__init__.py").write_text("raise ImportError('broken ops')\n")
    env = hook_env(charm)
    for _ in range(2):
        result = await run(charm, env, forks, action=True)
        assert (result.outcome, result.exit_code) == (hookrunner.HookOutcome.SUCCEEDED, 0)
    assert forks.pid is None
    assert (tmp_path / "fork.log").read_text().count("ImportError: broken ops") == 1


async def test_a_refreshed_charm_gets_a_new_server(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    charm = make_charm(tmp_path)
    env = hook_env(charm)
    await run(charm, env, forks)
    first = forks.pid
    await run(charm, env, forks)
    assert forks.pid == first is not None
    replaced = charm / "src" / "charm.py.new"  # as unpacking does: a new file renamed over
    replaced.write_text(CHARM)
    replaced.chmod(0o755)
    replaced.replace(charm / "src" / "charm.py")
    await run(charm, env, forks)
    assert forks.pid not in (None, first)


@pytest.mark.parametrize(
    ("dispatch", "expected"),
    [
        (ENV_DISPATCH, "./src/charm.py"),
        (CHARMCRAFT_DISPATCH, "./src/charm.py"),
        (ENV_DISPATCH.replace("lib:venv", "lib:venv:$PYTHONPATH"), None),
        (ENV_DISPATCH.replace("#!/bin/sh", "#!/bin/bash"), None),
        ("#!/bin/sh\necho hi\n", None),
        (ENV_DISPATCH + "echo after\n", None),
    ],
)
def test_only_a_standard_dispatch_is_forked(
    tmp_path: Path, dispatch: str, expected: str | None
) -> None:
    charm = make_charm(tmp_path, dispatch)
    found = _forkserver.entrypoint(charm, f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert (found[1] if found else None) == expected


def test_an_entrypoint_with_another_interpreter_is_not_forked(tmp_path: Path) -> None:
    charm = make_charm(tmp_path, CHARMCRAFT_DISPATCH)
    (charm / "src" / "charm.py").write_text("#!/usr/bin/env python2\n")
    assert _forkserver.entrypoint(charm, "/usr/bin:/bin") is None


AGENT = """
import asyncio, json, os, sys
from pathlib import Path
from runecraft.agents import _forkserver

async def main() -> None:
    work, charm = Path(sys.argv[1]), Path(sys.argv[2])
    forks = _forkserver.ForkServer(work / "fork.sock", work / "fork.log")
    hook = await forks.start(charm, json.loads(sys.argv[3]))
    assert hook is not None
    await hook.wait()
    print(forks.pid, flush=True)
    os._exit(0)  # as a killed agent would: no clean-up

asyncio.run(main())
"""


async def test_the_server_ends_with_the_agent_that_started_it(tmp_path: Path) -> None:
    charm = make_charm(tmp_path)
    agent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        AGENT,
        str(tmp_path),
        str(charm),
        json.dumps(hook_env(charm)),
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, _ = await agent.communicate()
    assert agent.returncode == 0
    try:
        pidfd = os.pidfd_open(int(out))
    except ProcessLookupError:
        return  # already gone
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(pidfd, gone.set)  # readable once the process has ended
    try:
        async with asyncio.timeout(30):  # far below the server's idle time
            await gone.wait()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


async def test_a_forked_hook_and_its_server_are_on_record_while_they_run(tmp_path: Path) -> None:
    charm = make_charm(tmp_path)
    records = _leftovers.ProcessRecords(tmp_path / "processes")
    server = _forkserver.ForkServer(tmp_path / "fork.sock", tmp_path / "fork.log", records=records)
    seen: dict[int, set[int]] = {}
    log = _unitlog.UnitLog(tmp_path / "unit.log", "probe/0")
    try:
        result = await hookrunner.run_hook(
            charm_dir=charm,
            hook="install",
            env=hook_env(charm),
            log=log,
            forks=server,
            on_start=lambda pid: seen.update({pid: set(records.recorded())}),
            records=records,
        )
        assert result.ok and server.pid is not None
        ((hook, recorded),) = seen.items()
        assert recorded == {hook, server.pid}  # the hook's session before it ran
        assert set(records.recorded()) == {server.pid}
    finally:
        log.close()
        await server.close()
    assert records.recorded() == {}


def _servers(socket_path: Path) -> list[int]:
    """Processes serving `socket_path` (a fork server's argv names its socket)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if os.fsencode(socket_path) in argv:
            found.append(int(entry.name))
    return found


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def _until(condition: Callable[[], bool]) -> None:
    """Poll a condition on what the agent writes, with a deadline."""
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 (the waiting side is the code under test)
            await asyncio.sleep(0.02)


def _install(
    charm: Path, records: _leftovers.ProcessRecords, server: _forkserver.ForkServer
) -> asyncio.Task[hookrunner.HookResult]:
    log = _unitlog.UnitLog(charm.parent / "unit.log", "probe/0")

    async def run() -> hookrunner.HookResult:
        try:
            return await hookrunner.run_hook(
                charm_dir=charm,
                hook="install",
                env=hook_env(charm),
                log=log,
                forks=server,
                records=records,
            )
        finally:
            log.close()

    return asyncio.create_task(run())


async def test_a_forked_hook_whose_record_finds_a_full_disk_waits_for_room(
    tmp_path: Path,
) -> None:
    charm = make_charm(tmp_path)
    with small_tmpfs("1m") as mount:
        records = _leftovers.ProcessRecords(mount / "processes")
        server = _forkserver.ForkServer(tmp_path / "f.sock", tmp_path / "fork.log", records=records)
        try:
            assert (await _install(charm, records, server)).ok
            started = server.pid
            filler = fill(mount)
            hook = _install(charm, records, server)
            try:
                await _until(lambda: "cannot record its process" in _text(tmp_path / "unit.log"))
                assert not hook.done()
                filler.unlink()
                assert (await hook).ok
            finally:
                hook.cancel()
            assert server.pid == started  # the same server forked it: it was not shut down
            assert set(records.recorded()) == {started}
        finally:
            await server.close()


async def test_a_fork_server_that_cannot_be_recorded_is_killed(tmp_path: Path) -> None:
    charm = make_charm(tmp_path)
    socket_path = tmp_path / "f.sock"
    with small_tmpfs("1m") as mount:
        records = _leftovers.ProcessRecords(mount / "processes")
        server = _forkserver.ForkServer(socket_path, tmp_path / "fork.log", records=records)
        filler = fill(mount)
        hook = _install(charm, records, server)
        try:
            await _until(lambda: "cannot record its process" in _text(tmp_path / "unit.log"))
            assert server.pid is None and _servers(socket_path) == []  # killed, not left
            filler.unlink()
            assert (await hook).ok  # spawned once its record was written
            assert records.recorded() == {}
        finally:
            hook.cancel()
            await server.close()
            for pid in _servers(socket_path):  # a server the agent left behind
                os.kill(pid, signal.SIGKILL)
