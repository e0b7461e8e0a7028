"""Resource faults on a real store: a full disk (a real tmpfs) or a read-only PostgreSQL
answers 503 with the error naming the cause, reads keep working, and writes resume by
themselves when the resource is back; an uncaught failure still answers the JSON body."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import bus
from tests._tmpfs import fill, small_tmpfs
from tests.component._api import TOKEN, URL, api_client, controller_app
from tests.component.test_relations import REGULAR, commit, integrated, make_world, writes


@pytest.fixture
async def full_disk_store() -> AsyncIterator[tuple[Store, Path]]:
    """A store whose database lives on a small tmpfs of its own."""
    with small_tmpfs("8m") as where:
        store = await Store.open(f"sqlite+aiosqlite:///{where / 'state.db'}")
        try:
            yield store, where
        finally:
            await store.close()


async def test_full_disk_answers_503_naming_it_reads_go_on_and_writes_resume(
    full_disk_store: tuple[Store, Path],
) -> None:
    store, where = full_disk_store
    async with api_client(store, services.ChangeHub(), published_revision=None) as client:
        assert (await client.post("/v1/models", json={"name": "before"})).status_code == 201
        filler = fill(where)

        refused = await client.post("/v1/models", json={"name": "during"})
        assert refused.status_code == 503
        assert refused.json() == {
            "error": {
                "code": "unavailable",
                "message": refused.json()["error"]["message"],
            }
        }
        message = refused.json()["error"]["message"]
        assert message.startswith("the controller's database cannot be written: disk full (")
        assert str(where / "state.db") in message
        listed = await client.get("/v1/models")  # reads keep working
        assert listed.status_code == 200
        assert [m["name"] for m in listed.json()] == ["before"]

        filler.unlink()
        assert (await client.post("/v1/models", json={"name": "after"})).status_code == 201
    assert [m.name for m in await store.models()] == ["after", "before"]


async def test_an_uncaught_failure_answers_the_json_error_body(store: Store) -> None:
    app = controller_app(store, services.ChangeHub(), published_revision=None)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url=URL, headers=headers) as client:
        response = await client.get("/v1/broken")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "error", "message": "internal error: RuntimeError: a bug"}
    }


async def test_a_file_the_controller_cannot_write_for_a_full_disk_answers_503(
    store: Store,
) -> None:
    app = controller_app(store, services.ChangeHub(), published_revision=None)

    async def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/home/rc/controller/upload")

    app.add_api_route("/v1/full", full)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url=URL, headers=headers) as client:
        response = await client.get("/v1/full")
    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "unavailable",
            "message": "the controller cannot write its files: disk full "
            "(/home/rc/controller/upload)",
        }
    }


def _psql(postgres_url: str, sql: str) -> None:
    url = sa.engine.make_url(postgres_url)
    subprocess.run(
        [
            "su",
            "postgres",
            "-s",
            "/bin/sh",
            "-c",
            f'psql -h {url.host} -p {url.port} -q -c "{sql}"',
        ],
        check=True,
        capture_output=True,
    )


async def test_read_only_postgresql_answers_unavailable_and_resumes(postgres_url: str) -> None:
    """`default_transaction_read_only` on the database makes every new session read-only
    (SQLSTATE 25006); the store's pooled sessions are cut (a lost connection) so the next
    ones are made read-only, then writable again."""
    store = await Store.open(postgres_url)
    name = sa.engine.make_url(postgres_url).database

    def cut_sessions() -> None:
        _psql(
            postgres_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
        )

    try:
        await store.create_model("before", "u-before", "local", {})
        _psql(postgres_url, f"ALTER DATABASE {name} SET default_transaction_read_only = on")
        cut_sessions()
        with pytest.raises(errors.UnavailableError) as refused:
            await store.create_model("during", "u-during", "local", {})
        assert refused.value.message.startswith(
            "the controller's database cannot be written: read-only ("
        )
        assert f"/{name}" in refused.value.message
        assert [m.name for m in await store.models()] == ["before"]

        _psql(postgres_url, f"ALTER DATABASE {name} SET default_transaction_read_only = off")
        cut_sessions()
        await store.create_model("after", "u-after", "local", {})
        assert [m.name for m in await store.models()] == ["after", "before"]
    finally:
        await store.close()


async def test_a_lost_postgresql_server_is_unavailable(postgres_url: str) -> None:
    """A server that is not there (a closed port) is an outage, not a crash."""
    url = sa.engine.make_url(postgres_url)
    engine = create_async_engine(url.set(port=1))
    store = Store(engine)
    try:
        with pytest.raises(errors.UnavailableError, match="database is unreachable"):
            await asyncio.wait_for(store.models(), 30)
    finally:
        await store.close()


async def test_agent_messages_the_full_disk_refused_are_kept_not_dropped(
    full_disk_store: tuple[Store, Path],
) -> None:
    """A batch the database cannot take raises (the worker keeps it and tries again) rather
    than being logged and dropped; applied later, it is stored once."""
    store, where = full_disk_store
    world = await make_world(store)
    await integrated(world)
    first = commit("web/0", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"a": "1"}))
    bags = await world.bags()
    filler = fill(where)
    with pytest.raises(errors.UnavailableError, match="disk full"):
        await world.send(2, first)
    assert await world.bags() == bags  # nothing half-stored

    filler.unlink()
    await world.send(2, first)
    await world.send(2, first)  # a resend after the outage applies nothing twice
    data, version = (await world.bags())[(REGULAR, "unit", "web/0")]
    assert (data["a"], version) == ("1", 2)  # seeded on entering, then written: once


async def _until(condition: Callable[[], bool]) -> None:
    """Poll the worker's state (it runs in this loop), with a deadline beyond the worker's
    longest back-off (30 s): on a loaded machine the outage can last long enough to reach it."""
    async with asyncio.timeout(90):
        while not condition():  # noqa: ASYNC110 (the worker signals no outage)
            await asyncio.sleep(0.02)


def _report(unit: str, seq: int) -> bus.UnitReport:
    return bus.UnitReport(
        unit=unit,
        seq=seq,
        workload=bus.StatusValue(status="active", message=f"report {seq}"),
        agent=bus.StatusValue(status="idle"),
    )


async def test_messages_waiting_out_a_full_disk_are_superseded_bounded_and_not_renewed_late(
    full_disk_store: tuple[Store, Path],
) -> None:
    """While the database is full the worker keeps one heartbeat per agent and one report per
    unit, drops what agents resend beyond its bound (their agent gets its snapshot again),
    and holds no lease to run out; afterwards a heartbeat renews from when it came."""
    store, where = full_disk_store
    world = await make_world(store)
    agents = world.agents
    machine0 = f"machine-0.{world.uuid}"
    machine2 = f"machine-2.{world.uuid}"
    worker = asyncio.create_task(agents.run())
    try:
        filler = fill(where)
        agents.submit(machine0, _report("db/0", 1))
        await _until(lambda: agents.since() is None)  # the outage began
        for seq in range(2, 200):
            agents.submit(machine0, bus.Heartbeat(agent=machine0, units=("db/0",)))
            agents.submit(machine0, _report("db/0", seq))
        heard = time.time()
        assert agents.waiting == 2  # the latest heartbeat, the latest report
        progress = bus.ActionLog(unit="web/0", action_id="1", message="working")
        for _ in range(services.MAX_WAITING + 10):
            agents.submit(machine2, progress)
        assert agents.waiting == services.MAX_WAITING
        assert machine2 in agents.hellos  # it is sent its snapshot again: it resends
        assert agents.since() is None

        filler.unlink()
        await _until(lambda: agents.waiting == 0)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    since = agents.since()
    assert since is not None and since >= heard
    db = next(a for a in (await store.snapshot(world.uuid)).applications if a.name == "db")
    assert db.lease_expiry is not None and db.lease_expiry <= heard + agents.lease_seconds
    assert (await world.unit("db/0")).workload_message == "report 199"
