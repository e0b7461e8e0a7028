"""A load on a real broker, with every message accounted for: the controller's client and
hundreds of agents' clients exchanging QoS 1 messages while agents connect and disconnect.

Each agent (a `runecraft.bus.BusClient`, as the machine agent runs it) lives through
`rounds` sessions: in each, once it is subscribed, the controller (`ControllerBus`) sends it
`messages` snapshots and it sends the controller as many heartbeats; when it has all of its
snapshots and the controller all of its heartbeats, it disconnects, and connects again for
the next round. Agents start in waves, so some connect while others are mid-exchange, and
for every agent's session one of the `churners` connects, subscribes, sends a `burst` of
heartbeats at once and leaves as soon as the broker has them (what the broker acknowledged
must still reach the controller). A message is sent only to a subscribed agent and an agent
leaves only once its exchange is complete, so MQTT owes every one of them exactly one
delivery: the outcome lists what was lost, duplicated or changed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiomqtt

from runecraft import bus as mqtt
from runecraft.controller import bus as controller_bus
from runecraft.schemas import bus

MODEL_UUID = "6b0f1c1e-0000-4000-8000-000000000015"


@dataclasses.dataclass(frozen=True)
class Load:
    agents: int = 300
    rounds: int = 2
    """Sessions per agent: it disconnects and connects again between rounds."""
    messages: int = 5
    """Messages each way per agent and round."""
    churners: int = 20
    burst: int = 20
    """Heartbeats a churner sends at once before it leaves."""
    wave: int = 50
    """Agents started together; the next wave starts once this one is connected."""
    stall: float = 20.0
    """Seconds without a single message arriving before the run gives up on the rest."""

    def agent_names(self) -> list[str]:
        return [f"machine-{i}.fanout" for i in range(self.agents)]

    def churner_names(self) -> list[str]:
        return [f"churner-{i}.fanout" for i in range(self.churners)]


@dataclasses.dataclass
class Outcome:
    """What was sent and what arrived, each way."""

    sent_down: int = 0
    received_down: int = 0
    sent_up: int = 0
    received_up: int = 0
    churned: int = 0
    """Churners' connections."""
    controller_sessions: int = 0
    """More than 1: the controller's client reconnected, and what was on its way to it went
    with its session (a load too heavy for the clients' own process does that)."""
    lost: list[str] = dataclasses.field(default_factory=list)
    duplicated: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def messages(self) -> int:
        return self.sent_down + self.sent_up

    def summary(self) -> str:
        return (
            f"down {self.received_down}/{self.sent_down}, up {self.received_up}/{self.sent_up}, "
            f"lost {len(self.lost)} {self.lost[:5]}, duplicated {len(self.duplicated)} "
            f"{self.duplicated[:5]}, changed {len(self.changed)} {self.changed[:5]}, "
            f"controller sessions {self.controller_sessions}"
        )


def snapshot(agent: str, round_: int, index: int) -> bus.MachineSnapshot:
    return bus.MachineSnapshot(
        revision=round_ * 1000 + index,
        model_name="fanout",
        model_uuid=MODEL_UUID,
        machine_id=agent,
    )


def heartbeat(agent: str, round_: int, index: int) -> bus.Heartbeat:
    return bus.Heartbeat(agent=agent, units=(f"round-{round_}/{index}",))


class _Ledger:
    """Every message sent, keyed by what identifies it, against what arrived."""

    def __init__(self) -> None:
        self.sent: dict[str, bytes] = {}
        self.uncertain: set[str] = set()
        """Sent, but the sender's connection failed before the broker acknowledged it."""
        self.arrived: collections.Counter[str] = collections.Counter()
        self.changed: list[str] = []
        self.progress = asyncio.Event()
        """Set on every arrival (a waiter clears it, checks, then waits)."""

    def send(self, key: str, payload: bytes) -> None:
        self.sent[key] = payload

    def withdraw(self, key: str) -> None:
        del self.sent[key]
        self.uncertain.add(key)

    def arrive(self, key: str, payload: bytes) -> None:
        if key in self.uncertain:
            return
        self.arrived[key] += 1
        if self.sent.get(key) != payload:
            self.changed.append(key)
        self.progress.set()

    def have(self, keys: list[str]) -> bool:
        return all(self.arrived[key] for key in keys)

    def complete(self) -> bool:
        return self.have(list(self.sent))

    async def wait_for(self, keys: list[str]) -> None:
        while True:
            self.progress.clear()
            if self.have(keys):
                return
            await self.progress.wait()


