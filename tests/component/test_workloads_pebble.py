"""Container watchers and local daemons against the real `rune-pebble`, driven by ops' own
client: a (re)started daemon is `ready`, a custom notice is a `custom-notice`, a check that
fails and recovers is `check-failed` then `check-recovered`; the notice cursor keeps a new
watcher from delivering a notice twice; a daemon that dies is restarted (a new boot id),
a daemon a killed agent left is adopted (kept running, restarted once it dies, stopped with
the supervisor), and a stopped supervisor leaves nothing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import ops
import pytest

from runecraft.agents import _pebble_daemon, _proc, _workloads, unit, uniter
from tests.conftest import free_port

from .test_unit_agent import MODEL, Charms, Outbox, build_zip, remote, running

TIMEOUT = 60.0


class Sink:
    """Keeps what the watchers deliver, as the unit agent's record would."""

    def __init__(self) -> None:
        self.events: list[uniter.WorkloadEvent] = []
        self.cursors: dict[str, str] = {}
        self.changed = asyncio.Event()
        self.backlog = 0
        """What `pending` answers: events waiting for hooks."""
        self.asked = 0

    def notice_cursor(self, container: str) -> str:
        return self.cursors.get(container, "")

    def pending(self, container: str) -> int:
        self.asked += 1
        self.changed.set()
        return self.backlog

    def deliver(
        self, container: str, events: Sequence[uniter.WorkloadEvent], cursor: str | None = None
    ) -> None:
        self.events.extend(events)
        if cursor is not None:
            self.cursors[container] = cursor
        self.changed.set()

    async def wait(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                self.changed.clear()
                await self.changed.wait()

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pb"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def paths_in(tmp_path: Path, short_dir: Path) -> _pebble_daemon.DaemonPaths:
    return _pebble_daemon.DaemonPaths(tmp_path / "containers" / "web", short_dir / "web.socket")


@asynccontextmanager
async def supervised(
    daemon: _pebble_daemon.LocalDaemon, sink: Sink | None = None
) -> AsyncIterator[None]:
    """The daemon under supervision, and a watcher on it when given a sink."""
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(daemon.run())]
        if sink is not None:
            watcher = _workloads.Watcher("web", daemon.paths.socket, sink, poll_interval=0.1)
            tasks.append(tg.create_task(watcher.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition on the daemon (in a thread: ops' client blocks), with a deadline."""
    async with asyncio.timeout(TIMEOUT):
        while not await asyncio.to_thread(condition):  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.05)


async def client_for(socket: Path) -> ops.pebble.Client:
    """ops' client, once the daemon answers."""
    client = ops.pebble.Client(socket_path=str(socket))
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                await asyncio.to_thread(client.get_system_info)
                return client
            except (ops.pebble.ConnectionError, ops.pebble.APIError):
                await asyncio.sleep(0.05)


async def test_ready_custom_notice_and_check_events(tmp_path: Path, short_dir: Path) -> None:
    sink = Sink()
    daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths_in(tmp_path, short_dir))
    async with supervised(daemon, sink):
        await sink.wait(lambda: sink.kinds() == ["ready"])
        client = await client_for(daemon.paths.socket)

        notice_id = await asyncio.to_thread(client.notify, ops.pebble.NoticeType.CUSTOM, "a.com/b")
        await sink.wait(lambda: "custom-notice" in sink.kinds())
        custom = sink.events[-1]
        assert (custom.notice_id, custom.notice_type, custom.notice_key) == (
            notice_id,
            "custom",
            "a.com/b",
        )
        assert sink.cursors["web"]

        port = free_port()
        layer: ops.pebble.LayerDict = {
            "services": {
                "http": {
                    "override": "replace",
                    "command": f"python3 -m http.server {port} --bind 127.0.0.1",
                    "startup": "enabled",
                }
            },
            "checks": {
                "up": {
                    "override": "replace",
                    "period": "0.3s",
                    "threshold": 1,
                    "http": {"url": f"http://127.0.0.1:{port}/"},
                }
            },
        }
        await asyncio.to_thread(client.add_layer, "l", layer, combine=True)
        await asyncio.to_thread(client.replan_services)

        await until(lambda: client.get_checks(names=["up"])[0].status == ops.pebble.CheckStatus.UP)
        before = len(sink.events)
        await asyncio.to_thread(client.stop_services, ["http"])
        await sink.wait(lambda: "check-failed" in sink.kinds()[before:])
        await asyncio.to_thread(client.start_services, ["http"])
        await sink.wait(lambda: "check-recovered" in sink.kinds()[before:])
    checks = [e for e in sink.events[before:] if e.kind.startswith("check-")]
    assert [(e.kind, e.check_name) for e in checks][-2:] == [
        ("check-failed", "up"),
        ("check-recovered", "up"),
    ]
    assert sink.kinds().count("ready") == 1  # nothing restarted meanwhile


async def test_the_cursor_keeps_notices_from_being_delivered_twice(
    tmp_path: Path, short_dir: Path
) -> None:
    sink = Sink()
    daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths_in(tmp_path, short_dir))
    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(daemon.run())
        client = await client_for(daemon.paths.socket)
        await asyncio.to_thread(client.notify, ops.pebble.NoticeType.CUSTOM, "a.com/one")
        first = tg.create_task(_workloads.Watcher("web", daemon.paths.socket, sink).run())
        await sink.wait(lambda: sorted(sink.kinds()) == ["custom-notice", "ready"])
        first.cancel()
        # A watcher of a restarted agent: ready again (boot ids are in memory), the old
        # notice not again, a new one yes.
        second = tg.create_task(_workloads.Watcher("web", daemon.paths.socket, sink).run())
        await asyncio.to_thread(client.notify, ops.pebble.NoticeType.CUSTOM, "a.com/two")
        await sink.wait(lambda: [e.notice_key for e in sink.events].count("a.com/two") == 1)
        await sink.wait(lambda: sink.kinds().count("ready") == 2)
        second.cancel()
        running.cancel()
    assert [e.notice_key for e in sink.events if e.kind == "custom-notice"] == [
        "a.com/one",
        "a.com/two",
    ]


