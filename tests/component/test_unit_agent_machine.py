"""The machine agent: snapshots in, reports out, over a fake link and over a real broker."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from amqtt.broker import Broker

from runecraft import bus as mqtt
from runecraft import errors
from runecraft.agents import _charm_source, _relations, machine
from runecraft.controller import _tls
from runecraft.schemas import agent as agent_schema
from runecraft.schemas import bus

from .test_unit_agent import BASH_CHARM, Charms, build_zip

TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]


def agent_config(tmp_path: Path, port: int = 1883) -> agent_schema.AgentConfig:
    return agent_schema.AgentConfig(
        agent="machine-0",
        model_name="test",
        model_uuid="0b1e4d1c-0000-4000-8000-000000000001",
        machine_id="0",
        data_dir=str(tmp_path / "machine-0"),
        broker=agent_schema.BrokerAddress(
            host="127.0.0.1", port=port, username="machine-0", password="secret"
        ),
        api_url="http://127.0.0.1:17070",
        api_token="secret",
    )


class FakeLink:
    """An in-memory `BusLink`: the test plays the controller (which holds and acknowledges
    every log batch, as the real one does, unless `hold_logs` is off)."""

    def __init__(self, *, hold_logs: bool = True) -> None:
        self.sent: list[Any] = []
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self.reconnects: asyncio.Queue[None] = asyncio.Queue()
        self.logs: dict[str, list[str]] = {}
        self._hold_logs = hold_logs
        self._held: dict[str, int] = {}
        self._changed = asyncio.Event()

    def is_connected(self) -> bool:
        return True

    def publish(self, topic: str, payload: bytes) -> bool:
        assert topic == bus.up_topic("machine-0")
        message = bus.decode_agent_message(payload)
        self.sent.append(message)
        self._changed.set()
        if isinstance(message, bus.LogBatch) and self._hold_logs:
            lines = self.logs.setdefault(message.source, [])
            if message.end > self._held.get(message.source, 0):  # else a duplicate
                lines += message.lines
                self._held[message.source] = message.end
            ack = bus.LogAck(source=message.source, offset=self._held.get(message.source, 0))
            self.inbox.put_nowait(bus.encode(ack))
        return True

    def publish_first(self, topic: str, payload: bytes) -> None:
        self.publish(topic, payload)

    async def run(self, *, on_connect: mqtt.OnConnect, on_message: mqtt.OnMessage) -> None:
        await on_connect()
        while True:
            get_message = asyncio.ensure_future(self.inbox.get())
            get_reconnect = asyncio.ensure_future(self.reconnects.get())
            done, pending = await asyncio.wait(
                {get_message, get_reconnect}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            if get_reconnect in done:
                await on_connect()
            if get_message in done:
                await on_message(bus.down_topic("machine-0"), get_message.result())
                self.inbox.task_done()

    async def wait_for(self, predicate: Callable[[list[Any]], bool]) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not predicate(self.sent):
                self._changed.clear()
                await self._changed.wait()

    def reports(self, unit: str) -> list[bus.UnitReport]:
        return [m for m in self.sent if isinstance(m, bus.UnitReport) and m.unit == unit]


def snapshot(revision: int, *units: bus.UnitRemoteState) -> bytes:
    return bus.encode(
        bus.MachineSnapshot(
            revision=revision,
            model_name="test",
            model_uuid="0b1e4d1c-0000-4000-8000-000000000001",
            machine_id="0",
            units=units,
        )
    )


def unit_state(archive: bytes, **changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "plain/0",
        "application": "plain",
        "charm": bus.CharmRef(sha256=hashlib.sha256(archive).hexdigest(), name="plain"),
        "config_hash": "h1",
    }
    return bus.UnitRemoteState(**{**base, **changes})


@asynccontextmanager
async def serving(agent: machine.MachineAgent) -> AsyncIterator[asyncio.Task[None]]:
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(agent.run())
        try:
            yield task
        finally:
            agent.stop()


def last_report(link: FakeLink, unit: str) -> bus.UnitReport | None:
    reports = link.reports(unit)
    return reports[-1] if reports else None


async def test_machine_agent_runs_units_from_snapshots(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    config = agent_config(tmp_path)
    link = FakeLink()
    agent = machine.MachineAgent(config, link=link, charms=Charms(archive), heartbeat_interval=0.05)
    unit_dir = Path(config.data_dir) / "units" / "plain-0"

    def idle_on(config_hash: str) -> Callable[[list[Any]], bool]:
        def check(_: list[Any]) -> bool:
            report = last_report(link, "plain/0")
            return report is not None and (report.agent.status, report.converged_hash) == (
                "idle",
                config_hash,
            )

        return check

    async with serving(agent) as task:
        await link.wait_for(lambda sent: any(isinstance(m, bus.Hello) for m in sent))
        # Hello first, then a heartbeat (the periodic one may already have joined it).
        assert link.sent[0] == bus.Hello(agent="machine-0", units=())
        await link.wait_for(lambda sent: bus.Heartbeat(agent="machine-0", units=()) in sent)

        # Garbage and foreign snapshots are ignored; the agent keeps serving.
        await link.inbox.put(b"not json")
        await link.inbox.put(b'{"v": 1, "body": {"kind": "machine-snapshot"}}')
        await link.inbox.put(
            snapshot(1, unit_state(archive, unit="other/0")).replace(b'"0"', b'"9"')
        )
        await link.inbox.put(snapshot(2, unit_state(archive, leader=True)))
        await link.wait_for(idle_on("h1"))
        assert set(agent.units) == {"plain/0"}
        assert link.reports("plain/0")[-1].snapshot_revision == 2
        assert (unit_dir / "charm" / "hooks.log").read_text().split() == [
            "install",
            "config-changed",
            "start",
        ]
        assert 'skipped "leader-elected" hook (missing)' in (unit_dir / "unit.log").read_text()
        await link.wait_for(
            lambda sent: any(isinstance(m, bus.Heartbeat) and m.units == ("plain/0",) for m in sent)
        )

        # A stale snapshot changes nothing; a newer one is applied.
        await link.inbox.put(snapshot(1, unit_state(archive, leader=True, config_hash="old")))
        await link.inbox.put(snapshot(3, unit_state(archive, leader=True, config_hash="h2")))
        await link.wait_for(idle_on("h2"))
        assert "old" not in [r.converged_hash for r in link.reports("plain/0")]
        assert link.reports("plain/0")[-1].snapshot_revision == 3

        # After a reconnect: Hello names the units, and full reports are sent again.
        before = len(link.sent)
        await link.reconnects.put(None)
        await link.wait_for(lambda sent: any(isinstance(m, bus.UnitReport) for m in sent[before:]))
        # (A periodic heartbeat may be sent while the reconnect is on its way.)
        again = [m for m in link.sent[before:] if not isinstance(m, bus.Heartbeat)]
        hello = before + link.sent[before:].index(again[0])
        assert link.sent[hello] == bus.Hello(agent="machine-0", units=("plain/0",))
        assert link.sent[hello + 1] == bus.Heartbeat(agent="machine-0", units=("plain/0",))
        assert again[1].converged_hash == "h2"

        # Dying: stop, remove, removed=True; once the controller forgets it, the dir goes.
        await link.inbox.put(snapshot(4, unit_state(archive, life="dying", config_hash="h2")))
        await link.wait_for(lambda _: (last_report(link, "plain/0") or link.sent[0]).removed)
        assert unit_dir.exists()
        # Its log went first, the remove hook's last lines with it.
        assert 'ran hook "remove"' in link.logs["plain/0"][-1]
        await link.inbox.put(snapshot(5))
        async with asyncio.timeout(TIMEOUT):
            await link.inbox.join()  # every snapshot so far has been applied
        assert agent.units == {}
        assert not unit_dir.exists()
        agent.stop()
        async with asyncio.timeout(TIMEOUT):
            await task


async def test_stop_leaves_units_installed_without_stop_hooks(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    config = agent_config(tmp_path)
    link = FakeLink()
    agent = machine.MachineAgent(config, link=link, charms=Charms(archive))
    async with serving(agent) as task:
        await link.inbox.put(snapshot(1, unit_state(archive)))
        await link.wait_for(
            lambda _: (r := last_report(link, "plain/0")) is not None and r.agent.status == "idle"
        )
        with (Path(config.data_dir) / "units/plain-0/unit.log").open("a") as log:
            log.write("2026-01-02 03:04:05 INFO unit.plain/0.juju-log last words\n")
        agent.stop()
        async with asyncio.timeout(TIMEOUT):
            await task
    hooks = (Path(config.data_dir) / "units/plain-0/charm/hooks.log").read_text().split()
    assert hooks == ["install", "config-changed", "start"]
    # What the unit logged last reached the controller before the agent went.
    assert link.logs["plain/0"][-1].endswith("last words")
    assert (Path(config.data_dir) / "units/plain-0/state.json").exists()


async def test_records_it_cannot_trust_neither_stop_the_agent_nor_get_removed(
    tmp_path: Path,
) -> None:
    archive = build_zip(BASH_CHARM)
    config = agent_config(tmp_path)
    processes = Path(config.data_dir) / "units/plain-0/processes"
    processes.mkdir(parents=True)
    (processes / "4194303").mkdir()  # a directory: it can be neither read nor unlinked
    (processes / "4194302").symlink_to(tmp_path / "elsewhere")
    link = FakeLink()
    agent = machine.MachineAgent(config, link=link, charms=Charms(archive))
    async with serving(agent) as task:
        await link.inbox.put(snapshot(1, unit_state(archive)))
        await link.wait_for(
            lambda _: (r := last_report(link, "plain/0")) is not None and r.agent.status == "idle"
        )
        assert not task.done()
    assert sorted(path.name for path in processes.iterdir()) == ["4194302", "4194303"]


# --- the MQTT link against a real broker ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_config(port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


@asynccontextmanager
async def broker(port: int) -> AsyncIterator[Broker]:
    server = Broker(broker_config(port))
    await server.start()
    try:
        yield server
    finally:
        await server.shutdown()


@asynccontextmanager
async def controller(port: int) -> AsyncIterator[tuple[aiomqtt.Client, asyncio.Queue[Any]]]:
    """A client playing the controller: reads `agents/+/up`, may publish `down`."""
    received: asyncio.Queue[Any] = asyncio.Queue()
    async with aiomqtt.Client("127.0.0.1", port, identifier="controller") as client:
        await client.subscribe("agents/+/up", qos=1)

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                for part in bus.split_messages(message.payload):  # the agent joins a backlog
                    await received.put(bus.decode_agent_message(part))

        async with asyncio.TaskGroup() as tg:
            reader = tg.create_task(pump())
            try:
                yield client, received
            finally:
                reader.cancel()


async def next_of(queue: asyncio.Queue[Any], kind: type) -> Any:
    async with asyncio.timeout(TIMEOUT):
        while True:
            message = await queue.get()
            if isinstance(message, kind):
                return message


async def test_heartbeats_go_on_while_a_unit_state_write_is_stuck(tmp_path: Path) -> None:
    """A unit's state is written off the loop: while its write cannot finish (its temp file
    is a FIFO nobody reads), the machine agent still renews the unit's lease, and the unit
    runs no hook; once the write is let through, the unit goes on."""
    archive = build_zip(BASH_CHARM)
    config = agent_config(tmp_path)
    link = FakeLink()
    agent = machine.MachineAgent(config, link=link, charms=Charms(archive), heartbeat_interval=0.05)
    unit_dir = Path(config.data_dir) / "units" / "plain-0"
    unit_dir.mkdir(parents=True)
    stuck = unit_dir / ".state.json.tmp"
    os.mkfifo(stuck)
    leading = bus.Heartbeat(agent="machine-0", units=("plain/0",))

    async with serving(agent):
        await link.inbox.put(snapshot(1, unit_state(archive, leader=True)))
        # Were the write on the loop, the loop would be stuck in it and no heartbeat sent.
        await link.wait_for(lambda sent: sent.count(leading) >= 3)
        assert not (unit_dir / "charm" / "hooks.log").exists()
        await asyncio.to_thread(stuck.read_bytes)  # the write goes on (and fails: a FIFO)
        await link.wait_for(
            lambda _: (
                (report := last_report(link, "plain/0")) is not None
                and (report.agent.status, report.converged_hash) == ("idle", "h1")
            )
        )
        assert (unit_dir / "charm" / "hooks.log").read_text().split() == [
            "install",
            "config-changed",
            "start",
        ]


async def test_a_unit_made_leader_renews_its_lease_at_once(tmp_path: Path) -> None:
    """The lease was granted before the agent could renew it (its machine may have taken
    most of a lease to come up): the snapshot that makes the unit leader is answered by a
    heartbeat naming it, not one a beat later (the beat here is an hour)."""
    archive = build_zip(BASH_CHARM)
    link = FakeLink()
    agent = machine.MachineAgent(
        agent_config(tmp_path), link=link, charms=Charms(archive), heartbeat_interval=3600
    )
    leading = bus.Heartbeat(agent="machine-0", units=("plain/0",))

    async with serving(agent):
        await link.inbox.put(snapshot(1, unit_state(archive)))
        await link.wait_for(lambda _: last_report(link, "plain/0") is not None)
        assert leading not in link.sent
        await link.inbox.put(snapshot(2, unit_state(archive, leader=True)))
        await link.wait_for(lambda sent: leading in sent)
        await link.inbox.put(snapshot(3, unit_state(archive, leader=True, config_hash="h2")))
        await link.wait_for(lambda _: len(link.reports("plain/0")) > 1)
        await link.inbox.join()
        assert link.sent.count(leading) == 1  # still leader: nothing new to renew at once


# --- charm download ---------------------------------------------------------------------------


class _Controller(http.server.BaseHTTPRequestHandler):
    """The controller's charm endpoint, by the name in the path: the archive, other bytes,
    503, 403 or 404. Every request is kept (path, Authorization header)."""

    archive = b"zip bytes"
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # the stdlib's handler naming
        self.seen.append((self.path, self.headers.get("Authorization")))
        name = self.path.split("/")[3]
        sha = hashlib.sha256(self.archive).hexdigest()
        status, body = {
            sha: (200, self.archive),
            "bad": (200, b"other bytes"),
            "boom": (503, b""),
            "secret": (403, b""),
        }.get(name, (404, b""))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


async def test_http_charm_source() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Controller)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sha = hashlib.sha256(_Controller.archive).hexdigest()
    port = server.server_address[1]
    source = _charm_source.HttpCharmSource(f"http://127.0.0.1:{port}/", "tok")
    try:
        assert await source.fetch(sha) == _Controller.archive
        assert _Controller.seen[0] == (f"/v1/charms/{sha}/archive", "Bearer tok")
        with pytest.raises(errors.PermanentError, match="expected bad"):
            await source.fetch("bad")
        with pytest.raises(errors.TemporaryError, match="503"):
            await source.fetch("boom")
        with pytest.raises(errors.PermissionDeniedError):
            await source.fetch("secret")
        with pytest.raises(errors.NotFoundError):
            await source.fetch("missing")
    finally:
        await source.aclose()
        server.shutdown()
        server.server_close()
        thread.join()
    unreachable = _charm_source.HttpCharmSource(f"http://127.0.0.1:{port}/", "tok")
    with pytest.raises(errors.TemporaryError, match="cannot fetch"):
        await unreachable.fetch(sha)


async def test_http_charm_source_over_tls(tmp_path: Path) -> None:
    """Over https the controller's certificate is verified against the CA the agent was
    given: the archive comes with it, and a server another CA signed is refused."""
    ours, foreign = _tls.TlsFiles(tmp_path / "ours"), _tls.TlsFiles(tmp_path / "foreign")
    _tls.make(ours, "charms", _tls.server_names("127.0.0.1"))
    _tls.make(foreign, "other", _tls.server_names("127.0.0.1"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Controller)
    serving_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving_tls.load_cert_chain(ours.cert, ours.key)
    server.socket = serving_tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sha = hashlib.sha256(_Controller.archive).hexdigest()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        trusted = _tls.client_context(ours.ca_cert.read_text())
        source = _charm_source.HttpCharmSource(url, "tok", verify=trusted)
        assert await source.fetch(sha) == _Controller.archive
        other = _tls.client_context(foreign.ca_cert.read_text())
        stranger = _charm_source.HttpCharmSource(url, "tok", verify=other)
        with pytest.raises(errors.TemporaryError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.fetch(sha)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- the process ------------------------------------------------------------------------------


def agent_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}


async def test_process_rejects_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "agent.json"
    bad.write_text('{"agent": "x"}')
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runecraft.agents", "--config", str(bad),
        env=agent_env(), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(TIMEOUT):
        _, err = await process.communicate()
    assert process.returncode == 2
    assert b"cannot read agent config" in err


async def test_process_says_hello_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    config = agent_config(tmp_path, port)
    path = tmp_path / "agent.json"
    path.write_text(config.model_dump_json())
    async with broker(port), controller(port) as (_, received):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "runecraft.agents", "--config", str(path),
            env=agent_env(), stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            hello = await next_of(received, bus.Hello)
            assert hello == bus.Hello(agent="machine-0", units=())
            heartbeat = await next_of(received, bus.Heartbeat)
            assert heartbeat.agent == "machine-0"
        finally:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(TIMEOUT):
                _, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    lines = err.decode().splitlines()
    assert any("event='machine agent stopped'" in line for line in lines), lines
    assert all("Traceback" not in line for line in lines)
    json.dumps(lines)  # key-value text, one record per line


# --- commits through the machine agent --------------------------------------------------------


def _peers(**changes: Any) -> bus.RelationRemote:
    base: dict[str, Any] = {
        "id": 5,
        "endpoint": "cluster",
        "interface": "plain-peers",
        "role": "peer",
        "remote_application": "plain",
    }
    return bus.RelationRemote(**{**base, **changes})


_EMPTY = _relations.RelationState(id=0, endpoint="", remote_app="")


def _idle_on(link: FakeLink, revision: int) -> Callable[[list[Any]], bool]:
    def check(_: list[Any]) -> bool:
        report = last_report(link, "plain/0")
        return report is not None and (report.agent.status, report.snapshot_revision) == (
            "idle",
            revision,
        )

    return check


async def test_unacknowledged_commits_are_resent_after_reconnect(tmp_path: Path) -> None:
    archive = build_zip(BASH_CHARM)
    link = FakeLink()
    agent = machine.MachineAgent(agent_config(tmp_path), link=link, charms=Charms(archive))
    commits = lambda: [m for m in link.sent if isinstance(m, bus.HookCommit)]  # noqa: E731
    async with serving(agent) as task:
        await link.inbox.put(snapshot(1, unit_state(archive, relations=(_peers(),))))
        await link.wait_for(lambda _: len(commits()) == 1)
        (first,) = commits()
        assert (first.seq, first.hook, first.scope) == (1, "cluster-relation-created", {5: "enter"})

        # Reconnect before the controller acknowledged it: sent again, same seq.
        await link.reconnects.put(None)
        await link.wait_for(lambda _: len(commits()) == 2)
        assert commits()[1] == first
        # Not settled on revision 1: its commit is not in it.
        await link.wait_for(lambda _: last_report(link, "plain/0") is not None)
        assert all(
            r.snapshot_revision < 1 for r in link.reports("plain/0") if r.agent.status == "idle"
        )

        # The snapshot acknowledging it: idle on it, and nothing is resent any more.
        await link.inbox.put(snapshot(2, unit_state(archive, commit_seq=1, relations=(_peers(),))))
        await link.wait_for(_idle_on(link, 2))
        await link.reconnects.put(None)
        before = len(link.sent)
        await link.wait_for(lambda sent: any(isinstance(m, bus.UnitReport) for m in sent[before:]))
        assert len(commits()) == 2
        assert agent.units["plain/0"].pending_commits == ()
        agent.stop()
        async with asyncio.timeout(TIMEOUT):
            await task


async def test_relation_data_change_without_hooks_reports_idle_on_the_new_revision(
    tmp_path: Path,
) -> None:
    archive = build_zip(BASH_CHARM)
    link = FakeLink()
    agent = machine.MachineAgent(agent_config(tmp_path), link=link, charms=Charms(archive))
    unit_dir = Path(agent_config(tmp_path).data_dir) / "units" / "plain-0"
    peers = _peers(units={"plain/1": 1}, unit_data={"plain/1": {"a": "1"}})
    async with serving(agent) as task:
        await link.inbox.put(snapshot(1, unit_state(archive, relations=(peers,))))
        await link.wait_for(lambda _: agent.units.get("plain/0") is not None)
        await link.wait_for(
            lambda _: (
                (agent.units["plain/0"].local.relations.get(5) or _EMPTY).members == {"plain/1": 1}
            )
        )
        acked = agent.units["plain/0"].local.commit_seq
        await link.inbox.put(snapshot(2, unit_state(archive, commit_seq=acked, relations=(peers,))))
        await link.wait_for(_idle_on(link, 2))
        hooks = (unit_dir / "unit.log").read_text().count("running hook")
        # The bag's content changed but not its version (e.g. our own write came back): no
        # hook is due, yet the unit must say it settled on the new snapshot.
        changed = peers.model_copy(update={"local_unit_data": {"private-address": "10.0.0.1"}})
        await link.inbox.put(
            snapshot(3, unit_state(archive, commit_seq=acked, relations=(changed,)))
        )
        await link.wait_for(_idle_on(link, 3))
        assert (unit_dir / "unit.log").read_text().count("running hook") == hooks
        agent.stop()
        async with asyncio.timeout(TIMEOUT):
            await task


async def test_a_broken_unit_keeps_restarting_and_leaves_its_neighbour_running(
    tmp_path: Path,
) -> None:
    """A unit whose state file is unreadable fails for good each time it starts; the machine
    agent restarts it with back-off and its other unit converges as if nothing happened."""
    archive = build_zip(BASH_CHARM)
    config = agent_config(tmp_path)
    broken = Path(config.data_dir) / "units" / "plain-1"
    broken.mkdir(parents=True)
    (broken / "state.json").write_text("{not json")
    link = FakeLink()
    agent = machine.MachineAgent(
        config, link=link, charms=Charms(archive), heartbeat_interval=0.05, restart_delay=0.01
    )
    async with serving(agent) as task:
        await link.inbox.put(
            snapshot(
                1,
                unit_state(archive, leader=True),
                unit_state(archive, unit="plain/1"),
            )
        )
        await link.wait_for(
            lambda _: (
                (report := last_report(link, "plain/0")) is not None
                and report.agent.status == "idle"
                and report.converged_hash == "h1"
            )
        )
        assert not task.done()
        assert set(agent.units) == {"plain/0", "plain/1"}
        assert last_report(link, "plain/1") is None  # it never got as far as reporting
