"""The broker watch, on both real brokers: a broker that stops serving is started again by
the controller's supervisor, its health says so meanwhile, and clients get a broker that
serves (those of the old one cut off, so none is left on a broker nobody else is on)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from runecraft.controller import _passwords, _supervisor, bus
from runecraft.schemas.controller import BrokerState
from tests.conftest import free_port

from . import _brokers
from ._brokers import AGENT, AGENT_PASSWORD, CONTROLLER_PASSWORD


async def wait_state(watch: bus.BrokerWatch, state: BrokerState) -> None:
    async with asyncio.timeout(30):
        while watch.health.state is not state:  # noqa: ASYNC110 (a state, not an event)
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def supervised(watch: bus.BrokerWatch) -> AsyncIterator[None]:
    task = asyncio.create_task(_supervisor.supervise("broker", watch.run, traceback=False))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def round_trip(port: int) -> None:
    """The broker serves: a message from the controller reaches an agent."""
    async with (
        aiomqtt.Client(
            "127.0.0.1", port, username=AGENT, password=AGENT_PASSWORD, identifier=AGENT
        ) as agent,
        aiomqtt.Client(
            "127.0.0.1",
            port,
            username=bus.CONTROLLER_USER,
            password=CONTROLLER_PASSWORD,
            identifier=bus.CONTROLLER_USER,
        ) as controller,
    ):
        await agent.subscribe(f"agents/{AGENT}/down", qos=1)
        await controller.publish(f"agents/{AGENT}/down", b"hi", qos=1)
        async with asyncio.timeout(10):
            message = await anext(aiter(agent.messages))
        assert message.payload == b"hi"


async def test_embedded_broker_that_stops_accepting_is_started_again() -> None:
    port = free_port()
    stored = _brokers.hashes()

    async def verify(user: str, password: str) -> bool:
        return _passwords.verify_password(password, stored.get(user))

    embedded = bus.EmbeddedBroker("127.0.0.1", port, verify)
    await embedded.start()
    watch = bus.BrokerWatch(
        "the embedded broker", embedded.restart, lambda: embedded.stopped(interval=0.05)
    )
    try:
        async with (
            supervised(watch),
            aiomqtt.Client(
                "127.0.0.1", port, username=AGENT, password=AGENT_PASSWORD, identifier=AGENT
            ) as old,
        ):
            await old.subscribe(f"agents/{AGENT}/down", qos=1)
            assert embedded.fault() is None
            for server in embedded._broker._servers.values():  # amqtt's listener fails
                server.instance.close()
            await wait_state(watch, BrokerState.RESTARTING)
            assert "stopped accepting" in watch.health.message
            await wait_state(watch, BrokerState.RUNNING)
            await round_trip(port)
            with pytest.raises(aiomqtt.MqttError):  # cut off from the old broker
                async with asyncio.timeout(10):
                    await anext(aiter(old.messages))
    finally:
        await embedded.stop()


async def test_killed_mosquitto_is_started_again_and_an_adopted_one_watched(
    tmp_path: Path,
) -> None:
    port = free_port()
    credentials = list(_brokers.hashes().items())
    mosquitto = bus.ManagedMosquitto(tmp_path / "mosquitto", "127.0.0.1", port)

    async def start() -> None:
        await mosquitto.start(credentials)

    await start()
    watch = bus.BrokerWatch("mosquitto", start, mosquitto.exited)
    try:
        async with supervised(watch):
            first = int(mosquitto.pid_file.read_text())
            os.kill(first, signal.SIGKILL)
            await wait_state(watch, BrokerState.RESTARTING)
            assert watch.health.message == f"mosquitto (pid {first}) was killed by signal 9"
            await wait_state(watch, BrokerState.RUNNING)
            await round_trip(port)

        # A later controller adopts the running mosquitto (not its child) and watches it.
        adopted = int(mosquitto.pid_file.read_text())
        assert adopted != first
        mosquitto = bus.ManagedMosquitto(tmp_path / "mosquitto", "127.0.0.1", port)
        await start()
        assert int(mosquitto.pid_file.read_text()) == adopted
        watch = bus.BrokerWatch("mosquitto", start, mosquitto.exited)
        async with supervised(watch):
            os.kill(adopted, signal.SIGKILL)
            await wait_state(watch, BrokerState.RESTARTING)
            await wait_state(watch, BrokerState.RUNNING)
            assert int(mosquitto.pid_file.read_text()) != adopted
            await round_trip(port)
    finally:
        await mosquitto.stop()
