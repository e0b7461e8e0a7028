"""Time `status` of a model with 10,000 units seeded directly into state.

The units (two applications of 5,000, spread over 100 machines) go straight into a fresh
SQLite store; the status route of the controller API then answers in-process (ASGI, no
network), as `rune status --format json` asks it. Prints the SQL statements per status and
the median and best wall time over the runs, beside the baseline: the same rows read with
plain `sqlite3` and dumped with `json.dumps`.

    python benchmarks/status_10k.py [--units 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

from runecraft.controller import api, services
from runecraft.controller.state import Store

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
    return api.create_app(  # as the controller builds it, without bus, agents or audit
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


@dataclass(frozen=True)
class StatusFigures:
    """Wall seconds of status (median, best) and of the raw baseline (median)."""

    median: float
    best: float
    statements: int
    size: int
    raw_median: float


def raw_status(db: Path) -> int:
    """The baseline: the application, machine and unit rows read with plain `sqlite3`
    and dumped as JSON, no API, no model; returns the JSON's length."""
    with closing(sqlite3.connect(db)) as conn:
        conn.row_factory = sqlite3.Row
        document = {
            table: [dict(row) for row in conn.execute(f"SELECT * FROM {table}")]
            for table in ("applications", "machines", "units")
        }
    return len(json.dumps(document, default=str))


async def measure(units: int, runs: int) -> StatusFigures:
    with tempfile.TemporaryDirectory(prefix="rc-status-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}")
        try:
            start = time.perf_counter()
            await seed(store, units, machines=100)
            print(f"seeded {units} units in {time.perf_counter() - start:.2f} s", file=sys.stderr)
            statements = 0

            def seen(*_: object) -> None:
                nonlocal statements
                statements += 1

            event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application(store)),
                base_url="http://bench",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=120,
            ) as http:
                times = []
                size = 0
                for _ in range(runs):
                    statements = 0
                    start = time.perf_counter()
                    response = await http.get("/v1/models/big/status")
                    response.raise_for_status()
                    times.append(time.perf_counter() - start)
                    size = len(response.content)
            raw = []
            for _ in range(runs):
                start = time.perf_counter()
                raw_status(Path(tmp) / "state.db")
                raw.append(time.perf_counter() - start)
        finally:
            await store.close()
    median = statistics.median(times)
    return StatusFigures(median, min(times), statements, size, statistics.median(raw))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    found = asyncio.run(measure(args.units, args.runs))
    print(
        f"status of {args.units} units: {found.statements} SQL statements, "
        f"{found.size / 1e3:,.0f} kB JSON, median {found.median:.3f} s, best {found.best:.3f} s "
        f"over {args.runs} runs; raw rows + json.dumps: median {found.raw_median:.3f} s"
    )


if __name__ == "__main__":
    main()
