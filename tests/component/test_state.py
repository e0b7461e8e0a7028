"""The state layer on SQLite and on a real PostgreSQL: same code, same answers."""

from __future__ import annotations

import asyncio
import time

import pytest

from runecraft import errors
from runecraft._logging import LogLine
from runecraft.controller.services import LogQuery, LogService
from runecraft.controller.services._hook_commit import apply_hook_commit
from runecraft.controller.state import EndpointRecord, Store
from runecraft.controller.state._logs import Appended, LogStore
from runecraft.schemas import bus
from runecraft.schemas.logs import CONTROLLER_MODEL, LogPage, parse_entity
from runecraft.schemas.sequencing import LogCursor

from .test_agent_group_commit import counting

CHARM = {"sha256": "a" * 64, "name": "hello"}


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


async def _seed(store: Store, units: int = 3) -> str:
    model = await store.create_model("m1", "00000000-0000-0000-0000-000000000001", "local", {})
    await store.put_charm(
        sha256=CHARM["sha256"],
        name=CHARM["name"],
        meta={"name": "hello"},
        config={"options": {"greeting": {"type": "string", "default": "hi"}}},
        actions={},
        data=b"zip",
    )
    async with store.write("m1") as tx:
        app = await tx.applications.insert(name="hello", charm_sha256=CHARM["sha256"], config={})
        machine = await tx.machines.insert()
        await tx.units.add(app, units, [machine.number])
    return model.uuid


async def test_write_moves_revision_once_per_transaction(store: Store) -> None:
    await _seed(store)
    before = (await store.model("m1")).revision
    async with store.write("m1") as tx:
        app = await tx.applications.get("hello")
        await tx.applications.update(app, config={"greeting": "yo"})
        await tx.units.add(app, 2, [])
    after = await store.model("m1")
    assert after.revision == before + 1


async def test_failed_transaction_changes_nothing(store: Store) -> None:
    await _seed(store)
    before = await store.snapshot()
    with pytest.raises(errors.NotFoundError):
        async with store.write("m1") as tx:
            app = await tx.applications.get("hello")
            await tx.units.add(app, 5, [])
            await tx.applications.get("missing")
    after = await store.snapshot()
    assert [u.name for u in after.units] == [u.name for u in before.units]
    assert after.models[0].revision == before.models[0].revision


async def test_duplicate_model_is_a_conflict(store: Store) -> None:
    await _seed(store)
    with pytest.raises(errors.ConflictError, match='model "m1" already exists'):
        await store.create_model("m1", "00000000-0000-0000-0000-000000000002", "local", {})
    assert len(await store.models()) == 1


async def test_snapshot_uses_a_constant_number_of_queries(store: Store) -> None:
    await _seed(store, units=2)
    counter = store.count_queries()
    await store.snapshot()
    small = counter.count
    async with store.write("m1") as tx:
        app = await tx.applications.get("hello")
        await tx.units.add(app, 200, [])
    counter.count = 0
    snapshot = await store.snapshot()
    assert len(snapshot.units) == 202
    assert counter.count == small


async def test_snapshot_with_relations_and_actions_is_still_constant(store: Store) -> None:
    model_uuid = await _seed(store, units=2)

    async def grow(count: int) -> None:
        async with store.write("m1") as tx:
            app = await tx.applications.get("hello")
            names = await tx.units.add(app, count, [0] * count)
            endpoint = EndpointRecord(
                model_uuid=model_uuid,
                relation_id=-1,
                application="hello",
                endpoint=f"peer{count}",
                role="peer",
                interface="hello-peers",
                scope="global",
                relation_limit=None,
            )
            relation = await tx.relations.insert(f"hello:peer{count}", [endpoint])
            for name in names:
                await tx.actions.insert(name, "greet", {})
        async with store.write() as tx:
            for name in names:
                await apply_hook_commit(
                    tx,
                    model_uuid,
                    0,
                    bus.HookCommit(
                        unit=name,
                        seq=1,
                        hook="peer-relation-created",
                        scope={relation.id: "enter"},
                        relations={relation.id: bus.RelationWrite(unit={"k": "v"})},
                    ),
                    time.time(),
                )

    await grow(2)
    counter = store.count_queries()
    small = await store.snapshot(model_uuid)
    few = counter.count
    await grow(100)
    counter.count = 0
    big = await store.snapshot(model_uuid)
    assert counter.count == few
    assert (len(small.scopes), len(big.scopes)) == (2, 102)
    assert (len(big.relations), len(big.databags), len(big.actions)) == (2, 102, 102)


