"""Ships each unit's log (`unit.log`) and the agent's own (`machine.log`) to the controller
for `rune debug-log`.

The file on the machine is the durable copy; the shipper sends whole lines from the offset
the controller last acknowledged and re-sends the same batch until a `LogAck` covers it, so
a burst, a disconnect or a controller restart loses nothing, and the controller keeps each
line once (a batch that ends before the offset it holds is a duplicate). A unit's first
message is an empty batch that asks where the controller's copy ends, so an agent restart
does not send the log again. One batch per log is in flight at a time.

A log that was rotated or recreated (shorter than the controller's copy, or another file
than the one shipped so far) is the next generation: it is shipped from its start, and the
controller's copy moves on to it (`runecraft.schemas.sequencing.log_verdict`).

`flush()` waits (bounded) until the controller holds a log as far as it is written now: a
removed unit flushes before it reports its removal (after which the controller forgets it
and the machine deletes its log), and a stopping machine agent before it disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from runecraft import _logging
from runecraft.schemas import bus
from runecraft.schemas.logs import CONTINUATION as _CONTINUATION

__all__ = ["FLUSH_TIMEOUT", "LogShipper", "Publish", "batch_end"]

logger = _logging.get_logger(__name__)

Publish = Callable[[bytes], object]
"""Queues one payload for the controller."""

BATCH_BYTES = 256 * 1024
"""Most bytes of log per message (well below the bus payload limit)."""

CONTINUATION = _CONTINUATION.encode()

FLUSH_TIMEOUT = 10.0
"""Longest `flush()` waits for the controller to hold a log: a removal or a stop is
delayed by at most this much when the controller cannot be reached."""


def batch_end(chunk: bytes) -> int:
    """How much of `chunk` (read from a log at a record's start, up to `BATCH_BYTES` and
    one byte more) to ship: whole records, so that the controller gets every record of
    several lines (`runecraft.schemas.logs.frame`) in one batch. A record longer than a
    batch goes in parts, cut at a line's end (or inside a line longer than a batch)."""
    full = len(chunk) > BATCH_BYTES
    body = chunk[:BATCH_BYTES]
    cut = body.rfind(b"\n")
    while cut >= 0:
        if chunk[cut + 1 : cut + 2] != CONTINUATION:  # the next record, or the end
            return cut + 1
        cut = body.rfind(b"\n", 0, cut)
    if not full:
        return 0  # a line still being written
    last = body.rfind(b"\n")
    return last + 1 if last >= 0 else BATCH_BYTES


@dataclass
class _Flight:
    payload: bytes
    generation: int
    offset: int
    end: int
    sent: float


FileId = tuple[int, int]
"""A file's device and inode."""


