"""Agent messages stored as a group commit, counted on a real SQLite store: a batch of unit
reports is one transaction whose statements do not grow with it (one UPDATE executed for
every row, one INSERT for the status history), a report judged against the one held in
memory reads nothing back, a batch of heartbeats is a constant number of statements, and
what the writer holds never claims a report a rolled-back transaction did not store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from runecraft import errors
from runecraft.controller.state import Store
from runecraft.controller.state import _tables as t
from runecraft.schemas import bus

from .test_relations import World, commit, make_world


@dataclass
class Counts:
    """What reached the database while counting."""

    statements: list[str] = field(default_factory=list)
    many: int = 0
    """Statements executed for many rows at once."""
    commits: int = 0
    rollbacks: int = 0

    def touching(self, table: str) -> list[str]:
        return [s for s in self.statements if table in s]


@contextmanager
def counting(store: Store) -> Iterator[Counts]:
    """Count statements (not the connection's PRAGMAs), commits and rollbacks."""
    counts = Counts()
    engine = store.engine.sync_engine

    def executed(*args: Any) -> None:
        statement, executemany = args[2], args[5]
        if not statement.startswith("PRAGMA"):
            counts.statements.append(statement)
            counts.many += bool(executemany)

    def committed(_: Any) -> None:
        counts.commits += 1

    def rolled_back(_: Any) -> None:
        counts.rollbacks += 1

    hooks = [
        ("before_cursor_execute", executed),
        ("commit", committed),
        ("rollback", rolled_back),
    ]
    for name, hook in hooks:
        event.listen(engine, name, hook)
    try:
        yield counts
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)


def report(unit: str, seq: int, message: str, status: str = "active") -> bus.UnitReport:
    return bus.UnitReport(
        unit=unit,
        seq=seq,
        workload=bus.StatusValue(status=status, message=message),
        agent=bus.StatusValue(status="idle"),
    )


async def stored(world: World, name: str) -> tuple[str, str, int]:
    unit = await world.unit(name)
    return unit.workload_message, unit.agent_status, unit.report_seq


async def history(world: World, name: str) -> list[tuple[str, str]]:
    async with world.store.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.status_history.c.kind, t.status_history.c.message)
            .where(t.status_history.c.entity == name)
            .order_by(t.status_history.c.id)
        )
        return [(str(r.kind), str(r.message)) for r in rows]


WEB = [f"web/{n}" for n in range(200)]


async def test_a_batch_of_two_hundred_reports_runs_the_statements_of_a_batch_of_one(
    store: Store,
) -> None:
    world = await make_world(store, web_units=200)
    with counting(store) as first:  # nothing held yet: one read for the whole batch
        await world.send(2, *(report(unit, 1, "first") for unit in WEB))
    assert len(first.touching("FROM units")) == 1
    assert len(first.touching("UPDATE units")) == 1
    assert first.commits == 1

    with counting(store) as one:
        await world.send(2, report("web/0", 2, "second"))
    with counting(store) as many:
        await world.send(2, *(report(unit, 2, "second") for unit in WEB[1:]))
    assert len(many.statements) == len(one.statements) == 2  # UPDATE and history INSERT
    assert many.many == 2
    assert len(many.touching("status_history")) == 1
    assert many.commits == one.commits == 1
    assert {await stored(world, unit) for unit in WEB} == {("second", "idle", 2)}
    assert await history(world, "web/199") == [
        ("workload", "first"),
        ("juju-unit", ""),
        ("workload", "second"),
    ]


async def test_a_repeated_report_writes_nothing_and_an_unchanged_status_no_history(
    store: Store,
) -> None:
    world = await make_world(store)
    await world.send(2, report("web/0", 1, "up"))
    with counting(store) as repeated:
        await world.send(2, report("web/0", 1, "up"))
    assert repeated.statements == []

    with counting(store) as renumbered:
        await world.send(2, report("web/0", 2, "up"))
    assert len(renumbered.statements) == 1
    assert renumbered.touching("UPDATE units") == renumbered.statements
    assert await stored(world, "web/0") == ("up", "idle", 2)
    assert await history(world, "web/0") == [("workload", "up"), ("juju-unit", "")]


async def test_reports_of_one_unit_in_one_batch_are_stored_in_order(store: Store) -> None:
    world = await make_world(store)
    await world.send(
        2,
        report("web/0", 1, "one"),
        report("web/0", 3, "three"),
        report("web/0", 2, "two, too late"),
    )
    assert await stored(world, "web/0") == ("three", "idle", 3)
    assert await history(world, "web/0") == [
        ("workload", "one"),
        ("juju-unit", ""),
        ("workload", "three"),
    ]