async def test_unit_reports_apply_in_sequence_order_and_only_on_their_machine(store: Store) -> None:
    model_uuid = await _seed(store, units=1)

    def report(seq: int, message: str) -> bus.UnitReport:
        return bus.UnitReport(
            unit="hello/0",
            seq=seq,
            workload=bus.StatusValue(status="active", message=message),
            agent=bus.StatusValue(status="idle"),
        )

    now = time.time()
    async with store.write() as tx:
        await tx.units.apply_report(model_uuid, 0, report(5, "newer"), now)
        await tx.units.apply_report(model_uuid, 0, report(3, "stale"), now)
        await tx.units.apply_report(model_uuid, 7, report(9, "wrong machine"), now)
    (unit,) = (await store.snapshot()).units
    assert (unit.workload_status, unit.workload_message, unit.report_seq) == ("active", "newer", 5)


async def test_removed_report_deletes_only_a_dying_unit(store: Store) -> None:
    model_uuid = await _seed(store, units=1)
    removed = bus.UnitReport(
        unit="hello/0",
        seq=1,
        workload=bus.StatusValue(status="terminated"),
        agent=bus.StatusValue(status="idle"),
        removed=True,
    )
    async with store.write() as tx:
        await tx.units.apply_report(model_uuid, 0, removed, time.time())
    assert len((await store.snapshot()).units) == 1
    async with store.write("m1") as tx:
        await tx.units.update(await tx.units.get("hello/0"), life="dying")
    async with store.write() as tx:
        await tx.units.apply_report(model_uuid, 0, removed, time.time())
    assert (await store.snapshot()).units == []


async def test_leases_renew_only_for_leaders_on_the_reporting_machine(store: Store) -> None:
    model_uuid = await _seed(store, units=2)
    async with store.write("m1") as tx:
        await tx.applications.update(
            await tx.applications.get("hello"), leader="hello/0", lease_expiry=1.0
        )
    async with store.write() as tx:
        await tx.applications.renew_leases(model_uuid, 5, ["hello/0"], 100.0)
    assert (await store.snapshot()).applications[0].lease_expiry == 1.0
    async with store.write() as tx:
        await tx.applications.renew_leases(model_uuid, 0, ["hello/0"], 100.0)
    assert (await store.snapshot()).applications[0].lease_expiry == 100.0


async def test_charm_is_stored_once(store: Store) -> None:
    await _seed(store)
    again = await store.put_charm(
        sha256=CHARM["sha256"], name="other", meta={}, config={}, actions={}, data=b"zip2"
    )
    assert again.name == "hello"
    assert await store.charm_blob(CHARM["sha256"]) == b"zip"


# --- logs ------------------------------------------------------------------------------------


async def test_log_batches_keep_units_and_the_agent_itself_and_drop_strangers(
    store: Store,
) -> None:
    uuid = await _seed(store, units=1)
    logs = LogStore(store)
    line = "2026-01-02 03:04:05 INFO runecraft.agents.machine unit agent started unit=hello/0"
    held = await logs.append(
        uuid,
        0,
        [
            bus.LogBatch(source="machine-0", offset=0, end=90, lines=(line,)),
            bus.LogBatch(source="hello/0", offset=0, end=20, lines=("plain output",)),
            bus.LogBatch(source="machine-7", offset=0, end=9, lines=("not mine",)),
            bus.LogBatch(source="other/0", offset=0, end=9, lines=("not mine",)),
        ],
    )
    assert held.held == {"machine-0": LogCursor(0, 90), "hello/0": LogCursor(0, 20)}
    assert held.refused == []
    entries = await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)
    assert [(e.entity, e.unit, e.module, e.message) for e in entries] == [
        ("machine-0", "", "runecraft.agents.machine", "unit agent started unit=hello/0"),
        ("unit-hello-0", "hello/0", "unit.hello/0", "plain output"),
    ]
    machine_only = LogQuery(include=parse_entity("machine-0"))
    assert len(await logs.read(uuid, machine_only, after=0, last=None, limit=100)) == 2
    not_agent = LogQuery(exclude=parse_entity("hello"))
    (agent_line,) = await logs.read(uuid, not_agent, after=0, last=None, limit=100)
    assert agent_line.entity == "machine-0"
    # The same batch again is a duplicate.
    await logs.append(uuid, 0, [bus.LogBatch(source="machine-0", offset=0, end=90, lines=(line,))])
    assert len(await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)) == 2


