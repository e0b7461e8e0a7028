"""One MQTT client for the controller and the agents: a session that survives broker restarts.

aiomqtt has no reconnection of its own, so `BusClient.run` retries sessions through the one
retry policy (`runecraft._retry`): connect, subscribe, publish what was queued while away,
call `on_connect` (the caller re-sends what the other side may have missed), then deliver
incoming messages to `on_message` while a drainer publishes the outbox in order. A broker
that is away is a status (`connected` clear, `bus disconnected` logged), never a crash.

The outbox is bounded. `publish` queues and answers whether the payload was taken: a taken
payload leaves the outbox only once the broker acknowledged it (QoS 1), across any number of
reconnects; a payload that does not fit is refused and counted in `refused`, so memory stays
bounded while the broker is away and the caller knows to send it again later. Up to `window`
payloads await their PUBACK at once (written in order; they leave the outbox in order): a
publisher with many recipients, the controller, does not wait a broker round trip per
message. After a reconnect every unacknowledged payload is sent again in order, so with a
window above 1 a receiver may see an older message again after a newer one (at least once,
as QoS 1 is): the controller's messages are level-triggered and stale ones ignored. With
`join`, payloads to one topic that queued up go in one publish (up to `batch_bytes`): a
backlog crosses in a broker round trip per batch, in order, and a batch leaves the outbox
as a whole once acknowledged.

`publish_first` is for the one message whose lateness costs (an agent's heartbeat renews
leadership leases): it waits in a slot of its own, ahead of the outbox and never refused, a
newer one replacing one not yet sent. It waits at most for the publish in flight, not for
every report queued before it.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiomqtt

from runecraft import _logging, _retry

__all__ = ["RECONNECT", "Broker", "BusClient", "OnConnect", "OnMessage", "lost_connection"]

logger = _logging.get_logger(__name__)

OnConnect = Callable[[], Awaitable[None]]
"""Called on every (re)connect, once subscribed and once what was queued before is sent (so
what it publishes always finds room)."""
OnMessage = Callable[[str, bytes], Awaitable[None]]
"""Called with the topic and payload of every message received."""

RECONNECT = _retry.RetryPolicy(first=0.5, cap=15.0, spread=0.5, retry_on=(aiomqtt.MqttError,))
"""Reconnect 0.25-0.75 s after a session ends, doubling to 15 s (±50 %) while the broker stays
away; the first failure after a session that was up waits the shortest delay again."""


@dataclass(frozen=True)
class Broker:
    """Where and as whom to connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: ssl.SSLContext | None = None
    """Speak MQTT over TLS with this context (None: plain TCP)."""
    keepalive: int = 30
    """Seconds between pings; a broker that misses them is taken for gone."""


