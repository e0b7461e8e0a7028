"""The one MQTT client (`runecraft.bus.BusClient`) and the controller's side of it against
both real brokers: a broker restart loses nothing that was taken, the outbox is bounded, and
a controller message that cannot be sent is refused rather than queued."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from runecraft import bus as mqtt
from runecraft.controller import bus as controller_bus
from runecraft.schemas import bus
from tests.conftest import free_port

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD, CONTROLLER_PASSWORD

TIMEOUT = 60.0
UP = bus.up_topic(AGENT)


@pytest.fixture(params=_brokers.KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def agent_client(port: int, **options: Any) -> mqtt.BusClient:
    return mqtt.BusClient(
        mqtt.Broker("127.0.0.1", port, AGENT, AGENT_PASSWORD),
        client_id=AGENT,
        subscriptions=[bus.down_topic(AGENT)],
        **options,
    )


def report(seq: int) -> bytes:
    return bus.encode(
        bus.UnitReport(
            unit="plain/0",
            seq=seq,
            workload=bus.StatusValue(status="active"),
            agent=bus.StatusValue(status="idle"),
        )
    )


class Controller:
    """The controller's bus on `port`; counts its (re)connects and queues what it receives."""

    def __init__(self, port: int) -> None:
        self.received: asyncio.Queue[tuple[str, bus.AgentMessage]] = asyncio.Queue()
        self.connects: asyncio.Queue[None] = asyncio.Queue()
        self.bus = controller_bus.ControllerBus(
            "127.0.0.1",
            port,
            controller_bus.CONTROLLER_USER,
            CONTROLLER_PASSWORD,
            on_message=lambda agent, message: self.received.put_nowait((agent, message)),
            on_connect=lambda: self.connects.put_nowait(None),
        )

    async def next(self, count: int) -> list[tuple[str, bus.AgentMessage]]:
        async with asyncio.timeout(TIMEOUT):
            return [await self.received.get() for _ in range(count)]


class Agent:
    """An agent-side client whose reconnects wait for the test (so the controller's bus is
    subscribed before anything is sent); says Hello on every connect."""

    def __init__(self, port: int, **options: Any) -> None:
        self.may_reconnect = asyncio.Event()
        self.waiting = asyncio.Event()
        """Set once a lost session ended in the reconnect policy (not in a crash)."""

        async def wait_for_the_test(seconds: float) -> None:
            self.waiting.set()
            await self.may_reconnect.wait()

        policy = dataclasses.replace(mqtt.RECONNECT, sleep=wait_for_the_test)
        self.client = agent_client(port, reconnect=policy, **options)
        self.connects: asyncio.Queue[None] = asyncio.Queue()
        self.inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def on_connect(self) -> None:
        assert self.client.publish(UP, bus.encode(bus.Hello(agent=AGENT)))
        self.connects.put_nowait(None)

    async def on_message(self, topic: str, payload: bytes) -> None:
        self.inbox.put_nowait((topic, payload))

    async def run(self) -> None:
        await self.client.run(on_connect=self.on_connect, on_message=self.on_message)


async def within(awaitable: Awaitable[Any]) -> Any:
    async with asyncio.timeout(TIMEOUT):
        return await awaitable


@contextlib.asynccontextmanager
async def _connected(
    controller: Controller, agent: Agent, kind: str, port: int, tmp_path: Path
) -> AsyncIterator[None]:
    """A broker of `kind` running, the controller connected to it and then the agent; both
    stopped at the end."""
    async with _brokers.running(kind, port, tmp_path), asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(controller.bus.run())]
        await within(controller.connects.get())
        tasks.append(tg.create_task(agent.run()))
        await within(agent.connects.get())
        yield
        for task in tasks:
            task.cancel()


async def test_a_broker_restart_loses_nothing_that_was_taken(kind: str, tmp_path: Path) -> None:
    port = free_port()
    agent = Agent(port)
    controller = Controller(port)
    hello = bus.Hello(agent=AGENT)
    ack = bus.LogAck(source="plain/0", offset=7)
    # Taken before any broker exists: delivered after the first connect, before the Hello.
    assert agent.client.publish(UP, report(1))
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(controller.bus.run())]
        async with _brokers.running(kind, port, tmp_path):
            await within(controller.connects.get())
            tasks.append(tg.create_task(agent.run()))
            await within(agent.connects.get())
            assert [m for _, m in await controller.next(2)] == [
                bus.decode_agent_message(report(1)),
                hello,
            ]
            assert await controller.bus.publish(AGENT, ack)
            assert await within(agent.inbox.get()) == (bus.down_topic(AGENT), bus.encode(ack))

        # The broker is gone: the clients keep running (the agent's lost session ends in its
        # reconnect policy), and what is taken now waits.
        await within(agent.waiting.wait())
        assert agent.client.publish(UP, report(2))
        assert not any(task.done() for task in tasks)

        async with _brokers.running(kind, port, tmp_path):
            await within(controller.connects.get())
            agent.may_reconnect.set()
            await within(agent.connects.get())  # on_connect ran again
            assert [m for _, m in await controller.next(2)] == [
                bus.decode_agent_message(report(2)),
                hello,
            ]
            # Subscribed again on reconnect: down messages arrive.
            assert await controller.bus.publish(AGENT, ack)
            assert await within(agent.inbox.get()) == (bus.down_topic(AGENT), bus.encode(ack))
            for task in tasks:
                task.cancel()