class _Run:
    def __init__(self, host: str, port: int, passwords: Mapping[str, str], load: Load) -> None:
        self.host, self.port, self.passwords, self.load = host, port, passwords, load
        self.down = _Ledger()
        self.up = _Ledger()
        self.ready: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.churns: asyncio.Queue[bool] = asyncio.Queue()
        """One item per churner connection to make (False: stop)."""
        self.churned = 0
        self.controller = controller_bus.ControllerBus(
            host,
            port,
            controller_bus.CONTROLLER_USER,
            passwords[controller_bus.CONTROLLER_USER],
            on_message=self._controller_received,
            on_connect=self._controller_connected,
        )
        self.controller_sessions = 0

    def _controller_connected(self) -> None:
        self.controller_sessions += 1

    def _controller_received(self, agent: str, message: bus.AgentMessage) -> None:
        if isinstance(message, bus.Heartbeat):
            self.up.arrive(f"{agent}:{message.units[0]}", bus.encode(message))

    async def send_snapshots(self) -> None:
        """The controller's side: a round's snapshots to each agent once it is subscribed."""
        while True:
            agent, round_ = await self.ready.get()
            for index in range(self.load.messages):
                message = snapshot(agent, round_, index)
                self.down.send(f"{agent}:{message.revision}", bus.encode(message))
                assert await self.controller.publish(agent, message), "controller outbox full"

    async def agent(self, name: str, connected: asyncio.Event) -> None:
        for round_ in range(self.load.rounds):
            await self._agent_session(name, round_, connected)

    async def _agent_session(self, name: str, round_: int, connected: asyncio.Event) -> None:
        """One session of an agent: subscribe, exchange a round, leave."""
        got = 0
        have_all = asyncio.Event()
        heartbeats = [heartbeat(name, round_, index) for index in range(self.load.messages)]
        keys = [f"{name}:{message.units[0]}" for message in heartbeats]

        async def received(topic: str, payload: bytes) -> None:
            nonlocal got
            message = bus.decode_controller_message(payload)
            assert isinstance(message, bus.MachineSnapshot), topic
            self.down.arrive(f"{name}:{message.revision}", payload)
            got += 1
            if got >= self.load.messages:
                have_all.set()

        async def subscribed() -> None:
            connected.set()
            self.churns.put_nowait(True)
            self.ready.put_nowait((name, round_))
            for key, message in zip(keys, heartbeats, strict=True):
                self.up.send(key, bus.encode(message))
                client.publish(bus.up_topic(name), bus.encode(message))

        client = mqtt.BusClient(
            mqtt.Broker(self.host, self.port, name, self.passwords[name]),
            client_id=name,
            subscriptions=[bus.down_topic(name)],
        )
        async with asyncio.TaskGroup() as tg:
            session = tg.create_task(client.run(on_connect=subscribed, on_message=received))
            await have_all.wait()
            await self.up.wait_for(keys)
            session.cancel()

    async def churner(self, name: str) -> None:
        """Connect, subscribe, send one heartbeat, leave; again for every agent's session."""
        index = 0
        while await self.churns.get():
            with contextlib.suppress(aiomqtt.MqttError):
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=name,
                    password=self.passwords[name],
                    identifier=name,
                    protocol=aiomqtt.ProtocolVersion.V311,
                ) as client:
                    self.churned += 1
                    await client.subscribe(bus.down_topic(name), qos=1)
                    heartbeats = [heartbeat(name, index, i) for i in range(self.load.burst)]
                    index += 1
                    await asyncio.gather(*(self._churn_publish(client, m) for m in heartbeats))

    async def _churn_publish(self, client: aiomqtt.Client, message: bus.Heartbeat) -> None:
        """Publish and be done: the broker acknowledged it, so it owes the controller it."""
        key = f"{message.agent}:{message.units[0]}"
        self.up.send(key, bus.encode(message))
        try:
            await client.publish(bus.up_topic(message.agent), bus.encode(message), qos=1)
        except aiomqtt.MqttError:
            self.up.withdraw(key)
            raise


async def _until(
    done: Callable[[], bool], ledgers: tuple[_Ledger, ...], stall: float, *also: asyncio.Future[Any]
) -> None:
    """Wait until `done()` (checked on every arrival and when any of `also` completes), or
    until nothing arrived for `stall` seconds."""
    while True:
        for ledger in ledgers:
            ledger.progress.clear()
        if done():
            return
        waits = [asyncio.ensure_future(ledger.progress.wait()) for ledger in ledgers]
        finished, _ = await asyncio.wait(
            [*waits, *also], timeout=stall, return_when=asyncio.FIRST_COMPLETED
        )
        for wait in waits:
            wait.cancel()
        if not finished:
            return


async def run(host: str, port: int, passwords: Mapping[str, str], load: Load) -> Outcome:
    """Run `load` against the broker on `host:port`, where each name in `passwords` (the
    controller's, every agent's and churner's) has that password."""
    state = _Run(host, port, passwords, load)
    started = time.monotonic()
    async with asyncio.TaskGroup() as tg:
        controller = tg.create_task(state.controller.run())
        await state.controller.connected.wait()
        sender = tg.create_task(state.send_snapshots())
        churners = [tg.create_task(state.churner(name)) for name in load.churner_names()]
        names = load.agent_names()
        agents = []
        for first in range(0, len(names), load.wave):
            wave = [(name, asyncio.Event()) for name in names[first : first + load.wave]]
            agents += [tg.create_task(state.agent(name, up)) for name, up in wave]
            async with asyncio.timeout(load.stall):
                for _, up in wave:
                    await up.wait()
        everyone = asyncio.gather(*agents)
        await _until(everyone.done, (state.down, state.up), load.stall, everyone)
        for _ in churners:
            state.churns.put_nowait(False)
        await asyncio.gather(*churners)
        await _until(state.up.complete, (state.up,), load.stall)
        for task in (controller, sender, *agents):
            task.cancel()
    return _outcome(state, time.monotonic() - started)


def _outcome(state: _Run, seconds: float) -> Outcome:
    outcome = Outcome(
        churned=state.churned, controller_sessions=state.controller_sessions, seconds=seconds
    )
    outcome.changed = state.down.changed + state.up.changed
    for ledger, direction in ((state.down, "down"), (state.up, "up")):
        sent = len(ledger.sent)
        received = sum(ledger.arrived.values())
        if direction == "down":
            outcome.sent_down, outcome.received_down = sent, received
        else:
            outcome.sent_up, outcome.received_up = sent, received
        outcome.lost += [f"{direction} {key}" for key in ledger.sent if not ledger.arrived[key]]
        outcome.duplicated += [
            f"{direction} {key}" for key, count in ledger.arrived.items() if count > 1
        ]
    return outcome