async def test_notices_wait_while_too_many_events_are_pending(
    tmp_path: Path, short_dir: Path
) -> None:
    """The bound: over `MAX_PENDING` waiting events, the cursor stays and nothing is read;
    once hooks have run the notices come."""
    sink = Sink()
    sink.backlog = _workloads.MAX_PENDING + 1
    daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths_in(tmp_path, short_dir))
    async with asyncio.TaskGroup() as tg:
        running = tg.create_task(daemon.run())
        client = await client_for(daemon.paths.socket)
        await asyncio.to_thread(client.notify, ops.pebble.NoticeType.CUSTOM, "a.com/held")
        watcher = _workloads.Watcher("web", daemon.paths.socket, sink, retry_delay=0.05)
        watching = tg.create_task(watcher.run())
        await sink.wait(lambda: "ready" in sink.kinds() and sink.asked >= 3)
        assert sink.kinds() == ["ready"] and "web" not in sink.cursors
        sink.backlog = _workloads.MAX_PENDING
        await sink.wait(lambda: "custom-notice" in sink.kinds())
        assert sink.cursors["web"]
        watching.cancel()
        running.cancel()


async def test_a_dead_daemon_is_restarted_and_is_ready_again(
    tmp_path: Path, short_dir: Path
) -> None:
    sink = Sink()
    daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths_in(tmp_path, short_dir))
    async with supervised(daemon, sink):
        await sink.wait(lambda: sink.kinds() == ["ready"])
        first = daemon.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await sink.wait(lambda: sink.kinds() == ["ready", "ready"])
        assert daemon.starts == 2 and daemon.pid not in (None, first)
        last = daemon.pid
    # Stopped with the supervisor: no process, socket or pid file left.
    assert last is not None and not _proc.alive(last)
    assert not daemon.paths.socket.exists() and not daemon.paths.pid_file.exists()


def _left_by_a_killed_agent(paths: _pebble_daemon.DaemonPaths) -> subprocess.Popen[bytes]:
    paths.base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PEBBLE": str(paths.state), "PEBBLE_SOCKET": str(paths.socket)}
    left = subprocess.Popen(
        _pebble_daemon.daemon_argv("app/0", paths), env=env, start_new_session=True
    )
    paths.pid_file.write_text(f"{left.pid}\n")
    return left


