"""The machine agent: one process per machine, running a unit agent task per unit.

It holds one bus link to the controller. On every (re)connect it says `Hello` (the
controller answers with a fresh `MachineSnapshot`), sends a `Heartbeat` and re-sends the
full report and every unacknowledged `HookCommit` of every unit; while connected it sends a
`Heartbeat` naming its leader units every 10 s, which renews their leases.

Its own figures (hook durations, bus sessions; `_metrics`) go out as one `AgentMetrics`
message on a heartbeat's beat when something was counted, and before a unit's report that
says it stopped executing (idle or in error), so a controller that sees a unit settle has
counted every hook it ran.

Each snapshot is the whole desired state of the machine's units: new units get a
`UnitAgent`, known ones get `update()` (which carries the snapshot's `commit_seq`
acknowledgements to them, and its revision so an idle unit reports having settled on it),
and a unit that has reported `removed` and has then disappeared from the snapshot (the
controller forgot it) has its directory deleted.

Stopping (SIGTERM) cancels the unit tasks; a hook that was running is killed and runs again
on the next start. Stop hooks run only when the controller removes a unit. While connected, a
stopping agent first waits (bounded) until the controller holds every log as far as it is
written (its machine may be being released). An agent killed with SIGKILL cannot stop its
hooks: the next one kills what is on record (`_leftovers`) before any unit runs a hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shutil
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pydantic

from runecraft import _logging, _retry, _tracing, errors
from runecraft import bus as mqtt
from runecraft.agents import (
    _charm_source,
    _leftovers,
    _logship,
    _metrics,
    _state_store,
    _workloads,
    unit,
    uniter,
)
from runecraft.schemas import agent as agent_schema
from runecraft.schemas import bus

__all__ = ["HEARTBEAT_INTERVAL", "STOP_FLUSH_TIMEOUT", "BusLink", "MachineAgent", "build"]

logger = _logging.get_logger(__name__)

HEARTBEAT_INTERVAL = 10.0
"""Seconds between heartbeats; well inside Juju's 30 s leadership guarantee."""

STOP_FLUSH_TIMEOUT = 5.0
"""Longest a stopping agent waits for the controller to hold its logs (well inside the
grace a provider gives it before SIGKILL)."""


class BusLink(Protocol):
    """The agent's reconnecting link to the controller (a `runecraft.bus.BusClient`)."""

    def publish(self, topic: str, payload: bytes) -> bool:
        """Queue a payload (delivered once connected); False if it was refused."""

    def publish_first(self, topic: str, payload: bytes) -> None:
        """Queue a payload ahead of the others, replacing one not yet sent (heartbeats)."""

    def is_connected(self) -> bool:
        """A session is up right now."""

    async def run(self, *, on_connect: mqtt.OnConnect, on_message: mqtt.OnMessage) -> None:
        """Stay connected until cancelled, calling back on every (re)connect and message."""


class _LinkOutbox:
    """`unit.Outbox` that encodes reports onto the bus link and says whether it took them;
    the agent's metrics go ahead of a report of a unit that stopped executing, if anything
    was counted since they last went."""

    def __init__(self, send: Callable[[bytes], bool], meter: _metrics.AgentMeter) -> None:
        self._send = send
        self._meter = meter

    async def send(self, message: unit.AgentMessage) -> bool:
        if (
            self._meter.unsent
            and isinstance(message, bus.UnitReport)
            and message.agent.status != "executing"
        ):
            self.send_metrics()
        return self._send(bus.encode(message, _tracing.traceparent()))

    def send_metrics(self) -> None:
        """Send what the meter counted (again later, with more, if the link refused it)."""
        if not self._send(self._meter.message()):
            self._meter.unsent = True


@dataclass
class _Slot:
    """A running unit agent and the task that owns it."""

    agent: unit.UnitAgent
    task: asyncio.Task[None] | None = None


def _api_addresses(api_url: str) -> str:
    parsed = urllib.parse.urlsplit(api_url)
    if parsed.hostname is None:
        return ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.hostname}:{port}"