async def test_a_nul_in_one_agents_lines_fails_no_batch_stored_with_it(
    store_on_each: Store,
) -> None:
    """Batches of several agents go in one transaction: a line with a NUL (a charm printed
    binary; PostgreSQL's text refuses the character) is stored with it replaced, and the
    other agent's batch is stored and acknowledged beside it."""
    uuid = await _seed(store_on_each, units=1)
    async with store_on_each.write("m1") as tx:
        other = await tx.machines.insert()
    line = "2026-01-02 03:04:05 INFO unit.hello/0.juju-log "
    appended = await LogStore(store_on_each).append_all(
        {
            (uuid, 0): [bus.LogBatch(source="hello/0", offset=0, end=5, lines=(f"{line}a\x00b",))],
            (uuid, other.number): [
                bus.LogBatch(source=f"machine-{other.number}", offset=0, end=7, lines=(f"{line}c",))
            ],
        }
    )
    assert appended[(uuid, 0)].held == {"hello/0": LogCursor(0, 5)}
    assert appended[(uuid, other.number)].held == {f"machine-{other.number}": LogCursor(0, 7)}
    entries = await LogStore(store_on_each).read(uuid, LogQuery(), after=0, last=None, limit=10)
    assert sorted(e.message for e in entries) == ["a\ufffdb", "c"]


async def test_a_log_batch_is_one_read_one_insert_and_one_cursor_statement(
    store: Store,
) -> None:
    """Ownership and cursors come in one read and every moved cursor is saved in one
    statement, however many sources the batch has; a batch with nothing new writes nothing."""
    uuid = await _seed(store, units=1)
    logs = LogStore(store)
    line = "2026-01-02 03:04:05 INFO runecraft.agents.machine started"

    def batches(offset: int, end: int) -> list[bus.LogBatch]:
        return [
            bus.LogBatch(source=source, offset=offset, end=end, lines=(line,))
            for source in ("machine-0", "hello/0", "other/0")
        ]

    for offset, end in ((0, 10), (10, 20)):  # first the cursors are new, then they move
        with counting(store) as batch:
            held = await logs.append(uuid, 0, batches(offset, end))
        assert held.held == {"machine-0": LogCursor(0, end), "hello/0": LogCursor(0, end)}
        assert [s.split()[0] for s in batch.statements] == ["SELECT", "INSERT", "INSERT"]
        assert len(batch.touching("log_cursors")) == 2  # the read and the one save
    with counting(store) as again:
        held = await logs.append(uuid, 0, batches(10, 20))  # sent again: a duplicate
    assert held.held == {"machine-0": LogCursor(0, 20), "hello/0": LogCursor(0, 20)}
    assert [s.split()[0] for s in again.statements] == ["SELECT"]
    entries = await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)
    assert sorted(e.entity for e in entries) == ["machine-0"] * 2 + ["unit-hello-0"] * 2


async def test_a_record_of_several_lines_is_stored_whole_at_its_level(store: Store) -> None:
    uuid = await _seed(store, units=1)
    logs = LogStore(store)
    lines = (
        "2026-01-02 03:04:05 ERROR unit.hello/0.juju-log Uncaught exception:",
        " Traceback (most recent call last):",
        " 2026-01-02 03:04:05 INFO unit.hello/0.juju-log not a record",
        " RuntimeError: boom",
        "2026-01-02 03:04:06 INFO unit.hello/0.juju-log next",
    )
    await logs.append(uuid, 0, [bus.LogBatch(source="hello/0", offset=0, end=200, lines=lines)])
    errors_only = LogQuery(level="ERROR")
    (entry,) = await logs.read(uuid, errors_only, after=0, last=None, limit=100)
    assert (entry.level, entry.module) == ("ERROR", "unit.hello/0.juju-log")
    assert entry.message == (
        "Uncaught exception:\nTraceback (most recent call last):\n"
        "2026-01-02 03:04:05 INFO unit.hello/0.juju-log not a record\nRuntimeError: boom"
    )
    assert len(await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)) == 2


