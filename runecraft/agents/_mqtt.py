"""The machine agent's MQTT edge: one connection that survives broker restarts.

aiomqtt has no reconnection of its own, so `MqttLink.run` loops: connect, subscribe to the
agent's `down` topic, call `on_connect` (the agent says Hello and re-sends its reports), then
deliver incoming payloads to `on_message` while a drainer publishes the outbox to the `up`
topic. On any MQTT error it waits a jittered, capped exponential backoff and starts over.

The outbox is bounded: when the broker is away for long, the oldest payloads are dropped.
That is safe because every report is a full snapshot and all of them are re-sent after each
reconnect. Everything aiomqtt stays in this module; the rest of the agent sees `BusLink`.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiomqtt
import structlog

__all__ = ["BusLink", "MqttLink", "OnConnect", "OnMessage", "backoff"]

logger = structlog.get_logger(__name__)

OnConnect = Callable[[], Awaitable[None]]
OnMessage = Callable[[bytes], Awaitable[None]]


class BusLink(Protocol):
    """A reconnecting, bidirectional link to the controller."""

    def publish(self, payload: bytes) -> None:
        """Queue a payload for the agent's `up` topic (delivered once connected)."""

    def is_connected(self) -> bool:
        """A session is up right now."""

    async def run(self, *, on_connect: OnConnect, on_message: OnMessage) -> None:
        """Stay connected until cancelled, calling back on every (re)connect and message."""


def backoff(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before reconnect attempt `attempt` (1-based): full-jitter exponential."""
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


class _Session:
    """Facts about one connection attempt."""

    connected = False


class MqttLink:
    """`BusLink` over aiomqtt (MQTT 3.1.1, QoS 1)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        client_id: str,
        subscribe_topic: str,
        publish_topic: str,
        outbox_size: int = 1000,
        keepalive: int = 30,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._client_id = client_id
        self._subscribe_topic = subscribe_topic
        self._publish_topic = publish_topic
        self._keepalive = keepalive
        self._outbox: collections.deque[bytes] = collections.deque(maxlen=outbox_size)
        self._pending = asyncio.Event()
        self._dropping = False
        self.connected = asyncio.Event()
        """Set while a session is up (for callers that want to wait for it)."""

    def is_connected(self) -> bool:
        """A session is up right now."""
        return self.connected.is_set()

    def publish(self, payload: bytes) -> None:
        """Queue `payload`; if the outbox is full the oldest payload is dropped."""
        if len(self._outbox) == self._outbox.maxlen and not self._dropping:
            self._dropping = True
            logger.warning("bus outbox full, dropping oldest messages", size=len(self._outbox))
        self._outbox.append(payload)
        self._pending.set()

    async def run(self, *, on_connect: OnConnect, on_message: OnMessage) -> None:
        """Connect, serve, and reconnect forever (until cancelled)."""
        failures = 0
        while True:
            session = _Session()
            error = "connection closed"
            try:
                await self._session(on_connect, on_message, session)
            except* aiomqtt.MqttError as group:
                error = "; ".join(str(exc) for exc in group.exceptions)
            self.connected.clear()
            failures = 1 if session.connected else failures + 1
            delay = backoff(failures)
            logger.warning("bus disconnected", error=error, retry_in=round(delay, 2))
            await asyncio.sleep(delay)

    async def _session(
        self, on_connect: OnConnect, on_message: OnMessage, session: _Session
    ) -> None:
        async with aiomqtt.Client(
            self._host,
            self._port,
            username=self._username,
            password=self._password,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=True,
            keepalive=self._keepalive,
        ) as client:
            await client.subscribe(self._subscribe_topic, qos=1)
            logger.info("bus connected", host=self._host, port=self._port)
            session.connected = True
            self.connected.set()
            await on_connect()  # queues Hello and fresh reports before anything is sent
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._drain(client))
                async for message in client.messages:
                    payload = message.payload
                    if isinstance(payload, bytes | bytearray):
                        await on_message(bytes(payload))

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Publish queued payloads in order; a payload leaves the queue once it was sent."""
        while True:
            while self._outbox:
                payload = self._outbox.popleft()
                try:
                    await client.publish(self._publish_topic, payload, qos=1)
                except BaseException:
                    self._outbox.appendleft(payload)
                    raise
            self._dropping = False
            self._pending.clear()
            await self._pending.wait()
