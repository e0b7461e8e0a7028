"""The controller's side of the bus: agent messages in, snapshots and log acks out.

With the embedded broker, what goes out is handed to the broker's fan-out in-process while
the session is up (the session still says when agents may have missed messages).

The MQTT session (reconnects, outbox) is `runecraft.bus.BusClient`'s. While disconnected a
message is not queued but refused: snapshots are level-triggered, and after a reconnect
`on_connect` has the reconciler publish every machine's snapshot afresh.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import pydantic
import structlog

from runecraft import _tracing
from runecraft import bus as mqtt
from runecraft.schemas import bus, problems

__all__ = ["BusTraffic", "ControllerBus"]

logger = structlog.get_logger(__name__)

OUTBOX_SIZE = 100_000
"""Messages the controller may have in flight to the broker before it refuses more."""
WINDOW = 20
"""Messages awaiting the broker's PUBACK at once (mosquitto's default in-flight limit): a
pass's snapshots to many agents go out without a round trip each."""


@dataclass
class BusTraffic:
    """Running totals of the controller's bus session (plain counts: cheap on every message)."""

    messages_in: int = 0
    bytes_in: int = 0
    messages_out: int = 0
    bytes_out: int = 0


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
        tls: ssl.SSLContext | None = None,
        local: Callable[[str, bytes], bool] | None = None,
    ) -> None:
        """`local`: the embedded broker's in-process delivery (`EmbeddedBroker.deliver`),
        used for what this session publishes while it is connected."""
        self.on_message = on_message
        self._local = local
        self.on_connect = on_connect
        self.client = mqtt.BusClient(
            mqtt.Broker(host, port, username, password, tls),
            client_id=username,  # brokers hold a client to the id its username gives
            subscriptions=[bus.up_topic("+")],
            outbox_size=OUTBOX_SIZE,
            window=WINDOW,
        )
        self.connected = self.client.connected
        self._since = 0.0
        self.rejected = 0
        """Agent messages dropped because they could not be decoded."""
        self.traffic = BusTraffic()
        """Messages and bytes through this session, both ways (the controller's metrics)."""

    async def run(self) -> None:
        """Stay connected until cancelled."""
        await self.client.run(on_connect=self._connected, on_message=self._received)

    def since(self) -> float | None:
        """When the current session began, in wall-clock seconds (None: no session now)."""
        return self._since if self.connected.is_set() else None

    async def _connected(self) -> None:
        # Called as `connected` is set, with nothing run between: `since` is never stale.
        self._since = time.time()
        self.on_connect()

    async def _received(self, topic: str, payload: bytes) -> None:
        self.received_locally(topic, payload)

    def received_locally(self, topic: str, payload: bytes) -> None:
        """An agent's messages (one publish may join several), from this session or handed
        over by the embedded broker in process (`EmbeddedBroker.receive_locally`). A part
        that cannot be read is dropped and counted; the others are taken."""
        parts = topic.split("/")
        if len(parts) != 3 or parts[0] != "agents" or parts[2] != "up":
            return
        self.traffic.bytes_in += len(payload)
        try:
            messages = bus.split_messages(payload)  # an agent joins messages that queued up
        except ValueError as exc:
            self.traffic.messages_in += 1
            self.rejected += 1
            logger.warning("bad bus message", agent=parts[1], error=str(exc))
            return
        for part in messages:
            self.traffic.messages_in += 1
            try:
                message, trace = bus.decode_traced_agent_message(part)
            except (pydantic.ValidationError, ValueError) as exc:
                self.rejected += 1
                logger.warning("bad bus message", agent=parts[1], error=_problem(exc))
                continue
            with _tracing.resumed(trace):  # what the message causes continues its trace
                self.on_message(parts[1], message)

    async def publish(self, agent: str, message: bus.MachineSnapshot | bus.LogAck) -> bool:
        """Send to one agent; False when not connected or the outbox is full (the caller
        sends it again later)."""
        if not self.client.is_connected():
            return False
        if not _tracing.enabled():
            return self._send(bus.down_topic(agent), bus.encode(message))
        attributes: dict[str, str | int] = {
            "runecraft.agent": agent,
            "runecraft.message": message.kind,
        }
        if isinstance(message, bus.MachineSnapshot):
            attributes["runecraft.snapshot.revision"] = message.revision
        with _tracing.span("bus publish", attributes=attributes, orphan=False):
            payload = bus.encode(message, _tracing.traceparent())
            return self._send(bus.down_topic(agent), payload)

    def _send(self, topic: str, payload: bytes) -> bool:
        if self._local is not None and not self.client.queued:  # nothing to overtake
            taken = self._local(topic, payload)
        else:
            taken = self.client.publish(topic, payload)
        if taken:
            self.traffic.messages_out += 1
            self.traffic.bytes_out += len(payload)
        return taken


def _problem(exc: Exception) -> str:
    """What is wrong with a message, naming the field (`body.agent-metrics.hooks: must have
    at most 512 items`); the first problem only, with how many more there are."""
    if not isinstance(exc, pydantic.ValidationError):
        return str(exc).splitlines()[0]
    found = exc.errors()
    first = found[0]
    said = f"{problems.location(first) or 'message'}: {problems.reason(first)}"
    return said if len(found) == 1 else f"{said} (and {len(found) - 1} more)"
