"""A real UnitAgent deploying real charms (an ops charm and a bash-hook charm) to a tmp dir.

The outbox records every report; the charm source serves zips built here; the hooks are
real processes using the real hook tools. The charms append each hook's name to
`hooks.log` in their charm dir, which is how ordering is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import site
import sys
import zipfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from runecraft import charms as charm_files
from runecraft import errors
from runecraft.agents import _state_store, unit, uniter
from runecraft.schemas import bus

TIMEOUT = 60.0
MODEL = unit.ModelInfo(
    model_name="test", model_uuid="0b1e4d1c-0000-4000-8000-000000000001", machine_id="0"
)

OPS_CHARM = {
    "metadata.yaml": "name: demo\nsummary: demo\ndescription: demo\n",
    "config.yaml": "options:\n  greeting:\n    type: string\n    default: hello\n",
    "dispatch": (
        "#!/bin/sh\n"
        'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" '
        f"PYTHONPATH=lib:venv:{site.getsitepackages()[0]} "
        f"exec {sys.executable} ./src/charm.py\n"
    ),
    "src/charm.py": """#!/usr/bin/env python3
import os
import ops


class DemoCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        for event in (
            self.on.install, self.on.leader_elected, self.on.config_changed, self.on.start,
            self.on.update_status, self.on.stop, self.on.remove,
        ):
            framework.observe(event, self._record)
        framework.observe(self.on.leader_elected, self._on_leader)
        framework.observe(self.on.config_changed, self._on_config)
        framework.observe(self.on.start, self._on_config)

    def _record(self, event):
        with open(os.path.join(self.charm_dir, "hooks.log"), "a") as log:
            log.write(os.environ["JUJU_HOOK_NAME"] + "\\n")

    def _on_leader(self, event):
        self.app.status = ops.ActiveStatus("leading")

    def _on_config(self, event):
        self.unit.set_workload_version("1.0")
        self.unit.status = ops.ActiveStatus("ready: " + str(self.config["greeting"]))


if __name__ == "__main__":
    ops.main(DemoCharm)
""",
}

RECORD = 'echo "$JUJU_HOOK_NAME" >> "$CHARM_DIR/hooks.log"\n'
BASH_CHARM = {
    "metadata.yaml": "name: plain\nsummary: plain\ndescription: plain\n",
    "hooks/install": (
        f"#!{sys.executable} -I\n"
        "import json, os\n"
        "with open('env-install.json', 'w') as f:\n"
        "    json.dump(dict(os.environ), f)\n"
        "with open(os.path.join(os.environ['CHARM_DIR'], 'hooks.log'), 'a') as f:\n"
        "    f.write('install\\n')\n"
        "print('hello from install')\n"
    ),
    "hooks/config-changed": (
        "#!/bin/bash\n"
        + RECORD
        + 'juju-log -l WARNING "config is $(config-get --format=json)"\n'
        + 'echo "to stderr" >&2\n'
        + 'if [ -e "$CHARM_DIR/fail" ]; then exit 3; fi\n'
    ),
    "hooks/start": "#!/bin/bash\n" + RECORD,
    "hooks/update-status": "#!/bin/bash\n" + RECORD,
    "hooks/stop": "#!/bin/bash\n" + RECORD,
    "hooks/remove": "#!/bin/bash\n" + RECORD,
}


def build_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name)
            executable = name == "dispatch" or name.startswith(
                ("hooks/", "actions/", "src/charm.py")
            )
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            zf.writestr(info, text)
    return buffer.getvalue()


class Charms:
    """An in-memory CharmSource; can be told to fail a number of fetches."""

    def __init__(self, *archives: bytes) -> None:
        self.blobs = {hashlib.sha256(a).hexdigest(): a for a in archives}
        self.failures = 0
        self.fetched: list[str] = []

    async def fetch(self, sha256: str) -> bytes:
        self.fetched.append(sha256)
        if self.failures:
            self.failures -= 1
            raise errors.TemporaryError("controller unavailable")
        try:
            return self.blobs[sha256]
        except KeyError:
            raise errors.NotFoundError(f"charm {sha256} not found") from None


class Outbox:
    """Records messages; tests wait on conditions over them (no sleeps)."""

    def __init__(self) -> None:
        self.messages: list[unit.AgentMessage] = []
        self._changed = asyncio.Condition()

    @property
    def commits(self) -> list[bus.HookCommit]:
        return [m for m in self.messages if isinstance(m, bus.HookCommit)]

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(predicate)

    async def send(self, message: unit.AgentMessage) -> bool:
        self.messages.append(message)
        async with self._changed:
            self._changed.notify_all()
        return True

    @property
    def reports(self) -> list[bus.UnitReport]:
        return [m for m in self.messages if isinstance(m, bus.UnitReport)]

    @property
    def last(self) -> bus.UnitReport:
        return self.reports[-1]

    async def wait_for(self, predicate: Callable[[bus.UnitReport], bool]) -> bus.UnitReport:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: bool(self.reports) and predicate(self.last))
        return self.last

    async def wait_idle(self, config_hash: str) -> bus.UnitReport:
        return await self.wait_for(
            lambda r: r.agent.status == "idle" and r.converged_hash == config_hash
        )


class Clock:
    """Wall clock that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def remote(charm: bytes, **changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "demo/0",
        "application": "demo",
        "charm": bus.CharmRef(sha256=hashlib.sha256(charm).hexdigest(), name="demo"),
        "config": {"greeting": "hello"},
        "config_hash": "h1",
    }
    return bus.UnitRemoteState(**{**base, **changes})


