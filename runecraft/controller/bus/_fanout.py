"""The embedded broker's deliveries: one outbox per connected session, and their counts.

amqtt 0.12 sends every delivery as a task of its own that waits 5 s for the PUBACK, with
the waiter registered only after the PUBLISH was written: a PUBACK that comes back while the
write is still draining is "unknown", and under load the delivery times out and is given
up. Here each connected session has one `Outbox`, drained in order by one task, with up to
`WINDOW` QoS 1 deliveries awaiting their PUBACK (waiters registered before the write, no
timeout: a live connection acknowledges, and a closed one cancels the waiters).

The amqtt internals used (`ProtocolHandler._send_packet`, `._puback_waiters`,
`Session.next_packet_id`, `.inflight_out`) are checked when the module is imported
(`check_amqtt`), so an amqtt that changed them fails loudly instead of losing messages.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import inspect
from typing import Any

import structlog
from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.protocol.handler import ProtocolHandler
from amqtt.mqtt.publish import PublishPacket
from amqtt.session import OutgoingApplicationMessage, Session

from runecraft.schemas import bus as bus_schema

__all__ = ["OUTBOX_BYTES", "OUTBOX_LIMIT", "WINDOW", "Deliveries", "Outbox", "check_amqtt"]

logger = structlog.get_logger(__name__)

WINDOW = 20
"""QoS 1 deliveries a session may have awaiting their PUBACK at once (mosquitto's default
`max_inflight_messages`); the rest wait in its outbox, in order."""
OUTBOX_LIMIT = 100_000
"""Deliveries a session may have waiting behind its window; more are dropped (and counted).
As many as the controller may have in flight to the broker (`ControllerBus`): the
controller's session takes every agent's messages, and at 1,000 agents with bursts 10,000
was reached. Only a client that stops reading while staying connected gets there."""
OUTBOX_BYTES = 64 * bus_schema.MAX_PAYLOAD_BYTES
"""Payload bytes a session may have waiting behind its window (256 MiB); more are dropped
(and counted), as beyond `OUTBOX_LIMIT`: the payloads are snapshots and log batches, which
can be large. Every agent's log shipper waits for its batch to be acknowledged, so the
controller's session holds about one 256 KiB batch per agent at most."""


@dataclasses.dataclass
class Deliveries:
    """What the embedded broker did with the messages it took (for tests and metrics)."""

    published: int = 0
    """Messages taken from publishers (allowed by the ACL, acknowledged to them)."""
    refused: int = 0
    """Publishes the ACL refused (dropped, as MQTT 3.1.1 has no way to say so)."""
    attempted: int = 0
    """Deliveries to subscribers begun (one per message and subscribed session)."""
    delivered: int = 0
    """Deliveries the subscriber acknowledged (QoS 1) or that were written (QoS 0)."""
    failed: int = 0
    """Deliveries whose subscriber's connection ended before the broker saw their PUBACK:
    its session ended with it (clean sessions only), so MQTT discards them, and the
    controller re-sends state on connect. A client that reconnects at once may have had
    the last of them all the same (its old connection's PUBACK unread when the new one
    replaced it)."""
    local: int = 0
    """Deliveries handed to an in-process receiver (the controller's) instead of its
    connection; counted in `attempted` and `delivered` too."""
    dropped: int = 0
    """Deliveries the broker lost while the subscriber was connected: a full outbox or a
    fault. Zero is the goal; anything else is logged."""


class Outbox:
    """One connected session's deliveries, sent in order by one task.

    A fault in that task (anything but the connection ending) closes the outbox and the
    connection, so the client reconnects and the controller sends its state again, rather
    than the client looking connected while nothing reaches it."""

    def __init__(
        self, session: Session, handler: BrokerProtocolHandler, counts: Deliveries
    ) -> None:
        self._session = session
        self._handler = handler
        self._counts = counts
        self._queue: collections.deque[tuple[str, bytes, int]] = collections.deque()
        self._wake = asyncio.Event()
        self._window = asyncio.Semaphore(WINDOW)
        self._unacknowledged: dict[int, asyncio.Future[Any]] = {}
        self._closed = False
        self._bytes = 0
        """Payload bytes in `_queue`."""
        self._overflowing = False
        self._task = asyncio.create_task(self._send_all(), name=f"outbox {session.client_id}")

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing awaiting its PUBACK: a delivery handed over another
        way now overtakes none of this outbox's."""
        return not self._queue and not self._unacknowledged

    @property
    def closed(self) -> bool:
        """No more deliveries go out (the connection ended, or the sender failed)."""
        return self._closed

    def put(self, topic: str, data: bytes, qos: int) -> None:
        """Queue one delivery (QoS 0 or 1)."""
        self._counts.attempted += 1
        if self._closed:
            self._counts.failed += 1
            return
        if len(self._queue) >= OUTBOX_LIMIT or self._bytes + len(data) > OUTBOX_BYTES:
            self._counts.dropped += 1
            if not self._overflowing:
                self._overflowing = True
                logger.warning("bus delivery dropped: outbox full", client=self._session.client_id)
            return
        self._queue.append((topic, data, qos))
        self._bytes += len(data)
        self._wake.set()

    async def close(self) -> None:
        """The connection ended: what it did not acknowledge is discarded (clean session)."""
        if not self._closed:
            self._closed = True
            self._task.cancel()
        # A sender that failed is still stopping the connection: let it finish.
        await asyncio.gather(self._task, return_exceptions=True)
        self._counts.failed += len(self._queue)
        self._queue.clear()
        self._bytes = 0
        for acknowledged in list(self._unacknowledged.values()):
            acknowledged.cancel()

    async def _send_all(self) -> None:
        try:
            while True:
                while not self._queue:
                    self._overflowing = False
                    self._wake.clear()
                    await self._wake.wait()
                await self._window.acquire()
                topic, data, qos = self._queue.popleft()
                self._bytes -= len(data)
                await self._send(topic, data, qos)
        except Exception as exc:  # a fault here must not pass silently: count what it cost
            self._closed = True
            lost = len(self._queue) + 1
            self._counts.dropped += lost
            self._queue.clear()
            self._bytes = 0
            logger.exception(
                "bus deliveries dropped; closing the connection",
                client=self._session.client_id,
                count=lost,
                error=exc,
            )
            await self._handler.stop()  # the client reconnects, and is sent its state again

    async def _send(self, topic: str, data: bytes, qos: int) -> None:
        handler = self._handler
        if qos == 0:
            self._window.release()
            await handler._send_packet(PublishPacket.build(topic, data, None, False, 0, False))
            self._counts.delivered += 1
            return
        packet_id = self._session.next_packet_id
        message = OutgoingApplicationMessage(packet_id, topic, qos, data, False)
        self._session.inflight_out[packet_id] = message  # so the id is not reused meanwhile
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        acknowledged.add_done_callback(functools.partial(self._acknowledged, packet_id))
        handler._puback_waiters[packet_id] = acknowledged  # before the write: see the docstring
        self._unacknowledged[packet_id] = acknowledged
        message.publish_packet = message.build_publish_packet()
        try:
            await handler._send_packet(message.publish_packet)
        except Exception:  # not written: counted as dropped by the caller, not as failed
            del self._unacknowledged[packet_id]
            handler._puback_waiters.pop(packet_id, None)
            self._session.inflight_out.pop(packet_id, None)
            raise

    def _acknowledged(self, packet_id: int, acknowledged: asyncio.Future[Any]) -> None:
        self._window.release()
        self._session.inflight_out.pop(packet_id, None)
        self._unacknowledged.pop(packet_id, None)
        if self._handler._puback_waiters.get(packet_id) is acknowledged:
            del self._handler._puback_waiters[packet_id]
        if acknowledged.cancelled():  # the connection closed first
            self._counts.failed += 1
        else:
            self._counts.delivered += 1