async def test_a_daemon_left_by_a_killed_agent_is_adopted_and_stopped_with_the_unit(
    tmp_path: Path, short_dir: Path
) -> None:
    paths = paths_in(tmp_path, short_dir)
    left = _left_by_a_killed_agent(paths)
    try:
        await client_for(paths.socket)
        daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths)
        async with supervised(daemon):
            await until(lambda: daemon.pid is not None)
            # The workload runs on: the same daemon, none started.
            assert daemon.pid == left.pid and daemon.starts == 0
            await client_for(paths.socket)
            assert left.poll() is None
        assert left.wait() == 0  # stopped (SIGTERM) with the supervisor
        assert not paths.pid_file.exists()
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()


async def test_an_adopted_daemon_that_dies_is_started_again(
    tmp_path: Path, short_dir: Path
) -> None:
    paths = paths_in(tmp_path, short_dir)
    left = _left_by_a_killed_agent(paths)
    try:
        await client_for(paths.socket)
        sink = Sink()
        daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths)
        async with supervised(daemon, sink):
            await sink.wait(lambda: sink.kinds() == ["ready"])
            left.kill()
            left.wait()
            await sink.wait(lambda: sink.kinds() == ["ready", "ready"])
            assert daemon.starts == 1 and daemon.pid not in (None, left.pid)
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()


async def test_a_pid_file_naming_another_process_is_left_alone(
    tmp_path: Path, short_dir: Path
) -> None:
    paths = paths_in(tmp_path, short_dir)
    paths.base.mkdir(parents=True)
    other = subprocess.Popen(["sleep", "600"])
    try:
        paths.pid_file.write_text(f"{other.pid}\n")
        daemon = _pebble_daemon.LocalDaemon("app/0", "web", paths)
        async with supervised(daemon):
            await client_for(paths.socket)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


SIDECAR = {
    "metadata.yaml": (
        "name: side\nsummary: s\ndescription: s\n"
        "containers:\n  web:\n    resource: web-image\n"
        "resources:\n  web-image:\n    type: oci-image\n"
    ),
    "dispatch": (
        "#!/bin/sh\n"
        'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" PYTHONPATH=lib:venv '
        "/usr/bin/env python3 ./src/charm.py\n"
    ),
    "src/charm.py": """#!/usr/bin/env python3
import json
import ops


class Side(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        framework.observe(self.on.web_pebble_ready, self._on_ready)

    def _on_ready(self, event):
        container = event.workload
        layer = {"services": {"idle": {
            "override": "replace", "command": "sleep 600", "startup": "enabled"}}}
        container.add_layer("side", layer, combine=True)
        container.replan()
        running = container.get_service("idle").is_running()
        facts = {"socket": container.pebble.socket_path, "running": running}
        (self.charm_dir / "ready.json").write_text(json.dumps(facts))
        self.unit.status = ops.ActiveStatus("idle running" if running else "not running")


if __name__ == "__main__":
    ops.main(Side)
""",
}


async def test_a_unit_runs_its_containers_daemon_and_its_charm_reaches_it(
    tmp_path: Path, short_dir: Path
) -> None:
    """Machine units: the agent starts the daemon before install, the fork-served ops
    charm reaches it at `/charm/containers/web/pebble.socket`, and stopping the agent
    stops the daemon (and the service it started)."""
    archive = build_zip(SIDECAR)
    outbox = Outbox()
    agent = unit.UnitAgent(
        remote=remote(archive),
        paths=unit.UnitPaths.for_unit(tmp_path, "demo/0"),
        model=MODEL,
        outbox=outbox,
        charms=Charms(archive),
        agent_path=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        containers_dir=short_dir / "c",
        pebble_daemons=True,
    )
    async with running(agent):
        report = await outbox.wait_for(lambda r: r.workload.status == "active")
        daemon = agent.workloads.local["web"]
        pid = daemon.pid
    assert report.workload.message == "idle running"
    facts = json.loads((agent.paths.charm / "ready.json").read_text())
    # ops asked for /charm/containers/web/pebble.socket and was given the unit's own.
    assert facts["socket"] == str(short_dir / "c" / "web" / "pebble.socket")
    assert pid is not None and not _proc.alive(pid)
    assert not (short_dir / "c").exists()
    assert "cannot reach Pebble" not in agent.paths.log.read_text()