def hooks_run(agent: unit.UnitAgent) -> list[str]:
    path = agent.paths.charm / "hooks.log"
    return path.read_text().split() if path.exists() else []


def running_hooks(outbox: Outbox) -> list[str]:
    """Hooks in the order the agent reported running them (one entry per run)."""
    runs: list[str] = []
    previous: bus.StatusValue | None = None
    for report in outbox.reports:
        if report.agent.status == "executing" and report.agent != previous:
            runs.append(report.agent.message.removeprefix("running ").removesuffix(" hook"))
        previous = report.agent
    return runs


@asynccontextmanager
async def running(agent: unit.UnitAgent) -> AsyncIterator[asyncio.Task[None]]:
    """Run the agent as a task owned by the test; cancel it on exit unless it finished."""
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(agent.run())
        try:
            yield task
        finally:
            task.cancel()


def make_agent(
    tmp_path: Path,
    state: bus.UnitRemoteState,
    charms: Charms,
    outbox: Outbox,
    clock: Callable[[], float] | None = None,
) -> unit.UnitAgent:
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    return unit.UnitAgent(
        remote=state,
        paths=unit.UnitPaths.for_unit(tmp_path, state.unit),
        model=MODEL,
        outbox=outbox,
        charms=charms,
        **extra,
    )


# --- the ops charm, whole lifecycle ----------------------------------------------------------