async def test_log_batches_from_the_future_are_refused_and_a_new_generation_starts_over(
    store: Store,
) -> None:
    uuid = await _seed(store, units=1)
    logs = LogStore(store)

    async def append(batch: bus.LogBatch) -> Appended:
        return await logs.append(uuid, 0, [batch])

    async def messages() -> list[str]:
        entries = await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)
        return [e.message for e in entries]

    assert (await append(bus.LogBatch(source="hello/0", offset=0, end=4, lines=("one",)))).held
    future = await append(
        bus.LogBatch(source="hello/0", offset=10**12, end=10**12 + 4, lines=("forged",))
    )
    assert [(r.source, r.offset, r.cursor) for r in future.refused] == [
        ("hello/0", 10**12, LogCursor(0, 4))
    ]
    assert future.held == {"hello/0": LogCursor(0, 4)}
    # A generation skipped, or one that does not start at 0, is refused too.
    skipped = await append(bus.LogBatch(source="hello/0", generation=2, offset=0, end=4))
    assert skipped.refused and skipped.held == {"hello/0": LogCursor(0, 4)}
    # The next line, from where the controller's copy ends, is stored.
    later = await append(bus.LogBatch(source="hello/0", offset=4, end=8, lines=("two",)))
    assert later.held == {"hello/0": LogCursor(0, 8)}
    # The file was recreated: its next generation starts at 0 and is stored from there.
    again = await append(
        bus.LogBatch(source="hello/0", generation=1, offset=0, end=6, lines=("three",))
    )
    assert again.held == {"hello/0": LogCursor(1, 6)}
    # A late copy of the old generation changes nothing.
    await append(bus.LogBatch(source="hello/0", offset=8, end=12, lines=("stale",)))
    assert await messages() == ["one", "two", "three"]


async def test_a_dying_units_last_lines_are_kept_and_a_forgotten_ones_are_not(
    store: Store,
) -> None:
    uuid = await _seed(store, units=1)
    async with store.write("m1") as tx:
        app = await tx.applications.get("hello")
        await tx.applications.update(app, life="dying")
        await tx.units.update(await tx.units.get("hello/0"), life="dying")
    logs = LogStore(store)
    last = bus.LogBatch(source="hello/0", offset=0, end=9, lines=("stopping",))
    assert (await logs.append(uuid, 0, [last])).held == {"hello/0": LogCursor(0, 9)}
    async with store.write("m1") as tx:
        await tx.units.delete(await tx.units.get("hello/0"))
    late = bus.LogBatch(source="hello/0", offset=9, end=20, lines=("too late",))
    assert (await logs.append(uuid, 0, [late])).held == {}
    entries = await logs.read(uuid, LogQuery(), after=0, last=None, limit=100)
    assert [e.message for e in entries] == ["stopping"]


async def test_controller_lines_are_stored_for_the_controller_and_the_model_they_name(
    store: Store,
) -> None:
    await _seed(store)
    published: list[tuple[str, bus.LogAck]] = []

    async def publish(agent: str, ack: bus.LogAck) -> bool:
        published.append((agent, ack))
        return True

    service = LogService(store, publish)
    worker = asyncio.create_task(service.run())
    try:
        at = "2026-01-02 03:04:05"
        service.record(LogLine(at, "INFO", "runecraft.x", "deployed model=m1", model="m1"))
        service.record(LogLine(at, "WARNING", "runecraft.x", "bus disconnected"))
        # From a worker thread, as provider calls log.
        await asyncio.to_thread(
            service.record, LogLine(at, "INFO", "runecraft.y", "thread", model="gone")
        )
        own = await service.read(
            CONTROLLER_MODEL, LogQuery(), after=0, last=None, limit=100, wait=30
        )
        while len(own.entries) < 3:
            more = await service.read(
                CONTROLLER_MODEL, LogQuery(), after=own.last, last=None, limit=100, wait=30
            )
            assert more.entries, "controller lines were not stored"
            own = LogPage(entries=[*own.entries, *more.entries], last=more.last)
        assert [(e.entity, e.machine, e.message) for e in own.entries] == [
            ("controller-0", -1, "deployed model=m1"),
            ("controller-0", -1, "bus disconnected"),
            ("controller-0", -1, "thread"),
        ]
        model = await service.read("m1", LogQuery(), after=0, last=None, limit=100, wait=0)
        assert [e.message for e in model.entries] == ["deployed model=m1"]
        only = LogQuery(include=parse_entity("controller-0"), level="WARNING")
        picked = await service.read(CONTROLLER_MODEL, only, after=0, last=None, limit=9, wait=0)
        assert [e.message for e in picked.entries] == ["bus disconnected"]
        with pytest.raises(errors.NotFoundError):
            await service.read("nope", LogQuery(), after=0, last=None, limit=9, wait=0)
    finally:
        worker.cancel()
    assert published == []
