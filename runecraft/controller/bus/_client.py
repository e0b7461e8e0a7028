"""The controller's MQTT connection: receives agent messages, sends snapshots.

aiomqtt does not reconnect by itself, so `run()` is a reconnect loop with jittered backoff.
Publishing while disconnected is not queued: snapshots are level-triggered, and an agent
that reconnects says hello and gets a fresh one.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import aiomqtt
import pydantic
import structlog

from runecraft.schemas import bus

__all__ = ["ControllerBus"]

logger = structlog.get_logger(__name__)


class ControllerBus:
    """One connection as the `controller` user."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        on_message: Callable[[str, bus.AgentMessage], None],
        on_connect: Callable[[], None] = lambda: None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.on_message = on_message
        self.on_connect = on_connect
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.rejected = 0

    async def run(self) -> None:
        delay = 0.1
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=f"runecraft-controller-{random.getrandbits(32):08x}",
                    keepalive=30,
                    max_queued_outgoing_messages=100000,
                ) as client:
                    self._client = client
                    await client.subscribe("agents/+/up", qos=1)
                    self.connected.set()
                    self.on_connect()
                    delay = 0.1
                    logger.info("bus connected", host=self.host, port=self.port)
                    async for message in client.messages:
                        self._receive(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                logger.warning("bus disconnected", error=str(exc), retry_in=round(delay, 2))
            finally:
                self._client = None
                self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 5.0)

    def _receive(self, topic: str, payload: object) -> None:
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != "agents" or parts[2] != "up":
            return
        if not isinstance(payload, bytes | bytearray):
            self.rejected += 1
            return
        try:
            message = bus.decode_agent_message(bytes(payload))
        except (pydantic.ValidationError, ValueError) as exc:
            self.rejected += 1
            logger.warning("bad bus message", agent=parts[1], error=str(exc).splitlines()[0])
            return
        self.on_message(parts[1], message)

    async def publish(self, agent: str, message: bus.MachineSnapshot | bus.LogAck) -> bool:
        """Send to one agent; False when not connected (the caller sends it again later)."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(bus.down_topic(agent), bus.encode(message), qos=1)
        except aiomqtt.MqttError as exc:
            logger.warning("message not sent", agent=agent, kind=message.kind, error=str(exc))
            return False
        return True