async def test_ops_charm_deploy_configure_remove_as_leader(tmp_path: Path) -> None:
    archive = build_zip(OPS_CHARM)
    outbox, charms = Outbox(), Charms(archive)
    state = remote(archive, leader=True)
    agent = make_agent(tmp_path, state, charms, outbox)
    assert agent.paths.base == tmp_path / "units" / "demo-0"

    async with running(agent) as task:
        final = await outbox.wait_idle("h1")
        assert hooks_run(agent) == ["install", "leader-elected", "config-changed", "start"]
        assert running_hooks(outbox) == ["install", "leader-elected", "config-changed", "start"]
        assert final.workload == bus.StatusValue(status="active", message="ready: hello")
        assert final.workload_version == "1.0"
        assert not final.removed
        # Before install the agent said what it was doing, since the charm had not.
        install = next(r for r in outbox.reports if r.agent.message == "running install hook")
        assert install.workload == bus.StatusValue(
            status="maintenance", message="installing charm software"
        )
        apps = [m for m in outbox.messages if isinstance(m, bus.AppStatusReport)]
        assert [(a.application, a.unit, a.status.message) for a in apps] == [
            ("demo", "demo/0", "leading")
        ]
        seqs = [m.seq for m in outbox.messages if not isinstance(m, bus.HookRun)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert (agent.paths.charm / ".unit-state.db").exists()

        agent.update(remote(archive, leader=True, config={"greeting": "hi"}, config_hash="h2"))
        final = await outbox.wait_idle("h2")
        assert hooks_run(agent)[4:] == ["config-changed"]
        assert final.workload == bus.StatusValue(status="active", message="ready: hi")

        agent.update(remote(archive, leader=True, life="dying", config_hash="h2"))
        async with asyncio.timeout(TIMEOUT):
            await task
    assert hooks_run(agent)[5:] == ["stop", "remove"]
    assert outbox.last.removed
    assert outbox.last.workload == bus.StatusValue(status="terminated", message="")
    assert agent.removed
    assert charms.fetched == [state.charm.sha256]


# --- the bash charm: environment, logs, automatic statuses, errors -------------------------


async def test_bash_charm_non_leader_env_and_logs(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox = Outbox()
    state = remote(archive)
    agent = make_agent(tmp_path, state, Charms(archive), outbox)
    async with running(agent):
        final = await outbox.wait_idle("h1")
    assert hooks_run(agent) == ["install", "config-changed", "start"]
    # The charm never called status-set, so start leaves the status unknown.
    assert final.workload == bus.StatusValue(status="unknown", message="")

    env = json.loads((agent.paths.charm / "env-install.json").read_text())
    charm_dir = str(agent.paths.charm)
    assert env.pop("JUJU_CONTEXT_ID").startswith("demo/0-install-")
    assert env.pop("PATH").startswith(f"{agent.paths.tools}:")
    assert env == {
        "JUJU_DISPATCH_PATH": "hooks/install",
        "JUJU_HOOK_NAME": "install",
        "JUJU_UNIT_NAME": "demo/0",
        "JUJU_MODEL_NAME": "test",
        "JUJU_MODEL_UUID": MODEL.model_uuid,
        "JUJU_VERSION": "3.6.12",
        "JUJU_CHARM_DIR": charm_dir,
        "CHARM_DIR": charm_dir,
        "JUJU_AGENT_SOCKET_ADDRESS": str(agent.paths.socket),
        "JUJU_AGENT_SOCKET_NETWORK": "unix",
        "JUJU_MACHINE_ID": "0",
        "JUJU_PRINCIPAL_UNIT": "",
        "JUJU_AVAILABILITY_ZONE": "",
        "JUJU_API_ADDRESSES": "",
        "CLOUD_API_VERSION": "",
        "JUJU_CHARM_HTTP_PROXY": "",
        "JUJU_CHARM_HTTPS_PROXY": "",
        "JUJU_CHARM_FTP_PROXY": "",
        "JUJU_CHARM_NO_PROXY": "",
        "LANG": "C.UTF-8",
        "DEBIAN_FRONTEND": "noninteractive",
        "APT_LISTCHANGES_FRONTEND": "none",
        "TERM": "tmux-256color",
    }

    log = agent.paths.log.read_text()
    assert "DEBUG unit.demo/0.hook hello from install" in log
    assert "WARNING unit.demo/0.hook to stderr" in log
    assert 'WARNING unit.demo/0.juju-log config is {"greeting":"hello"}' in log
    assert 'skipped "leader-elected"' not in log  # non-leaders never get leader-elected
    assert agent.paths.state.exists() and agent.paths.socket.exists() is False


async def test_failing_hook_reports_error_then_retries(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock = Outbox(), Clock()
    agent = make_agent(tmp_path, remote(archive), Charms(archive), outbox, clock)
    async with running(agent):
        await outbox.wait_idle("h1")
        (agent.paths.charm / "fail").touch()
        agent.update(remote(archive, config={"greeting": "x"}, config_hash="h2"))
        failed = await outbox.wait_for(lambda r: r.agent.status == "error")
        assert failed.workload == bus.StatusValue(
            status="error", message='hook failed: "config-changed"'
        )
        assert failed.agent == bus.StatusValue(
            status="error", message='hook failed: "config-changed"'
        )
        assert failed.converged_hash == "h1"
        error = agent.local.error
        assert error is not None and error.attempts == 1
        assert error.retry_at == pytest.approx(clock.now + 5.0, rel=0, abs=0.51)

        # Once the retry is due (and the cause fixed), the same hook runs again.
        clock.now = error.retry_at
        (agent.paths.charm / "fail").unlink()
        agent.poke()
        final = await outbox.wait_idle("h2")
    assert hooks_run(agent) == [
        "install",
        "config-changed",
        "start",
        "config-changed",
        "config-changed",
    ]
    assert final.workload == bus.StatusValue(status="unknown", message="")
    assert agent.local.error is None


async def test_update_status_runs_when_its_timer_is_due(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock = Outbox(), Clock()
    state = remote(archive, update_status_interval=60.0)
    agent = make_agent(tmp_path, state, Charms(archive), outbox, clock)
    async with running(agent):
        await outbox.wait_idle("h1")
        clock.now += 61.0
        count = len(outbox.reports)
        agent.poke()
        await outbox.wait_for(
            lambda r: len(outbox.reports) > count + 1 and r.agent.status == "idle"
        )
    assert hooks_run(agent) == ["install", "config-changed", "start", "update-status"]


async def test_charm_fetch_failure_is_retried(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, clock, charms = Outbox(), Clock(), Charms(archive)
    charms.failures = 1
    agent = make_agent(tmp_path, remote(archive), charms, outbox, clock)
    async with running(agent):
        failed = await outbox.wait_for(lambda r: r.agent.status == "error")
        assert failed.agent.message == "cannot download charm: controller unavailable"
        assert hooks_run(agent) == []
        clock.now += 5.0
        agent.poke()
        await outbox.wait_idle("h1")
    assert hooks_run(agent) == ["install", "config-changed", "start"]
    assert len(charms.fetched) == 2


async def test_corrupt_charm_is_refused(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    charms = Charms(archive)
    charms.blobs[hashlib.sha256(archive).hexdigest()] = b"tampered"
    outbox = Outbox()
    agent = make_agent(tmp_path, remote(archive), charms, outbox)
    async with running(agent):
        failed = await outbox.wait_for(lambda r: r.agent.status == "error")
    assert "charm archive has sha256" in failed.agent.message
    assert hooks_run(agent) == []


async def test_dying_before_install_reports_removed_without_hooks(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, charms = Outbox(), Charms(archive)
    agent = make_agent(tmp_path, remote(archive, life="dying"), charms, outbox)
    async with running(agent) as task, asyncio.timeout(TIMEOUT):
        await task
    assert outbox.last.removed
    assert charms.fetched == []


# --- crash resumption ------------------------------------------------------------------------


async def test_hook_interrupted_by_a_crash_runs_again(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    state = remote(archive)
    paths = unit.UnitPaths.for_unit(tmp_path, state.unit)
    paths.charm.mkdir(parents=True)
    charm_files.unpack(archive, paths.charm)
    start = uniter.Operation(
        id="3",
        kind=uniter.OpKind.RUN_HOOK,
        hook="start",
        config_hash="h1",
        step=uniter.Step.RUNNING,
    )
    crashed = uniter.LocalState(
        installed=True,
        config_hash="h1",
        charm_sha=state.charm.sha256,
        operation=start,
        op_seq=3,
        leader_settings_version=0,
    )
    _state_store.StateStore(paths.state).save(_state_store.UnitRecord(local=crashed))

    outbox, source = Outbox(), Charms(archive)
    agent = make_agent(tmp_path, state, source, outbox)
    async with running(agent):
        await outbox.wait_idle("h1")
    assert hooks_run(agent) == ["start"]
    assert running_hooks(outbox) == ["start"]
    assert agent.local.started
    assert agent.local.operation is not None
    assert (agent.local.operation.id, agent.local.operation.step) == ("3", uniter.Step.DONE)
    assert source.fetched == []  # installed units do not fetch again


async def test_agent_killed_mid_hook_reruns_it_after_restart(tmp_path: Path) -> None:
    archive = build_zip(
        {
            **BASH_CHARM,
            "hooks/start": "#!/bin/bash\n"
            + RECORD
            + "status-set maintenance starting\nsleep 600\n",
        }
    )
    outbox = Outbox()
    state = remote(archive)
    first = make_agent(tmp_path, state, Charms(archive), outbox)
    async with running(first) as task:
        # The hook's status-set proves it is really running (and is reported at once).
        await outbox.wait_for(lambda r: r.workload.message == "starting")
        assert first.paths.state.exists()
        task.cancel()
    op = _state_store.StateStore(first.paths.state).load().local.operation
    assert op is not None and (op.hook, op.step) == ("start", uniter.Step.RUNNING)

    # Restart with a start hook that finishes: it runs again, then the unit settles.
    fixed = dict(BASH_CHARM)
    (first.paths.charm / "hooks" / "start").write_text(fixed["hooks/start"])
    second_outbox = Outbox()
    second = make_agent(tmp_path, state, Charms(archive), second_outbox)
    async with running(second):
        await second_outbox.wait_idle("h1")
    assert hooks_run(second) == ["install", "config-changed", "start", "start"]


# --- settling on snapshots ---------------------------------------------------------------------


async def test_idle_reports_name_the_snapshot_they_settled_on(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    outbox = Outbox()
    state = remote(archive)
    agent = unit.UnitAgent(
        remote=state,
        paths=unit.UnitPaths.for_unit(tmp_path, state.unit),
        model=MODEL,
        outbox=outbox,
        charms=Charms(archive),
        snapshot_revision=7,
    )
    async with running(agent):
        settled = await outbox.wait_idle("h1")
        assert settled.snapshot_revision == 7
        # While working, reports never claim idle: every idle report is a settled one.
        assert all(r.snapshot_revision == 7 for r in outbox.reports)

        # A snapshot that changes nothing for this unit: no hook, a fresh idle report.
        agent.update(state, 8)
        again = await outbox.wait_for(lambda r: r.snapshot_revision == 8)
        assert again.agent.status == "idle" and again.converged_hash == "h1"

        # A snapshot with new config: idle on 9 only after config-changed ran.
        agent.update(remote(archive, config={"greeting": "x"}, config_hash="h2"), 9)
        final = await outbox.wait_for(
            lambda r: r.snapshot_revision == 9 and r.agent.status == "idle"
        )
        assert final.converged_hash == "h2"
        nine = [r for r in outbox.reports if r.snapshot_revision == 9]
        assert nine[0].agent.status == "executing"
    assert hooks_run(agent) == ["install", "config-changed", "start", "config-changed"]


async def test_long_unit_dir_gets_a_short_private_socket(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    outbox = Outbox()
    state = remote(archive, unit="a-very-long-application-name-indeed/12")
    agent = make_agent(deep, state, Charms(archive), outbox)
    socket_path = agent.paths.socket
    assert socket_path.parent != agent.paths.base
    assert len(str(socket_path)) <= 107
    async with running(agent):
        await outbox.wait_idle("h1")
        assert socket_path.stat().st_mode & 0o777 == 0o600
        assert socket_path.parent.stat().st_mode & 0o777 == 0o700
    env = json.loads((agent.paths.charm / "env-install.json").read_text())
    assert env["JUJU_AGENT_SOCKET_ADDRESS"] == str(socket_path)
    agent.remove_dir()
    assert not socket_path.parent.exists() and not agent.paths.base.exists()


async def test_huge_hook_output_is_logged_without_stalling(tmp_path: Path) -> None:
    chatty = (
        "#!/bin/bash\n"
        + RECORD
        + "head -c 300000 /dev/zero | tr '\\0' x\necho\n"
        + "for i in $(seq 1 2000); do echo line-$i; done\n"
    )
    archive = build_zip({**BASH_CHARM, "hooks/start": chatty})
    outbox = Outbox()
    agent = make_agent(tmp_path, remote(archive), Charms(archive), outbox)
    async with running(agent):
        await outbox.wait_idle("h1")
    log = agent.paths.log.read_text()
    assert "x" * 300000 in log
    assert "DEBUG unit.demo/0.hook line-2000" in log


# --- actions (bash charm) ----------------------------------------------------------------------

ACTIONS_CHARM = {
    **BASH_CHARM,
    "actions/dump": (
        f"#!{sys.executable} -I\n"
        "import json, os, subprocess\n"
        "with open('env-action.json', 'w') as f:\n"
        "    json.dump(dict(os.environ), f)\n"
        "subprocess.run(['action-set', 'result.x=1'], check=True)\n"
        "print('hello')\n"
    ),
    "actions/crash": ("#!/bin/bash\nstate-set k=v\nprintf '\\377\\376'\necho oops >&2\nexit 3\n"),
    "actions/failer": "#!/bin/bash\nstate-set a=b\naction-fail nope\n",
}


async def test_bash_actions_env_output_and_failures(tmp_path: Path) -> None:
    archive = build_zip(ACTIONS_CHARM)
    outbox = Outbox()
    requests = (
        bus.ActionRequest(id="1", name="dump"),
        bus.ActionRequest(id="2", name="crash"),
        bus.ActionRequest(id="3", name="failer"),
        bus.ActionRequest(id="4", name="nothere"),
    )
    agent = make_agent(tmp_path, remote(archive, actions=requests), Charms(archive), outbox)
    async with running(agent):
        await outbox.wait_until(lambda: sum(1 for c in outbox.commits if c.action) == 4)
        await outbox.wait_idle("h1")
    by_id = {c.action.id: c for c in outbox.commits if c.action is not None}
    dump = by_id["1"].action
    assert dump is not None
    assert (dump.status, dump.message) == ("completed", "")
    assert dump.results == {"result": {"x": "1"}, "return-code": 0, "stdout": "hello\n"}
    env = json.loads((agent.paths.charm / "env-action.json").read_text())
    assert env["JUJU_HOOK_NAME"] == ""
    assert env["JUJU_DISPATCH_PATH"] == "actions/dump"
    assert (env["JUJU_ACTION_NAME"], env["JUJU_ACTION_UUID"], env["JUJU_ACTION_TAG"]) == (
        "dump",
        "1",
        "action-1",
    )
    assert env["JUJU_CONTEXT_ID"].startswith("demo/0-dump-")

    crash = by_id["2"].action
    assert crash is not None
    assert (crash.status, crash.message) == ("failed", "exit status 3")
    assert crash.results == {
        "return-code": 3,
        "stdout": "//4=",
        "stdout-encoding": "base64",
        "stderr": "oops\n",
    }
    assert by_id["2"].state_set == {}  # a failed process's writes are dropped

    failer = by_id["3"].action
    assert failer is not None
    assert (failer.status, failer.message) == ("failed", "nope")
    assert by_id["3"].state_set == {"a": "b"}  # action-fail still flushes

    missing = by_id["4"].action
    assert missing is not None
    assert (missing.status, missing.message) == (
        "failed",
        'action not implemented on unit "demo/0"',
    )
    assert agent.local.error is None
    assert [c.seq for c in outbox.commits] == [1, 2, 3, 4]


async def test_action_interrupted_by_a_crash_is_failed_not_rerun(tmp_path: Path) -> None:
    archive = build_zip(ACTIONS_CHARM)
    state = remote(archive, actions=(bus.ActionRequest(id="9", name="dump"),))
    paths = unit.UnitPaths.for_unit(tmp_path, state.unit)
    paths.charm.mkdir(parents=True)
    charm_files.unpack(archive, paths.charm)
    action = uniter.Operation(
        id="4",
        kind=uniter.OpKind.RUN_ACTION,
        action_id="9",
        action_name="dump",
        step=uniter.Step.RUNNING,
    )
    crashed = uniter.LocalState(
        installed=True,
        started=True,
        config_hash="h1",
        charm_sha=state.charm.sha256,
        operation=action,
        op_seq=4,
        leader_settings_version=0,
    )
    _state_store.StateStore(paths.state).save(_state_store.UnitRecord(local=crashed))
    outbox = Outbox()
    agent = make_agent(tmp_path, state, Charms(archive), outbox)
    async with running(agent):
        await outbox.wait_until(lambda: bool(outbox.commits))
        await outbox.wait_idle("h1")
    (commit,) = outbox.commits
    assert commit.action == bus.ActionOutcome(id="9", status="failed", message="action terminated")
    assert not (agent.paths.charm / "env-action.json").exists()
    assert agent.local.actions_done == ("9",)


# --- charm upgrade -------------------------------------------------------------------------------


async def test_upgrade_charm_deploys_over_the_charm_dir(tmp_path: Path) -> None:
    old = build_zip({**BASH_CHARM, "old-only.txt": "old"})
    new = build_zip(
        {**BASH_CHARM, "hooks/upgrade-charm": "#!/bin/bash\n" + RECORD, "new.txt": "new"}
    )
    outbox, charms = Outbox(), Charms(old, new)
    agent = make_agent(tmp_path, remote(old), charms, outbox)
    async with running(agent):
        await outbox.wait_idle("h1")
        assert (agent.paths.charm / "old-only.txt").exists()
        count = len(outbox.reports)
        agent.update(remote(new), 2)
        await outbox.wait_for(
            lambda r: (
                len(outbox.reports) > count
                and r.agent.status == "idle"
                and r.snapshot_revision == 2
            )
        )
    assert hooks_run(agent) == [
        "install",
        "config-changed",
        "start",
        "upgrade-charm",
        "config-changed",
    ]
    charm_dir = agent.paths.charm
    assert not (charm_dir / "old-only.txt").exists()  # only the old charm had it
    assert (charm_dir / "new.txt").read_text() == "new"
    assert (charm_dir / "env-install.json").exists()  # made by the charm: kept
    assert agent.local.charm_sha == hashlib.sha256(new).hexdigest()
    assert charms.fetched == [hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()]