class LogShipper:
    """Sends new lines of every log; `ack()` is fed from the controller's `LogAck`s."""

    def __init__(
        self,
        logs: Callable[[], Mapping[str, Path]],
        publish: Publish,
        *,
        connected: Callable[[], bool] = lambda: True,
        poll: float = 0.5,
        resend_after: float = 5.0,
    ) -> None:
        """`logs` returns the current log paths by source (a unit name or `machine-N`); a
        batch is re-sent only while `connected()` (until then the first copy waits in the
        link's outbox, and `reconnected()` sends it again anyway)."""
        self._logs = logs
        self._publish = publish
        self._connected = connected
        self._poll = poll
        self._resend_after = resend_after
        self._acked: dict[str, tuple[int, int]] = {}
        """Per source: the generation and offset the controller holds."""
        self._files: dict[str, tuple[int, FileId]] = {}
        """Per source: the generation this process gave the file it ships, and that file."""
        self._flights: dict[str, _Flight] = {}
        self._wake = asyncio.Event()
        self._acked_signal = asyncio.Event()
        """Set (and replaced) on every acknowledgement."""

    def ack(self, unit: str, offset: int, generation: int = 0) -> None:
        """The controller holds the log of `unit` (a source) up to `offset` of
        `generation`: a batch in flight is done once that covers it, and dropped once the
        controller holds anything but where it starts (it was refused, or is stale)."""
        self._acked[unit] = (generation, offset)
        flight = self._flights.get(unit)
        held = (generation, offset)
        if flight is not None and (
            held != (flight.generation, flight.offset) or held >= (flight.generation, flight.end)
        ):
            del self._flights[unit]
        self._wake.set()
        self._acked_signal.set()
        self._acked_signal = asyncio.Event()

    async def flush(self, source: str, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until the controller holds `source`'s log up to its size now; False if
        `timeout` seconds passed first (or the log is not shipped by this shipper)."""
        path = self._logs().get(source)
        if path is None:
            return False
        try:
            stat = path.stat()
        except FileNotFoundError:
            return True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                while not self._holds(source, (stat.st_dev, stat.st_ino), stat.st_size):
                    await self._acked_signal.wait()
        except TimeoutError:
            logger.warning("log not delivered in time", source=source, size=stat.st_size)
            return False
        return True

    def _holds(self, source: str, file: FileId, size: int) -> bool:
        """Whether the controller holds `file` (this generation of `source`'s log) up to
        `size`."""
        known, acked = self._files.get(source), self._acked.get(source)
        return (
            known is not None
            and acked is not None
            and known[1] == file
            and acked[0] == known[0]
            and acked[1] >= size
        )

    async def flush_all(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """`flush()` every log at once, within one `timeout`."""
        done = await asyncio.gather(*(self.flush(source, timeout) for source in self._logs()))
        return all(done)

    def reconnected(self) -> None:
        """Whatever was in flight may be lost: send it again now."""
        self._flights.clear()
        self._wake.set()

    async def run(self) -> None:
        """Ship forever: on every acknowledgement, and every `poll` seconds for new lines."""
        while True:
            self._wake.clear()
            self.ship()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()

    def ship(self) -> None:
        """One pass: each log with new lines and nothing in flight sends its next batch."""
        for unit, path in self._logs().items():
            self._ship(unit, path)

    def _ship(self, unit: str, path: Path) -> None:
        now = time.monotonic()
        flight = self._flights.get(unit)
        if flight is not None:
            if self._connected() and now - flight.sent >= self._resend_after:
                self._publish(flight.payload)
                flight.sent = now
            return
        if unit not in self._acked:
            self._send(unit, bus.LogBatch(source=unit, offset=0, end=0, lines=()), now)
            return
        try:
            with path.open("rb") as file:
                stat = os.fstat(file.fileno())
                generation, offset = self._position(unit, (stat.st_dev, stat.st_ino), stat.st_size)
                if stat.st_size <= offset:
                    return
                file.seek(offset)
                chunk = file.read(BATCH_BYTES + 1)  # a byte more: does a record go on?
        except FileNotFoundError:
            return
        chunk = chunk[: batch_end(chunk)]
        if not chunk:
            return  # a line still being written
        text = chunk.decode("utf-8", errors="replace").removesuffix("\n")
        lines = tuple(line.removesuffix("\r") for line in text.split("\n"))
        end = offset + len(chunk)
        batch = bus.LogBatch(
            source=unit, offset=offset, end=end, lines=lines, generation=generation
        )
        self._send(unit, batch, now)

    def _position(self, unit: str, file: FileId, size: int) -> tuple[int, int]:
        """Where to ship `unit`'s log from: the acknowledged offset, or the start of the
        next generation when the file was rotated or recreated."""
        generation, offset = self._acked[unit]
        known = self._files.get(unit)
        if known is not None and known[1] == file and known[0] > generation:
            generation, offset = known[0], 0  # the new generation is not acknowledged yet
        elif (known is not None and known[1] != file) or size < offset:
            logger.info("log rotated or recreated; shipping it anew", source=unit)
            generation, offset = generation + 1, 0
        self._files[unit] = (generation, file)
        return generation, offset

    def _send(self, unit: str, batch: bus.LogBatch, now: float) -> None:
        payload = bus.encode(batch)
        self._flights[unit] = _Flight(
            payload=payload,
            generation=batch.generation,
            offset=batch.offset,
            end=batch.end,
            sent=now,
        )
        self._publish(payload)
