"""The embedded broker delivers every message under load: a few hundred agents' clients and
the controller's exchanging QoS 1 messages while clients connect and disconnect, each
message arriving exactly once and unchanged, and the broker counting no delivery dropped.

Clients log in through the broker's real credential check (`EmbeddedBroker`'s verify
callback, against PBKDF2 hashes as the controller stores them) and its topic ACL; only the
database lookup behind the controller's callback is left out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import aiomqtt
import amqtt.broker
import pytest
from amqtt.mqtt.protocol.handler import ProtocolHandler

from runecraft.controller import _passwords, bus
from runecraft.controller.bus import _fanout
from runecraft.schemas import bus as schema
from tests.component import _busload
from tests.conftest import free_port


def _passwords_for(load: _busload.Load) -> dict[str, str]:
    names = [bus.CONTROLLER_USER, *load.agent_names(), *load.churner_names()]
    return {name: f"{name}-secret" for name in names}


@pytest.fixture
async def embedded() -> AsyncIterator[tuple[bus.EmbeddedBroker, Mapping[str, str]]]:
    passwords = _passwords_for(_busload.Load())
    stored = {name: _passwords.hash_password(password) for name, password in passwords.items()}

    async def verify(user: str, password: str) -> bool:
        return _passwords.verify_password(password, stored.get(user))

    broker = bus.EmbeddedBroker("127.0.0.1", free_port(), verify)
    await broker.start()
    try:
        yield broker, passwords
    finally:
        await broker.stop()


@pytest.mark.timeout(120)
async def test_every_message_arrives_once_while_clients_come_and_go(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]],
) -> None:
    broker, passwords = embedded
    load = _busload.Load()
    outcome = await _busload.run(broker.host, broker.port, passwords, load)
    assert outcome.sent_down == load.agents * load.rounds * load.messages
    assert outcome.churned >= load.churners
    assert (outcome.lost, outcome.duplicated, outcome.changed) == ([], [], []), outcome.summary()
    assert outcome.received_down == outcome.sent_down
    assert outcome.received_up == outcome.sent_up
    counts = broker.deliveries
    assert (counts.dropped, counts.refused) == (0, 0), counts
    assert counts.attempted >= outcome.messages, counts  # the counts saw every message


async def test_a_restart_whose_shutdown_fails_still_closes_the_old_brokers_outboxes(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, passwords = embedded
    name = _busload.Load().agent_names()[0]
    with contextlib.suppress(aiomqtt.MqttError):  # the restart cuts the client off
        async with _agent_client(broker, passwords) as client:
            await client.subscribe(schema.down_topic(name), qos=1)  # served: its outbox is up
            outboxes = list(broker._broker._outboxes.values())
            assert len(outboxes) == 1

            async def failing_shutdown(self: amqtt.broker.Broker) -> None:
                raise RuntimeError("amqtt could not shut down")

            with monkeypatch.context() as patch:
                patch.setattr(amqtt.broker.Broker, "shutdown", failing_shutdown)
                await broker.restart()
            assert [outbox.closed for outbox in outboxes] == [True]


def _agent_client(broker: bus.EmbeddedBroker, passwords: Mapping[str, str]) -> aiomqtt.Client:
    name = _busload.Load().agent_names()[0]
    return aiomqtt.Client(
        broker.host,
        broker.port,
        username=name,
        password=passwords[name],
        identifier=name,
        protocol=aiomqtt.ProtocolVersion.V311,
    )


@pytest.mark.timeout(60)
async def test_a_failing_sender_closes_its_outbox_and_the_connection_so_the_client_reconnects(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    broker, passwords = embedded
    client = _agent_client(broker, passwords)
    async with client:
        topic = schema.down_topic(_busload.Load().agent_names()[0])
        await client.subscribe(topic, qos=1)
        [outbox] = broker._broker._outboxes.values()

        async def broken(self: ProtocolHandler, packet: object) -> None:
            raise RuntimeError("a fault in the sender")

        monkeypatch.setattr(ProtocolHandler, "_send_packet", broken)
        outbox.put(topic, b"snapshot", 1)
        with pytest.raises(aiomqtt.MqttError):  # the broker closed the connection
            async for _ in client.messages:
                pass
        assert outbox.closed
        outbox.put(topic, b"later", 1)  # not queued behind a dead sender
    counts = broker.deliveries
    assert (counts.dropped, counts.failed) == (1, 1), counts


async def test_an_outbox_is_bounded_by_bytes_too(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]],
) -> None:
    broker, passwords = embedded
    async with _agent_client(broker, passwords) as client:
        topic = schema.down_topic(_busload.Load().agent_names()[0])
        await client.subscribe(topic, qos=1)
        [outbox] = broker._broker._outboxes.values()
        snapshot = bytes(schema.MAX_PAYLOAD_BYTES)
        fits = _fanout.OUTBOX_BYTES // len(snapshot)
        for _ in range(fits + 1):  # all at once: the sender has not taken any yet
            outbox.put(topic, snapshot, 1)
        assert broker.deliveries.dropped == 1
        await outbox.close()  # not worth sending them all


async def test_the_controllers_messages_are_fanned_out_in_process(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]],
) -> None:
    """With the embedded broker, the controller's publish hands its message to the fan-out
    within the call (no MQTT publish of its own session, nothing in its outbox), and the
    agent receives it as before."""
    broker, passwords = embedded
    name = _busload.Load().agent_names()[0]
    controller = bus.ControllerBus(
        broker.host,
        broker.port,
        bus.CONTROLLER_USER,
        passwords[bus.CONTROLLER_USER],
        on_message=lambda agent, message: None,
        local=broker.deliver,
    )
    session = asyncio.create_task(controller.run())
    try:
        async with _agent_client(broker, passwords) as client:
            await client.subscribe(schema.down_topic(name), qos=1)
            async with asyncio.timeout(30):  # a bound, so a fault fails instead of hanging
                await controller.connected.wait()
                published = broker.deliveries.published
                ack = schema.LogAck(source=name, offset=7)
                assert await controller.publish(name, ack)
                assert broker.deliveries.published == published + 1
                assert controller.client.queued == 0
                message = await anext(client.messages)
            assert isinstance(message.payload, bytes)
            assert schema.decode_controller_message(message.payload) == ack
    finally:
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)


async def test_agents_messages_reach_the_controller_in_process(
    embedded: tuple[bus.EmbeddedBroker, Mapping[str, str]],
) -> None:
    """With the embedded broker, an agent's publish is handed to the controller's receiver
    within the fan-out (counted as local, nothing written to the controller's connection),
    in order; a receiver that raises costs that one delivery, not the agent's connection."""
    broker, passwords = embedded
    name = _busload.Load().agent_names()[0]
    sent = [schema.Heartbeat(agent=name, units=(f"app/{n}",)) for n in range(5)]
    got: list[schema.AgentMessage] = []
    arrived = asyncio.Event()

    def on_message(agent: str, message: schema.AgentMessage) -> None:
        assert agent == name
        if isinstance(message, schema.Heartbeat) and message.units == ("boom/0",):
            raise RuntimeError("receiver fault")
        got.append(message)
        if len(got) == len(sent):
            arrived.set()

    controller = bus.ControllerBus(
        broker.host,
        broker.port,
        bus.CONTROLLER_USER,
        passwords[bus.CONTROLLER_USER],
        on_message=on_message,
        local=broker.deliver,
    )
    broker.receive_locally(bus.CONTROLLER_USER, controller.received_locally)
    session = asyncio.create_task(controller.run())
    try:
        async with _agent_client(broker, passwords) as client:
            async with asyncio.timeout(30):  # a bound, so a fault fails instead of hanging
                await controller.connected.wait()
                await client.publish(schema.up_topic(name), schema.encode(sent[0]), qos=1)
                await client.publish(
                    schema.up_topic(name),
                    schema.encode(schema.Heartbeat(agent=name, units=("boom/0",))),
                    qos=1,
                )
                for message in sent[1:]:
                    await client.publish(schema.up_topic(name), schema.encode(message), qos=1)
                await arrived.wait()
        assert got == sent
        assert broker.deliveries.local == len(sent)
        assert broker.deliveries.failed == 1
        assert broker.deliveries.dropped == 0
        assert controller.traffic.messages_in == len(sent) + 1
    finally:
        session.cancel()
        await asyncio.gather(session, return_exceptions=True)