async def test_five_hundred_heartbeats_are_the_statements_of_one(store: Store) -> None:
    world = await make_world(store, web_units=200)
    agents = {n: f"machine-{n}.{world.uuid}" for n in range(3)}
    units = {0: ("db/0",), 1: ("db/1",), 2: tuple(WEB)}
    assert await world.agents.apply([(agents[2], bus.Heartbeat(agent=agents[2]))])

    with counting(store) as one:
        beat = bus.Heartbeat(agent=agents[2], units=units[2])
        changed = await world.agents.apply([(agents[2], beat)])
    assert not changed  # a routine heartbeat does not wake the reconciler
    beats = [
        (agents[n % 3], bus.Heartbeat(agent=agents[n % 3], units=units[n % 3])) for n in range(500)
    ]
    with counting(store) as first:
        changed = await world.agents.apply(beats)
    assert changed  # machines 0 and 1 were not started
    assert len(first.touching("UPDATE applications")) == 1
    assert len(first.touching("UPDATE machines")) == 2  # machines 0 and 1, once each
    with counting(store) as many:
        changed = await world.agents.apply(beats)
    assert not changed
    assert len(one.statements) == len(many.statements) == 2  # leases; machines not started
    assert many.many == 1
    assert many.commits == one.commits == 1
    async with store.write("m") as tx:
        leases = [(await tx.applications.get(a)).lease_expiry for a in ("db", "web")]
        started = {(await tx.machines.get(n)).status for n in range(3)}
    assert all(lease is not None and lease > 60 for lease in leases)
    assert started == {"started"}

    forged = bus.Heartbeat(agent=agents[0], units=("web/0",))  # web/0 is on machine 2
    async with store.write("m") as tx:
        await tx.applications.update(await tx.applications.get("web"), lease_expiry=1.0)
    await world.agents.apply([(agents[0], forged)])
    async with store.write("m") as tx:
        assert (await tx.applications.get("web")).lease_expiry == 1.0


async def test_a_rolled_back_batch_leaves_nothing_held_it_did_not_store(store: Store) -> None:
    world = await make_world(store)
    await world.send(2, report("web/0", 1, "up"), report("web/1", 1, "up"))
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE INSERT ON status_history "
                "WHEN NEW.message = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    with counting(store) as failed:
        await world.send(2, report("web/0", 2, "fine"), report("web/1", 2, "poison"))
    assert failed.rollbacks == 2  # the batch, then web/1 alone; web/0 alone committed
    assert await stored(world, "web/0") == ("fine", "idle", 2)
    assert await stored(world, "web/1") == ("up", "idle", 1)

    async with store.engine.begin() as conn:
        await conn.execute(sa.text("DROP TRIGGER refuse"))
    await world.send(2, report("web/1", 2, "healed"))  # held as 1, not 2: stored
    assert await stored(world, "web/1") == ("healed", "idle", 2)


