"""A unit's state is saved off the event loop, the latest record only: keeps during a write
replace one another, a write blocked on the disk leaves the loop running, and `settled()`
returns with the file holding the last record kept. Observed on a real file system (a FIFO
where the temp file goes blocks the write until the test reads it)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from runecraft.agents import _state_store

Outcome = tuple[_state_store.UnitRecord, OSError | None]


def record(n: int) -> _state_store.UnitRecord:
    return _state_store.UnitRecord(workload_version=str(n))


def saver_at(path: Path) -> tuple[_state_store.StateSaver, list[Outcome]]:
    told: list[Outcome] = []
    store = _state_store.StateStore(path)
    return _state_store.StateSaver(store, lambda r, e: told.append((r, e))), told


async def test_keeps_while_idle_or_writing_cost_one_write_each_burst(tmp_path: Path) -> None:
    saver, told = saver_at(tmp_path / "state.json")
    for n in range(100):
        saver.keep(record(n))
    await saver.settled()
    assert saver.writes == 1  # the writer started after the burst: it wrote the latest only
    assert told == [(record(99), None)]
    assert saver.store.load() == record(99)
    saver.keep(record(100))
    await saver.settled()
    assert (saver.writes, saver.store.load()) == (2, record(100))


async def test_a_write_blocked_on_the_disk_leaves_the_loop_running(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    fifo = tmp_path / ".state.json.tmp"  # where the write opens its temp file
    os.mkfifo(fifo)
    saver, told = saver_at(path)
    saver.keep(record(1))
    # The write is now stuck opening the FIFO until a reader comes. Were it on the loop,
    # nothing below would run: the test would hang (and time out) instead.
    for n in range(2, 50):
        await asyncio.sleep(0)
        saver.keep(record(n))
    assert saver.writes == 0
    # Read what the stuck write wrote: it goes on, and its fsync of a FIFO fails (EINVAL),
    # which the saver reports; the write after it (the latest record) lands in a file.
    written = await asyncio.to_thread(fifo.read_bytes)
    assert written == saver.store.encode(record(1))
    await saver.settled()
    assert saver.writes == 2
    assert [(r, e is not None) for r, e in told] == [(record(1), True), (record(49), False)]
    assert saver.store.load() == record(49)
    assert not fifo.exists()  # a failed write leaves no temp file behind
