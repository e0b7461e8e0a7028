"""Time `status` of a model with 10,000 units seeded directly into state.

The units (two applications of 5,000, spread over 100 machines) go straight into a fresh
SQLite store; the status route of the controller API then answers in-process (ASGI, no
network), as `rune status --format json` asks it. Prints the SQL statements per status and
the median and best wall time over the runs, beside a raw read of the same rows (the
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
import tempfile
import time
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


def raw_read(path: Path) -> float:
    """Seconds to read the rows status shows with plain `sqlite3` and dump them as JSON."""
    start = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = [db.execute(query).fetchall() for query in RAW_QUERIES]
    json.dumps(rows)
    return time.perf_counter() - start


async def measure(units: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="rc-status-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}")
        try:
            start = time.perf_counter()
            await seed(store, units, machines=100)
            print(f"seeded {units} units in {time.perf_counter() - start:.2f} s")
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
                times, raw = [], []
                size = 0
                for _ in range(runs):
                    raw.append(raw_read(Path(tmp) / "state.db"))
                    statements = 0
                    start = time.perf_counter()
                    response = await http.get("/v1/models/big/status")
                    response.raise_for_status()
                    times.append(time.perf_counter() - start)
                    size = len(response.content)
            median, raw_median = statistics.median(times), statistics.median(raw)
            print(
                f"status of {units} units: {statements} SQL statements, {size / 1e3:,.0f} kB JSON, "
                f"median {median:.3f} s, best {min(times):.3f} s over {runs} runs; "
                f"raw read median {raw_median:.3f} s; ratio {median / raw_median:.1f}x"
            )
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.units, args.runs))


if __name__ == "__main__":
    main()
