"""Time `status` of a model with 10,000 units seeded directly into state.

The units (two applications of 5,000, spread over 100 machines) go straight into a fresh
SQLite store; the status route of the controller API then answers in-process (ASGI, no
network), as `rune status --format json` asks it. Each run stores a unit report (through the
agents' apply path) and asks for status twice: the first status has to read the model
again, the second finds nothing moved. Prints the SQL statements per status and the median
and best wall time over the runs of each, beside a raw read of the same rows (the
stdlib `sqlite3` selecting the columns status shows, then `json.dumps` of the rows) and the
ratio of the two medians.

    python benchmarks/status_10k.py [--units 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from runecraft.controller import api, services
from runecraft.controller.state import Store
from runecraft.schemas import bus

TOKEN = "bench"
CHARM = "b" * 64


async def seed(store: Store, units: int, machines: int) -> None:
    await services.ModelService(store, services.ChangeHub()).add_model("big")
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    async with store.write("big") as tx:
        numbers = [(await tx.machines.insert()).number for _ in range(machines)]
        for name in ("db", "web"):
            app = await tx.applications.insert(name=name, charm_sha256=CHARM, config={})
            count = units // 2
            await tx.units.add(app, count, [numbers[i % machines] for i in range(count)])


def application(store: Store) -> Any:
    hub = services.ChangeHub()

    async def no_agent(_: str, __: str) -> bool:
        return False

    async def no_shutdown(_: bool) -> None:
        return None

    models = services.ModelService(store, hub)
    return api.create_app(
        api.ApiContext(
            name="bench",
            uuid="u",
            broker="none",
            models=models,
            relations=services.RelationService(store, hub),
            actions=services.ActionService(store, hub),
            catalog=services.CatalogService(store),
            clouds=services.CloudService(store, services.CloudRegistry()),
            bundles=services.BundleService(store, hub, models.check_substrates),
            status=services.StatusService(
                store,
                hub,
                controller_name="bench",
                published_revision=lambda _: 1,
                reconciled=lambda: True,
            ),
            settings=services.SettingsService(store, hub),
            secrets=services.SecretService(store, hub),
            resources=services.ResourceService(store, hub),
            users=services.UserService(store, TOKEN),
            verify_agent=no_agent,
            shutdown=no_shutdown,
        )
    )


RAW_QUERIES = (
    "SELECT name, workload_status, workload_message, workload_since, agent_status,"
    " agent_message, agent_since, life, machine_number, workload_version,"
    " snapshot_revision, opened_ports FROM units ORDER BY application_id, number",
    "SELECT * FROM machines ORDER BY number",
    "SELECT * FROM applications ORDER BY name",
    "SELECT * FROM relations",
    "SELECT * FROM relation_endpoints",
)


def raw_read(path: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to read the rows status shows with `sqlite3`, dumped as JSON."""
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = [db.execute(query).fetchall() for query in RAW_QUERIES]
    json.dumps(rows)
    return time.perf_counter() - start, time.process_time() - cpu


class Timings:
    """Wall times of status (after a unit report, and asked again), with its statements."""

    def __init__(self, store: Store) -> None:
        self.cold: list[float] = []
        self.again: list[float] = []
        self.statements: dict[str, int] = {}
        self.cpu: dict[str, list[float]] = {}
        """CPU seconds of the process (its database thread's too): steadier than wall
        time on a busy machine."""
        self.size = 0
        self._count = 0
        event.listen(store.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self._count += 1

    async def time(self, http: httpx.AsyncClient, kind: str, times: list[float]) -> None:
        self._count = 0
        start, cpu = time.perf_counter(), time.process_time()
        response = await http.get("/v1/models/big/status")
        response.raise_for_status()
        times.append(time.perf_counter() - start)
        self.cpu.setdefault(kind, []).append(time.process_time() - cpu)
        self.statements[kind] = self._count
        self.size = len(response.content)


async def report(store: Store, agents: services.AgentService, seq: int) -> None:
    """A unit report through the agents' apply path: a write, not a model revision."""
    model = await store.model("big")
    message = bus.UnitReport(
        unit="db/0",
        seq=seq,
        workload=bus.StatusValue(status="active", message=f"report {seq}"),
        agent=bus.StatusValue(status="idle"),
    )
    await agents.apply([(f"machine-0.{model.uuid}", message)])


@dataclass(frozen=True)
class StatusFigures:
    """Wall seconds of status after a unit report (median, best) and asked again (median),
    with the raw baseline's median."""

    median: float
    best: float
    again_median: float
    statements: int
    size: int
    raw_median: float


async def measure(units: int, runs: int) -> StatusFigures:
    with tempfile.TemporaryDirectory(prefix="rc-status-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}")
        try:
            start = time.perf_counter()
            await seed(store, units, machines=100)
            print(f"seeded {units} units in {time.perf_counter() - start:.2f} s", file=sys.stderr)
            agents = services.AgentService(store, services.ChangeHub(), lease_seconds=60.0)
            timings = Timings(store)
            raw: list[tuple[float, float]] = []
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application(store)),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            ) as http:
                for run in range(runs):
                    raw.append(raw_read(Path(tmp) / "state.db"))
                    await report(store, agents, run + 1)
                    await timings.time(http, "after a report", timings.cold)
                    await timings.time(http, "asked again", timings.again)
            raw_median = statistics.median(wall for wall, _ in raw)
            raw_cpu = statistics.median(cpu for _, cpu in raw)
            print(
                f"{units} units, {timings.size / 1e3:,.0f} kB JSON, {runs} runs each; "
                f"raw read median {raw_median:.3f} s, "
                f"CPU median {raw_cpu:.3f} s"
            )
            for kind, times in (("after a report", timings.cold), ("asked again", timings.again)):
                median = statistics.median(times)
                print(
                    f"  status {kind}: {timings.statements[kind]} SQL statements, "
                    f"median {median:.3f} s, best {min(times):.3f} s, "
                    f"{median / raw_median:.1f}x the raw read; "
                    f"CPU median {statistics.median(timings.cpu[kind]):.3f} s, "
                    f"{statistics.median(timings.cpu[kind]) / raw_cpu:.1f}x the raw read's"
                )
        finally:
            await store.close()
    return StatusFigures(
        median=statistics.median(timings.cold),
        best=min(timings.cold),
        again_median=statistics.median(timings.again),
        statements=timings.statements["after a report"],
        size=timings.size,
        raw_median=raw_median,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.units, args.runs))


if __name__ == "__main__":
    main()
