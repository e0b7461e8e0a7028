"""The tool server serves a context id only to the hook it belongs to (SO_PEERCRED).

Each isolation attempt asserts a clear error on the tool's stderr, a non-zero exit, and
that the hook's context was left unchanged.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .test_hook_tools import TIMEOUT, Harness, make_harness

DENIED = 'ERROR permission denied: caller is not the running hook of unit "app/0"'


@pytest.fixture
async def unbound(tmp_path: Path) -> AsyncIterator[Harness]:
    """A served hook whose process the test starts and reports itself."""
    async for harness in make_harness(tmp_path, leader=True, bind_test_process=False):
        yield harness


def hook_env(harness: Harness) -> dict[str, str]:
    return {
        "PATH": f"{harness.tools}:/usr/bin:/bin",
        "JUJU_CONTEXT_ID": harness.ctx.id,
        "JUJU_AGENT_SOCKET_ADDRESS": str(harness.socket),
    }


async def start_hook(harness: Harness, script: str) -> asyncio.subprocess.Process:
    """A hook process running `script` with the hook's environment, reported as the hook."""
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        script,
        env=hook_env(harness),
        cwd=harness.charm_dir,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    harness.binding.started(process.pid)
    return process


async def test_isolation_a_process_outside_the_hook_tree_is_refused(unbound: Harness) -> None:
    hook = await start_hook(unbound, "read line")  # the hook runs until we let it end
    try:
        code, out, err = await unbound.run("state-set", "stolen=yes")
    finally:
        await hook.communicate(b"end\n")
    assert (code, out) == (1, "")
    assert err.startswith(DENIED), err
    assert f"is not the hook process {hook.pid}" in err
    assert unbound.ctx.state_writes == {}


async def test_isolation_a_grandchild_of_the_hook_is_served(unbound: Harness) -> None:
    # The inner shell is the hook's child; state-set runs as its child.
    hook = await start_hook(unbound, "sh -c 'state-set k=v && echo $PPID'; true")
    async with asyncio.timeout(TIMEOUT):
        out, err = await hook.communicate()
    assert (hook.returncode, err) == (0, b"")
    assert int(out) == hook.pid
    assert unbound.ctx.state_writes == {"k": "v"}


async def test_isolation_a_finished_hooks_context_id_is_refused(unbound: Harness) -> None:
    hook = await start_hook(unbound, "state-set k=v")
    async with asyncio.timeout(TIMEOUT):
        await hook.communicate()
    assert hook.returncode == 0
    finished = unbound.ctx
    before = dict(finished.state_writes)
    unbound.server._binding = None  # what leaving `serving()` does when the hook ends
    code, out, err = await unbound.run("state-set", "k=changed")
    assert (code, out) == (1, "")
    assert err == f'ERROR bad context id "{finished.id}"\n'
    assert finished.state_writes == before == {"k": "v"}


async def test_isolation_a_finished_hook_refuses_calls_made_after_serving_ends(
    tmp_path: Path,
) -> None:
    async for harness in make_harness(tmp_path, leader=True):
        server, ctx = harness.server, harness.ctx
    # `make_harness` left `serving()` and closed the server: the id is dead, the socket gone.
    assert server._binding is None
    assert not harness.socket.exists()
    code, _, err = await harness.run("state-set", "k=v")
    assert code != 0
    assert err.startswith("ERROR")
    assert ctx.state_writes == {}


@pytest.mark.skipif(os.geteuid() != 0, reason="starting a process as another user needs root")
@pytest.mark.skipif(shutil.which("perl") is None, reason="the perl client runs as any user")
async def test_isolation_a_caller_with_another_uid_is_refused() -> None:
    root = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        async for harness in make_harness(root, leader=True, client="perl"):
            # Let another user reach the socket at all: the uid check is what refuses it.
            for path in (root, harness.socket.parent, harness.tools, harness.charm_dir):
                path.chmod(0o755)
            harness.socket.chmod(0o666)
            process = await asyncio.create_subprocess_exec(
                str(harness.tools / "state-set"),
                "stolen=yes",
                env=hook_env(harness),
                cwd=harness.charm_dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                user=65534,
                group=65534,
                extra_groups=[],
            )
            async with asyncio.timeout(TIMEOUT):
                out, err = await process.communicate()
            assert (process.returncode, out) == (1, b"")
            assert err.decode() == (
                f"{DENIED} (it runs as uid 65534, the hook as uid {os.geteuid()})\n"
            )
            assert harness.ctx.state_writes == {}
    finally:
        shutil.rmtree(root)
