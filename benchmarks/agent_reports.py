"""Store agent reports through the controller's writer, in-process, on a fresh SQLite store.

`--machines` agents, each with `--units` units, send `--rounds` rounds: every unit a report
(a new number; its agent status alternates between executing and idle, as around hooks, so
every report adds status history), optionally a hook commit (`--commits`), and every agent
a heartbeat. Each round goes through `AgentService.apply_received` in batches of up to
`MAX_BATCH` messages, as the writer takes them. Prints reports/s, SQL statements and
commits per report, and the thread hops to SQLite's worker per batch.

The script uses only what the controller had before reports were stored as a group, so
the same file measures either tree (`PYTHONPATH=<tree> python benchmarks/agent_reports.py`).

    python benchmarks/agent_reports.py [--machines 10] [--units 100] [--rounds 5] [--commits]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event

from runecraft.controller import services
from runecraft.controller.services._agents import MAX_BATCH, Received
from runecraft.controller.state import Store
from runecraft.schemas import bus

CHARM = "c" * 64


async def seed(store: Store, machines: int, units: int) -> tuple[str, list[int]]:
    model = await services.ModelService(store, services.ChangeHub()).add_model("bench")
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    async with store.write("bench") as tx:
        numbers = [(await tx.machines.insert()).number for _ in range(machines)]
        app = await tx.applications.insert(name="hello", charm_sha256=CHARM, config={})
        await tx.units.add(app, machines * units, [n for n in numbers for _ in range(units)])
        await tx.applications.update(app, leader="hello/0")
    return model.uuid, numbers


def round_of(uuid: str, numbers: list[int], units: int, seq: int, commits: bool) -> list[Received]:
    batch = []
    for n in numbers:
        agent = f"machine-{n}.{uuid}"
        names = [f"hello/{n * units + i}" for i in range(units)]
        for name in names:
            if commits:
                batch.append(Received(agent, bus.HookCommit(unit=name, seq=seq, hook="update")))
            batch.append(
                Received(
                    agent,
                    bus.UnitReport(
                        unit=name,
                        seq=seq,
                        workload=bus.StatusValue(status="active", message="hello"),
                        agent=bus.StatusValue(status="executing" if seq % 2 else "idle"),
                    ),
                )
            )
        batch.append(Received(agent, bus.Heartbeat(agent=agent, units=tuple(names))))
    return batch


class Hops:
    """Calls handed to aiosqlite's worker thread."""

    def __init__(self) -> None:
        self.count = 0
        original = aiosqlite.Connection._execute

        async def counted(connection: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(connection, fn, *args, **kwargs)

        aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


async def measure(machines: int, units: int, rounds: int, commits: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="rc-reports-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}")
        try:
            uuid, numbers = await seed(store, machines, units)
            agents = services.AgentService(store, services.ChangeHub(), lease_seconds=60.0)
            counts = {"statements": 0, "commits": 0}

            def seen(*_: object) -> None:
                counts["statements"] += 1

            def committed(*_: object) -> None:
                counts["commits"] += 1

            event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
            event.listen(store.engine.sync_engine, "commit", committed)
            hops = Hops()
            reports = batches = 0
            elapsed = 0.0
            for seq in range(1, rounds + 1):
                messages = round_of(uuid, numbers, units, seq, commits)
                start = time.perf_counter()
                for at in range(0, len(messages), MAX_BATCH):
                    await agents.apply_received(messages[at : at + MAX_BATCH])
                    batches += 1
                elapsed += time.perf_counter() - start
                reports += machines * units
        finally:
            await store.close()
    print(
        f"{machines} agents x {units} units x {rounds} rounds"
        f"{' (+ a hook commit per report)' if commits else ''}: "
        f"{reports / elapsed:,.0f} reports/s ({elapsed:.2f} s), "
        f"{counts['statements'] / reports:.2f} statements/report, "
        f"{counts['commits']} commits, {hops.count / batches:,.0f} thread hops/batch"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=10)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commits", action="store_true")
    args = parser.parse_args()
    asyncio.run(measure(args.machines, args.units, args.rounds, args.commits))


if __name__ == "__main__":
    main()
