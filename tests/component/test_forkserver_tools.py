"""Forked ops hooks call their hook tools without a process per call.

The tool client in the tools dir is replaced by a wrapper that notes each start and then runs
the real client: a spawned hook starts one per ops call, a forked one starts none for ops'
own calls (the fork server answers them in the hook process, over the same socket) but still
one for a tool the charm runs itself. What the charm gets back, and what the agent serves
and records, is the same either way.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft.agents import _forkserver, _toolserver, _unitlog, hookrunner
from tests.component.test_forkserver import ENV_DISPATCH, hook_env
from tests.component.test_hook_tools import Harness, make_harness

# ops' hook-command runner for seven tools (one reading stdin, one failing), then one tool
# run by the charm.
CHARM = """#!/usr/bin/env python3
import json, subprocess
from ops import hookcmds
seen = {"leader": hookcmds.is_leader(), "config": hookcmds.config_get()}
hookcmds.juju_log("from the charm", level="INFO")
hookcmds.status_set("active", "ready")
hookcmds.state_set({"greeting": "hi\\r\\nthere"})  # through the tool's stdin
seen["state"] = hookcmds.state_get("greeting")
try:
    hookcmds.relation_get(99)
except hookcmds.Error as exc:
    seen["error"] = [exc.returncode, exc.cmd, exc.stderr]
own = subprocess.run(["is-leader", "--format=json"], capture_output=True, text=True)
seen["own"] = [own.returncode, own.stdout]
with open("seen.json", "w") as file:
    json.dump(seen, file)
"""
OPS_CALLS = 7


def _counting_client(tools: Path, count: Path) -> None:
    """Make every tool in `tools` note its start in `count`, then run the real client."""
    real = tools.parent / "real-tools"
    _toolserver.install_tools(real)
    (tools / _toolserver.CLIENT_NAME).write_text(
        f'#!/bin/sh\necho "$0" >> {count}\nexec {real}/"${{0##*/}}" "$@"\n'
    )


@pytest.fixture
async def forks(tmp_path: Path) -> AsyncIterator[_forkserver.ForkServer]:
    server = _forkserver.ForkServer(tmp_path / "fork.sock", tmp_path / "fork.log")
    try:
        yield server
    finally:
        await server.close()


async def _hook(
    harness: Harness, forks: _forkserver.ForkServer | None, source: str = CHARM
) -> tuple[hookrunner.HookResult, list[str]]:
    """Run `source` as the charm's `install` hook; its result and the client starts it
    caused."""
    charm = harness.charm_dir
    (charm / "src").mkdir(exist_ok=True)
    (charm / "dispatch").write_text(ENV_DISPATCH)
    (charm / "dispatch").chmod(0o755)
    (charm / "src" / "charm.py").write_text(source)
    count = charm.parent / "client-starts"
    _counting_client(harness.tools, count)
    env = hook_env(
        charm,
        PATH=f"{harness.tools}:{Path(sys.executable).parent}:/usr/bin:/bin",
        JUJU_CONTEXT_ID=harness.ctx.id,
        JUJU_AGENT_SOCKET_ADDRESS=str(harness.socket),
    )
    log = _unitlog.UnitLog(charm.parent / "hook.log", "app/0")
    try:
        result = await hookrunner.run_hook(
            charm_dir=charm,
            hook="install",
            env=env,
            log=log,
            forks=forks,
            on_start=harness.binding.started,
        )
    finally:
        log.close()
    starts = count.read_text().splitlines() if count.exists() else []
    return result, [os.path.basename(start) for start in starts]


async def test_ops_tool_calls_in_a_forked_hook_start_no_process(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    results = []
    for name, server in (("spawned", None), ("forked", forks)):
        async for h in make_harness(tmp_path / name, leader=True, bind_test_process=False):
            result, starts = await _hook(h, server)
            assert result.ok, result.stderr
            calls = [
                (c.tool, c.args, c.exit_code, c.stdout, c.stderr) for c in h.binding.calls.calls
            ]
            seen = json.loads((h.charm_dir / "seen.json").read_text())
            results.append((seen, calls, starts, h.backend.unit_statuses))
    assert forks.pid is not None  # the second hook did go through the fork server
    (spawned, spawned_calls, spawned_starts, spawned_status) = results[0]
    (forked, forked_calls, forked_starts, forked_status) = results[1]
    assert len(spawned_starts) == OPS_CALLS + 1
    assert forked_starts == ["is-leader"]  # the charm's own call only
    assert forked == spawned
    assert forked["leader"] is True and forked["own"] == [0, "true\n"]
    assert forked["state"] == "hi\r\nthere"
    assert forked["error"][0] != 0 and forked["error"][2].startswith("ERROR")
    assert forked_calls == spawned_calls
    assert [call[0] for call in forked_calls] == [
        "is-leader",
        "config-get",
        "juju-log",
        "status-set",
        "state-set",
        "state-get",
        "relation-get",
        "is-leader",
    ]
    assert forked_status == spawned_status != []


PROBE = """#!/usr/bin/env python3
import gc, json, sys
seen = {"ops_imported": "ops" in sys.modules, "frozen": gc.get_freeze_count() > 0}
import ops
with open("seen.json", "w") as file:
    json.dump(seen, file)
"""


async def test_a_forked_hook_finds_ops_imported_and_frozen(
    tmp_path: Path, forks: _forkserver.ForkServer
) -> None:
    """The server imported ops before the hook, and froze it out of the hook's collections
    (a collection would otherwise walk, and copy, every object ops made)."""
    seen = []
    for name, server in (("spawned", None), ("forked", forks), ("again", forks)):
        async for h in make_harness(tmp_path / name, leader=True, bind_test_process=False):
            result, _ = await _hook(h, server, PROBE)
            assert result.ok, result.stderr
            seen.append(json.loads((h.charm_dir / "seen.json").read_text()))
    assert seen[0] == {"ops_imported": False, "frozen": False}
    assert seen[1] == seen[2] == {"ops_imported": True, "frozen": True}