AMQTT_METHODS: dict[tuple[type[Any], str], tuple[str, ...]] = {
    (Broker, "_initialize_client_session"): (
        "self",
        "reader",
        "writer",
        "remote_address",
        "remote_port",
    ),
    (Broker, "_authenticate"): ("self", "session", "_"),
    (Broker, "_client_message_loop"): ("self", "client_session", "handler"),
    (Broker, "_handle_disconnect"): ("self", "client_session", "handler", "disconnect_waiter"),
    (Broker, "_handle_subscription"): ("self", "client_session", "handler", "subscribe_waiter"),
    (Broker, "_handle_unsubscription"): (
        "self",
        "client_session",
        "handler",
        "unsubscribe_waiter",
    ),
    (Broker, "_broadcast_message"): ("self", "session", "topic", "data", "force_qos"),
    (Broker, "_topic_filtering"): ("self", "session", "topic", "action"),
    (Broker, "add_subscription"): ("self", "subscription", "session"),
    (Broker, "_session_monitor"): ("self",),
    (Broker, "_cleanup_session"): ("self", "client_id"),
    (Broker, "_stop_handler"): ("self", "handler"),
    (Broker, "retain_message"): ("self", "source_session", "topic_name", "data", "qos"),
    (Broker, "_matches"): ("self", "topic", "a_filter"),
    (Broker, "shutdown"): ("self",),
    (ProtocolHandler, "_send_packet"): ("self", "packet"),
    (ProtocolHandler, "handle_puback"): ("self", "puback"),
    (ProtocolHandler, "mqtt_deliver_next_message"): ("self",),
    (BrokerProtocolHandler, "wait_disconnect"): ("self",),
    (BrokerProtocolHandler, "get_next_pending_subscription"): ("self",),
    (BrokerProtocolHandler, "get_next_pending_unsubscription"): ("self",),
}
"""The amqtt methods the embedded broker overrides or calls, with their parameters."""

AMQTT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "Broker.__init__": (
        "self._sessions",
        "self._subscriptions",
        "self._servers",
        "self._broadcast_task",
    ),
    "ProtocolHandler.__init__": ("self._puback_waiters",),
    "ProtocolHandler.handle_puback": ("self._puback_waiters[packet_id]",),
    "Session.__init__": ("self.inflight_out", "self.delivered_message_queue", "self.attributes"),
}
"""Attributes the embedded broker reads, by the code that sets (or reads) them in amqtt."""


def check_amqtt() -> None:
    """Raise `ImportError` if amqtt's internals the embedded broker relies on changed."""
    changed = []
    for (owner, name), expected in AMQTT_METHODS.items():
        method = getattr(owner, name, None)
        found = None if method is None else tuple(inspect.signature(method).parameters)
        if found != expected:
            changed.append(f"{owner.__name__}.{name}{found or ' is gone'}")
    owners = {"Broker": Broker, "ProtocolHandler": ProtocolHandler, "Session": Session}
    for where, names in AMQTT_ATTRIBUTES.items():
        owner_name, method = where.split(".")
        source = inspect.getsource(getattr(owners[owner_name], method))
        changed += [f"{where} no longer uses {name}" for name in names if name not in source]
    if not hasattr(Session, "next_packet_id"):
        changed.append("Session.next_packet_id is gone")
    if changed:
        raise ImportError(
            "the installed amqtt changed internals the embedded broker's lossless delivery "
            f"relies on ({'; '.join(changed)}): review runecraft.controller.bus._embedded and "
            "_fanout against it, or install the amqtt of requirements/lock.txt"
        )


check_amqtt()