async def test_a_batch_an_outage_rolled_back_after_its_reports_is_stored_when_retried(
    store: Store,
) -> None:
    world = await make_world(store)
    await world.send(2, report("web/1", 1, "up"))
    async with store.engine.begin() as conn:  # the disk fills as machine 0 is marked started
        await conn.execute(
            sa.text(
                "CREATE TRIGGER full BEFORE UPDATE ON machines "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        )
    agent = f"machine-0.{world.uuid}"
    batch: list[tuple[str, bus.AgentMessage]] = [
        (f"machine-2.{world.uuid}", report("web/1", 2, "while full")),
        (agent, bus.Heartbeat(agent=agent)),
    ]
    with counting(store) as failed, pytest.raises(errors.TemporaryError):
        await world.agents.apply(batch)
    assert len(failed.touching("UPDATE units")) == 1  # written, then rolled back
    assert await stored(world, "web/1") == ("up", "idle", 1)

    async with store.engine.begin() as conn:
        await conn.execute(sa.text("DROP TRIGGER full"))
    await world.agents.apply(batch)  # as the worker retries it: held as 1, not 2
    assert await stored(world, "web/1") == ("while full", "idle", 2)


async def test_a_status_another_writer_set_is_read_again_not_overwritten_blind(
    store: Store,
) -> None:
    world = await make_world(store)
    await world.send(2, report("web/0", 1, "up"))
    async with store.write("m") as tx:  # as the pod status of a Kubernetes unit is set
        unit = await tx.units.get("web/0")
        await tx.units.update(unit, workload_status="error", workload_message="pod failed")
    with counting(store) as moved:
        await world.send(2, report("web/0", 2, "up"))
    assert moved.rollbacks == 1 and moved.commits == 1
    assert await stored(world, "web/0") == ("up", "idle", 2)
    assert (await history(world, "web/0"))[-1] == ("workload", "up")


async def test_a_unit_removed_and_added_again_under_its_name_is_not_held(store: Store) -> None:
    world = await make_world(store)
    await world.send(2, report("web/1", 5, "old"))
    async with store.write("m") as tx:
        await tx.units.delete(await tx.units.get("web/1"))
        web = await tx.applications.get("web")
        await tx.units.add(web, 1, [2], numbers=[1])
    await world.send(2, report("web/1", 1, "new"))
    assert await stored(world, "web/1") == ("new", "idle", 1)


async def test_the_hook_commits_of_a_batch_read_units_scopes_relations_applications_once(
    store: Store,
) -> None:
    world = await make_world(store, web_units=20)
    agent = f"machine-2.{world.uuid}"
    await world.agents.apply([(agent, bus.Heartbeat(agent=agent))])  # the agent is known
    with counting(store) as one:
        await world.send(2, commit("web/0", 1))
    with counting(store) as many:
        await world.send(2, *(commit(f"web/{n}", 1) for n in range(1, 20)))
    for counts in (one, many):
        assert len(counts.touching("FROM units")) == 1
        assert len(counts.touching("FROM relation_scopes")) == 1
        assert len(counts.touching("FROM relations ")) == 1
        assert len(counts.touching("FROM applications")) == 1
        # the reads above, the endpoints, each commit's number, the revision and change log
        per_commit = counts.touching("UPDATE units SET commit_seq")
        assert len(counts.statements) == len(per_commit) + 7
    assert {(await world.unit(f"web/{n}")).commit_seq for n in range(20)} == {1}


async def test_commits_of_one_unit_in_one_batch_see_the_scopes_the_earlier_ones_left(
    store: Store,
) -> None:
    world = await make_world(store)
    relation, _ = await world.relations.integrate("m", "web", "db")
    await world.send(
        2,
        commit("web/0", 1, scope={relation.id: "enter"}),
        commit("web/0", 2, relations={relation.id: bus.RelationWrite(unit={"n": "2"})}),
        commit("web/0", 3, scope={relation.id: "leave"}),
        commit("web/0", 4, relations={relation.id: bus.RelationWrite(unit={"n": "4"})}),
    )
    assert (await world.unit("web/0")).commit_seq == 4
    assert (relation.id, "web/0") not in await world.scopes()
    assert (await world.bags())[(relation.id, "unit", "web/0")][0]["n"] == "2"


async def test_on_postgresql_reports_heartbeats_and_a_moved_row_take_the_same_path(
    postgres_url: str,
) -> None:
    """PostgreSQL counts no rows of an UPDATE executed for many: whether every row was as
    held is one read instead."""
    store = await Store.open(postgres_url)
    try:
        world = await make_world(store, web_units=50)
        names = [f"web/{n}" for n in range(50)]
        await world.send(2, *(report(unit, 1, "first") for unit in names))
        with counting(store) as many:
            await world.send(2, *(report(unit, 2, "second") for unit in names))
        assert len(many.touching("UPDATE units")) == 1 and many.commits == 1
        assert {await stored(world, unit) for unit in names} == {("second", "idle", 2)}
        with counting(store) as repeated:
            await world.send(2, report("web/0", 2, "second"))
        assert repeated.statements == []

        async with store.write("m") as tx:
            unit = await tx.units.get("web/1")
            await tx.units.update(unit, workload_status="error", workload_message="pod failed")
        await world.send(2, report("web/1", 3, "second"))
        assert await stored(world, "web/1") == ("second", "idle", 3)
        assert (await history(world, "web/1"))[-1] == ("workload", "second")

        agent = f"machine-2.{world.uuid}"
        beat = bus.Heartbeat(agent=agent, units=tuple(names))
        assert await world.agents.apply([(agent, beat)])  # machine 2 starts
        assert not await world.agents.apply([(agent, beat)])
        async with store.write("m") as tx:
            assert (await tx.applications.get("web")).lease_expiry is not None
    finally:
        await store.close()
