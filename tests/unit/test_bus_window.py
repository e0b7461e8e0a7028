"""The bus client's publish window: up to `window` QoS 1 publishes await their PUBACK at
once, written in order, each leaving the outbox once acknowledged (with every one before
it). Checked against a minimal MQTT 3.1.1 server that holds its PUBACKs back."""

from __future__ import annotations

import asyncio
import contextlib
import struct

import pytest

from runecraft.bus import Broker, BusClient

CONNACK = bytes([0x20, 0x02, 0x00, 0x00])


class HoldingServer:
    """Accepts one client, answers CONNECT, and records each PUBLISH (topic, packet id)
    without acknowledging it until `ack` is called."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int]] = []
        self.arrived = asyncio.Condition()
        self._writer: asyncio.StreamWriter | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                kind, body = await _packet(reader)
                if kind == 0x10:  # CONNECT
                    writer.write(CONNACK)
                elif kind == 0x30:  # PUBLISH
                    (length,) = struct.unpack("!H", body[:2])
                    topic = body[2 : 2 + length].decode()
                    (packet_id,) = struct.unpack("!H", body[2 + length : 4 + length])
                    async with self.arrived:
                        self.published.append((topic, packet_id))
                        self.arrived.notify_all()
                elif kind == 0xC0:  # PINGREQ
                    writer.write(bytes([0xD0, 0x00]))

    def ack(self, packet_id: int) -> None:
        assert self._writer is not None
        self._writer.write(bytes([0x40, 0x02]) + struct.pack("!H", packet_id))

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(30), self.arrived:  # a bound so a fault fails, not hangs
            await self.arrived.wait_for(lambda: len(self.published) >= count)


async def _packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return header & 0xF0, await reader.readexactly(length)


async def _published_before_any_ack(window: int, queued: int) -> tuple[list[str], int]:
    """Topics the server got while holding every PUBACK back, once the client stopped
    writing (it is up, and its next write needs an acknowledgement), and what it then had
    queued; then one PUBACK lets exactly one more through."""
    holding = HoldingServer()
    server = await asyncio.start_server(holding.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = BusClient(Broker("127.0.0.1", port), client_id="c", subscriptions=(), window=window)
    for n in range(queued):
        assert client.publish(f"t/{n}", b"x")

    async def on_connect() -> None:
        return None

    async def on_message(topic: str, payload: bytes) -> None:
        del topic, payload

    running = asyncio.create_task(client.run(on_connect=on_connect, on_message=on_message))
    try:
        await holding.wait_for(window)
        # Loop turns in which a client ignoring its window would write more (it shares
        # this loop, so its writes reach the server within them).
        for _ in range(20):
            await asyncio.sleep(0)
        before = [topic for topic, _ in holding.published]
        still_queued = client.queued
        holding.ack(holding.published[0][1])
        await holding.wait_for(window + 1)
        assert client.queued == queued - 1
        return before, still_queued
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("window", [1, 3])
async def test_window_publishes_await_their_puback_together(window: int) -> None:
    before, queued = await _published_before_any_ack(window, queued=5)
    assert before == [f"t/{n}" for n in range(window)]
    assert queued == 5  # nothing leaves the outbox before the broker has it


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        BusClient(Broker("127.0.0.1", 1), client_id="c", subscriptions=(), window=0)