class MachineAgent:
    """Serve one machine: `await run()` until `stop()`."""

    def __init__(
        self,
        config: agent_schema.AgentConfig,
        *,
        link: BusLink,
        charms: unit.CharmSource,
        unpack: unit.Unpacker | None = None,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
        restart_delay: float = uniter.MIN_RETRY_DELAY,
        pod: bool = False,
    ) -> None:
        """Wire the agent (no I/O yet).

        Args:
            config: The agent's `agent.json`.
            link: The bus link (a `runecraft.bus.BusClient` in production).
            charms: Where unit agents fetch charms.
            unpack: Charm unpacker for unit agents (default `runecraft.charms.unpack`).
            heartbeat_interval: Seconds between heartbeats.
            restart_delay: First delay before restarting a crashed unit agent (doubles,
                capped at 5 min).
            pod: The agent runs in a Kubernetes pod: workload containers are the pod's (at
                `/charm/containers`); otherwise each unit runs a local Pebble daemon per
                container, with its sockets in a short private dir.
        """
        self.config = config
        self.data_dir = Path(config.data_dir)
        self._link = link
        self._send = functools.partial(link.publish, bus.up_topic(config.agent))
        self._charms = charms
        self._unpack = unpack
        self._heartbeat_interval = heartbeat_interval
        self._restart_delay = restart_delay
        self._pod = pod
        self.meter = _metrics.AgentMeter(config.agent)
        self._outbox = _LinkOutbox(self._send, self.meter)
        self._log_sink = _logging.FileSink(self.data_dir / "machine.log")
        self._logs = _logship.LogShipper(
            lambda: {
                f"machine-{config.machine_id}": self._log_sink.path,
                **{name: slot.agent.paths.log for name, slot in self._units.items()},
            },
            self._send,
            connected=link.is_connected,
        )
        self._units: dict[str, _Slot] = {}
        self._leading: tuple[str, ...] = ()
        """The units the last heartbeat renewed leases of."""
        self._revision = -1
        self._hook_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._model = unit.ModelInfo(
            model_name=config.model_name,
            model_uuid=config.model_uuid,
            machine_id=config.machine_id,
            api_addresses=_api_addresses(config.api_url),
        )

    @property
    def units(self) -> dict[str, unit.UnitAgent]:
        """The unit agents this machine runs, by unit name."""
        return {name: slot.agent for name, slot in self._units.items()}

    def stop(self) -> None:
        """Ask `run()` to cancel everything and return (safe from a signal handler)."""
        self._stopping.set()

    async def run(self) -> None:
        """Serve until `stop()`; unit tasks are owned by one TaskGroup."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sink = _logging.SINK.set(self._log_sink)  # this agent's lines ship as machine-N
        try:
            await self._serve()
        finally:
            _logging.SINK.reset(sink)
            self._log_sink.close()

    async def _serve(self) -> None:
        logger.info("machine agent starting", agent=self.config.agent)
        await self._reap_leftovers()
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            own = [
                tg.create_task(
                    self._link.run(on_connect=self._on_connect, on_message=self._on_message)
                ),
                tg.create_task(self._heartbeats()),
                tg.create_task(self._logs.run()),
            ]
            await self._stopping.wait()
            logger.info("machine agent stopping", units=len(self._units))
            if self._link.is_connected():
                await self._logs.flush_all(STOP_FLUSH_TIMEOUT)
            for task in own:
                task.cancel()
            for slot in self._units.values():
                if slot.task is not None:
                    slot.task.cancel()
        self._tg = None

    async def _reap_leftovers(self) -> None:
        """Kill the hooks and fork servers a killed predecessor left running, of every unit
        with a directory here (each unit agent does it for itself too, on every start)."""
        units_dir = self.data_dir / "units"
        if not units_dir.is_dir():
            return
        for path in sorted(units_dir.iterdir()):
            if path.is_dir():
                await _leftovers.ProcessRecords(unit.UnitPaths(path).processes).reap()

    # --- bus callbacks ---------------------------------------------------------------------

    async def _on_connect(self) -> None:
        hello = bus.Hello(agent=self.config.agent, units=tuple(sorted(self._units)))
        self._send(bus.encode(hello))
        self._heartbeat()
        self._logs.reconnected()
        for slot in self._units.values():
            await slot.agent.resend()
        self.meter.connected()
        self._outbox.send_metrics()  # a restarted controller has the totals again

    async def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            snapshot, trace = bus.decode_traced_controller_message(payload)
        except (ValueError, pydantic.ValidationError) as exc:
            logger.warning("ignoring bad controller message", error=str(exc)[:500])
            return
        if isinstance(snapshot, bus.LogAck):
            self._logs.ack(snapshot.source, snapshot.offset, snapshot.generation)
            return
        if snapshot.revision < self._revision:
            logger.info("ignoring stale snapshot", revision=snapshot.revision)
            return
        if snapshot.machine_id != self.config.machine_id:
            logger.warning("snapshot for another machine", machine=snapshot.machine_id)
            return
        self._revision = snapshot.revision
        # The unit agents keep the span current here as the parent of their hooks' spans.
        with _tracing.span(
            "machine agent snapshot",
            parent=trace,
            attributes={
                "runecraft.model": snapshot.model_name,
                "runecraft.machine": snapshot.machine_id,
                "runecraft.snapshot.revision": snapshot.revision,
                "runecraft.units": ",".join(remote.unit for remote in snapshot.units),
            },
            orphan=False,
        ):
            self.apply(snapshot)

    def _leaders(self) -> tuple[str, ...]:
        return tuple(
            sorted(
                name
                for name, slot in self._units.items()
                if slot.agent.remote.leader and not slot.agent.removed
            )
        )

    def _heartbeat(self) -> None:
        leaders = self._leading = self._leaders()
        heartbeat = bus.encode(bus.Heartbeat(agent=self.config.agent, units=leaders))
        # Ahead of queued reports and logs: a lease must not wait for a busy unit's traffic.
        self._link.publish_first(bus.up_topic(self.config.agent), heartbeat)

    async def _heartbeats(self) -> None:
        """Renew leader leases periodically; skipped while disconnected (they would be stale).
        Log lines a full disk held back are written on the same beat, the agent's metrics
        sent if anything was counted, and a unit with a message a full outbox refused
        (report, commit, application status, leader settings, action-log lines) is woken to
        send it again."""
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            if self._link.is_connected():
                self._heartbeat()
                if self.meter.unsent:
                    self._outbox.send_metrics()
            self._log_sink.flush()
            for slot in self._units.values():
                slot.agent.write_held_lines()
                if slot.agent.refused:
                    slot.agent.poke()

    # --- units -----------------------------------------------------------------------------

    def apply(self, snapshot: bus.MachineSnapshot) -> None:
        """Make the running unit agents match `snapshot` (level-triggered, idempotent)."""
        wanted = {remote.unit: remote for remote in snapshot.units}
        for name, remote in wanted.items():
            slot = self._units.get(name)
            if slot is None:
                self._start_unit(remote, snapshot.revision)
            else:
                slot.agent.update(remote, snapshot.revision)
        if self._link.is_connected() and not set(self._leaders()) <= set(self._leading):
            # A unit just made leader renews its lease now, not up to a beat later: it was
            # granted before this agent could renew it (the machine may have taken most of
            # a lease to come up), and its `leader-elected` is about to run.
            self._heartbeat()
        for name in [name for name in self._units if name not in wanted]:
            slot = self._units.pop(name)
            if slot.agent.removed:
                logger.info("unit forgotten by the controller; deleting its dir", unit=name)
                slot.agent.remove_dir()
            else:
                logger.warning("unit vanished without removal; stopping its agent", unit=name)
                if slot.task is not None:
                    slot.task.cancel()
        self._sweep_removed_dirs(set(wanted))

    def _start_unit(self, remote: bus.UnitRemoteState, revision: int) -> None:
        if self._tg is None:
            raise RuntimeError("MachineAgent.apply() needs run() to be running")
        paths = unit.UnitPaths.for_unit(self.data_dir, remote.unit)
        agent = unit.UnitAgent(
            remote=remote,
            paths=paths,
            model=self._model,
            outbox=self._outbox,
            charms=self._charms,
            hook_lock=self._hook_lock,
            unpack=self._unpack,
            snapshot_revision=revision,
            containers_dir=_workloads.containers_dir(paths.base, pod=self._pod),
            pebble_daemons=not self._pod,
            deliver_log=functools.partial(self._logs.flush, remote.unit),
            hook_ran=self.meter.hook_ran,
        )
        slot = _Slot(agent=agent)
        slot.task = self._tg.create_task(self._supervise(slot), name=f"unit {remote.unit}")
        self._units[remote.unit] = slot
        logger.info("unit agent started", unit=remote.unit)

    async def _supervise(self, slot: _Slot) -> None:
        """Run a unit agent; restart it with capped backoff if it crashes."""
        policy = _retry.RetryPolicy(
            first=self._restart_delay,
            cap=uniter.MAX_RETRY_DELAY,
            retry_on=(Exception,),
            restart_any=True,
        )
        await policy.call(
            "unit agent crashed", slot.agent.run, traceback=True, unit=slot.agent.unit
        )

    def _sweep_removed_dirs(self, wanted: set[str]) -> None:
        """Delete dirs of units that were removed before a restart and are gone now."""
        units_dir = self.data_dir / "units"
        if not units_dir.is_dir():
            return
        live = {unit.unit_dir_name(name) for name in wanted | set(self._units)}
        for path in units_dir.iterdir():
            if path.name in live or not path.is_dir():
                continue
            with contextlib.suppress(OSError, errors.RunecraftError):
                record = _state_store.StateStore(path / "state.json").load()
                if record.local.removed:
                    logger.info("deleting dir of a removed unit", path=str(path))
                    shutil.rmtree(path, ignore_errors=True)


def build(
    config: agent_schema.AgentConfig, *, pod: bool = False
) -> tuple[MachineAgent, _charm_source.HttpCharmSource]:
    """A production machine agent: MQTT link and HTTP charm source from `config` (`pod`:
    it runs in a Kubernetes pod)."""
    broker = config.broker
    # Verified against the controller's own CA only: an agent trusts no other server.
    trusted = ssl.create_default_context(cadata=broker.ca_cert) if broker.ca_cert else None
    link = mqtt.BusClient(
        mqtt.Broker(
            broker.host,
            broker.port,
            broker.username,
            broker.password,
            tls=trusted if broker.tls else None,
        ),
        client_id=config.agent,
        subscriptions=[bus.down_topic(config.agent)],
        join=bus.join_messages,
        batch_bytes=bus.BATCH_BYTES,
    )
    charms = _charm_source.HttpCharmSource(config.api_url, config.api_token, verify=trusted)
    return MachineAgent(config, link=link, charms=charms, pod=pod), charms