async def test_the_outbox_is_bounded_and_counts_what_it_refuses(kind: str, tmp_path: Path) -> None:
    port = free_port()
    with pytest.raises(ValueError, match="outbox_size"):
        agent_client(port, outbox_size=0)
    agent = Agent(port, outbox_size=3)
    taken = [agent.client.publish(UP, report(seq)) for seq in range(1, 6)]
    assert taken == [True, True, True, False, False]
    assert (agent.client.queued, agent.client.refused) == (3, 2)

    controller = Controller(port)
    async with _connected(controller, agent, kind, port, tmp_path):
        # Exactly the taken ones, in order, then the Hello (which found room): the refused
        # never went out.
        assert [m for _, m in await controller.next(4)] == [
            *(bus.decode_agent_message(report(seq)) for seq in (1, 2, 3)),
            bus.Hello(agent=AGENT),
        ]
        assert agent.client.publish(UP, report(6))
        assert [m for _, m in await controller.next(1)] == [bus.decode_agent_message(report(6))]
        assert agent.client.refused == 2


async def test_the_controller_refuses_to_queue_while_disconnected_and_drops_garbage(
    tmp_path: Path,
) -> None:
    port = free_port()
    controller = Controller(port)
    # No session: refused at once (the reconciler publishes again after the next connect).
    assert not await controller.bus.publish(AGENT, bus.LogAck(source="plain/0", offset=1))
    agent = Agent(port)
    assert agent.client.publish(UP, b"not a message")
    async with _connected(controller, agent, "mosquitto", port, tmp_path):
        assert await controller.next(1) == [(AGENT, bus.Hello(agent=AGENT))]
        assert controller.bus.rejected == 1


async def test_a_heartbeat_goes_ahead_of_the_outbox_and_only_the_latest(
    kind: str, tmp_path: Path
) -> None:
    """A heartbeat renews leases: it never waits behind queued reports, is never refused
    by a full outbox, and one not yet sent is replaced by the next."""
    port = free_port()
    agent = Agent(port, outbox_size=3)
    assert all(agent.client.publish(UP, report(seq)) for seq in range(1, 4))
    beats = [bus.Heartbeat(agent=AGENT, units=(f"plain/{n}",)) for n in range(2)]
    for beat in beats:
        agent.client.publish_first(UP, bus.encode(beat))
    assert (agent.client.queued, agent.client.refused) == (4, 0)

    controller = Controller(port)
    async with _connected(controller, agent, kind, port, tmp_path):
        assert [m for _, m in await controller.next(5)] == [
            beats[1],
            *(bus.decode_agent_message(report(seq)) for seq in (1, 2, 3)),
            bus.Hello(agent=AGENT),
        ]
        assert agent.client.queued == 0


class CountingController(Controller):
    """`Controller`, noting the payload of every publish its bus receives."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.publishes: list[bytes] = []
        receive = self.bus.received_locally

        def noted(topic: str, payload: bytes) -> None:
            self.publishes.append(payload)
            receive(topic, payload)

        self.bus.received_locally = noted  # type: ignore[method-assign]


async def test_a_backlog_goes_in_joined_publishes_in_order(kind: str, tmp_path: Path) -> None:
    """An agent's queued messages cross in as few publishes as fit in `batch_bytes`, in
    order; a part the controller cannot read is dropped alone."""
    port = free_port()
    size = len(report(1))
    agent = Agent(port, join=bus.join_messages, batch_bytes=3 * size + 2)
    for seq in (1, 2):
        assert agent.client.publish(UP, report(seq))
    assert agent.client.publish(UP, b"not a message")
    for seq in (4, 5):
        assert agent.client.publish(UP, report(seq))
    controller = CountingController(port)
    async with _connected(controller, agent, kind, port, tmp_path):
        assert [m for _, m in await controller.next(5)] == [
            *(bus.decode_agent_message(report(seq)) for seq in (1, 2, 4, 5)),
            bus.Hello(agent=AGENT),
        ]
        assert controller.bus.rejected == 1
        assert controller.publishes == [
            bus.join_messages([report(1), report(2), b"not a message"]),
            bus.join_messages([report(4), report(5)]),
            bus.encode(bus.Hello(agent=AGENT)),
        ]
        assert controller.bus.traffic.messages_in == 6
        assert agent.client.queued == 0