class BusClient:
    """A reconnecting MQTT 3.1.1 client (QoS 1) with a bounded, ordered outbox."""

    def __init__(
        self,
        broker: Broker,
        *,
        client_id: str,
        subscriptions: Sequence[str],
        outbox_size: int = 1000,
        reconnect: _retry.RetryPolicy = RECONNECT,
        window: int = 1,
        join: Callable[[Sequence[bytes]], bytes] | None = None,
        batch_bytes: int = 0,
    ) -> None:
        if outbox_size < 1:
            raise ValueError(f"outbox_size must be at least 1, not {outbox_size}")
        if window < 1:
            raise ValueError(f"window must be at least 1, not {window}")
        self._window = window
        self._join = join
        self._batch_bytes = batch_bytes
        self.broker = broker
        self.client_id = client_id
        self._subscriptions = tuple(subscriptions)
        self._outbox_size = outbox_size
        self._reconnect = reconnect
        self._outbox: collections.deque[tuple[str, bytes]] = collections.deque()
        self._first: tuple[str, bytes] | None = None
        self._pending = asyncio.Event()
        self._overflowing = False
        self.refused = 0
        """Payloads refused because the outbox was full."""
        self.connected = asyncio.Event()
        """Set while a session is up (for callers that want to wait for it)."""

    def is_connected(self) -> bool:
        """A session is up right now."""
        return self.connected.is_set()

    @property
    def queued(self) -> int:
        """Payloads taken and not yet acknowledged by the broker."""
        return len(self._outbox) + (self._first is not None)

    def publish(self, topic: str, payload: bytes) -> bool:
        """Queue `payload` for `topic`; False (and counted) if the outbox is full."""
        if len(self._outbox) >= self._outbox_size:
            if not self._overflowing:
                self._overflowing = True
                logger.warning("bus outbox full, refusing messages", size=len(self._outbox))
            self.refused += 1
            return False
        self._outbox.append((topic, payload))
        self._pending.set()
        return True

    def publish_first(self, topic: str, payload: bytes) -> None:
        """Send `payload` before anything queued (after the publish in flight), replacing
        the one given here before if that was not sent yet."""
        self._first = (topic, payload)
        self._pending.set()

    async def run(self, *, on_connect: OnConnect, on_message: OnMessage) -> None:
        """Connect, serve, and reconnect until cancelled."""
        attempts = _retry.Attempts()
        retrying = self._reconnect.retrying(
            "bus disconnected", attempts=attempts, host=self.broker.host, port=self.broker.port
        )
        async for attempt in retrying:
            with attempt:
                up = functools.partial(attempts.restart, attempt.retry_state)
                try:
                    await self._session(on_connect, on_message, up)
                finally:
                    self.connected.clear()

    async def _session(
        self, on_connect: OnConnect, on_message: OnMessage, up: Callable[[], None]
    ) -> None:
        """One connection, until it fails (it always ends with an `aiomqtt.MqttError`)."""
        async with aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self.broker.username,
            password=self.broker.password,
            identifier=self.client_id,
            protocol=aiomqtt.ProtocolVersion.V311,
            clean_session=True,
            keepalive=self.broker.keepalive,
            tls_context=self.broker.tls,
        ) as client:
            for topic in self._subscriptions:
                await client.subscribe(topic, qos=1)
            logger.info("bus connected", host=self.broker.host, port=self.broker.port)
            up()
            await self._flush(client)  # what was taken while away goes first, and makes room
            self.connected.set()
            await on_connect()
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._drain(client))
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            await on_message(str(message.topic), bytes(payload))
            except ExceptionGroup as group:
                lost = lost_connection(group)
                if lost is None:
                    raise
                raise lost from None
        raise aiomqtt.MqttError("the broker closed the connection")

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Publish whatever is queued, as it comes, for the rest of the session."""
        while True:
            await self._flush(client)
            self._pending.clear()
            await self._pending.wait()

    async def _flush(self, client: aiomqtt.Client) -> None:
        """Publish queued payloads in order, the `publish_first` one ahead (once those in
        flight are acknowledged), up to `window` of them awaiting their PUBACK; each leaves
        the outbox once the broker has it and every one before it."""
        sending: collections.deque[tuple[asyncio.Task[None], int]] = collections.deque()
        ahead = 0  # outbox payloads in the publishes of `sending`
        try:
            while self._first is not None or self._outbox:
                if self._first is not None and not sending:
                    first = self._first
                    await client.publish(*first, qos=1)
                    if self._first is first:  # else a newer one came meanwhile: it goes next
                        self._first = None
                    continue
                while (
                    self._first is None
                    and len(sending) < self._window
                    and ahead < len(self._outbox)
                ):
                    # A task's first step hands the packet to paho: tasks start in order.
                    topic, payload, count = self._batch(ahead)
                    task = asyncio.ensure_future(client.publish(topic, payload, qos=1))
                    sending.append((task, count))
                    ahead += count
                task, count = sending[0]
                await task
                sending.popleft()
                ahead -= count
                for _ in range(count):
                    self._outbox.popleft()
        finally:
            for task, _ in sending:
                task.cancel()
            await asyncio.gather(*(task for task, _ in sending), return_exceptions=True)
        self._overflowing = False

    def _batch(self, start: int) -> tuple[str, bytes, int]:
        """The publish of the outbox from `start`: its payload, joined with those after it
        to the same topic while they fit in `batch_bytes`; and how many it holds."""
        topic, payload = self._outbox[start]
        if self._join is None:
            return topic, payload, 1
        parts = [payload]
        size = len(payload)
        for next_topic, next_payload in itertools.islice(self._outbox, start + 1, None):
            size += len(next_payload) + 1
            if next_topic != topic or size > self._batch_bytes:
                break
            parts.append(next_payload)
        return topic, (self._join(parts) if len(parts) > 1 else payload), len(parts)


def lost_connection(group: ExceptionGroup[Exception]) -> aiomqtt.MqttError | None:
    """The one `MqttError` a session ends with when every task of it failed for that reason.

    Reading and publishing both fail when a connection drops, so the group often holds two
    errors; re-raising one of them inside `except*` would wrap it in a group again, which
    the reconnect policy does not know, and the agent would exit instead of reconnecting.
    """
    lost = [e for e in group.exceptions if isinstance(e, aiomqtt.MqttError)]
    return lost[0] if lost and len(lost) == len(group.exceptions) else None
