"""Agent-reported numbers through the controller's real apply path (payloads encoded and
decoded as on the bus), and real unit agents counting them: a report or log batch from the
future is refused, never stored, and what the agent sends next still gets through; an agent
whose state was wiped converges; a forced removal gets past a failing hook."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event

from runecraft.controller.reconcilers import _planners
from runecraft.controller.reconcilers._actions import ForgetUnit, ModelState
from runecraft.controller.services import LogService
from runecraft.controller.state import Store
from runecraft.controller.state._logs import LogQuery
from runecraft.schemas import bus, sequencing

from .test_agent_group_commit import counting
from .test_relations import World, make_world
from .test_secrets_state import machine_snapshots
from .test_unit_agent import (
    BASH_CHARM,
    RECORD,
    TIMEOUT,
    Charms,
    Outbox,
    build_zip,
    make_agent,
    remote,
    running,
)


def _wire(message: bus.AgentMessage) -> bus.AgentMessage:
    """The message as the controller receives it off the bus."""
    return bus.decode_agent_message(bus.encode(message))


def _report(seq: int, message: str) -> bus.UnitReport:
    return bus.UnitReport(
        unit="db/0",
        seq=seq,
        workload=bus.StatusValue(status="active", message=message),
        agent=bus.StatusValue(status="idle"),
    )


async def _unit(world: World, name: str) -> tuple[str, str, int]:
    async with world.store.write("m") as tx:
        record = await tx.units.get(name)
    return record.workload_status, record.workload_message, record.report_seq


async def _remote(world: World, name: str) -> bus.UnitRemoteState:
    snapshots = await machine_snapshots(world)
    return next(u for s in snapshots.values() for u in s.units if u.unit == name)


async def test_a_report_from_the_future_is_refused_and_later_reports_are_stored(
    store: Store,
) -> None:
    world = await make_world(store)
    agent = f"machine-0.{world.uuid}"
    await world.send(0, _wire(_report(1, "first")))
    with structlog.testing.capture_logs() as logs:
        await world.send(0, _wire(_report(2**62, "forged")))
        await world.send(
            0,
            _wire(bus.LeaderSet(unit="db/0", seq=2**62, settings={"k": "forged"})),
            _wire(
                bus.AppStatusReport(
                    application="db",
                    unit="db/0",
                    seq=2**62,
                    status=bus.StatusValue(status="blocked", message="forged"),
                )
            ),
        )
    refused = [e for e in logs if e["event"] == "report from the future refused"]
    assert [(e["kind"], e["unit"], e["seq"], e["stored"]) for e in refused] == [
        ("unit-report", "db/0", 2**62, 1),
        ("leader-set", "db/0", 2**62, 0),
        ("app-status", "db/0", 2**62, 0),
    ]
    assert all(e["log_level"] == "warning" for e in refused)
    assert await _unit(world, "db/0") == ("active", "first", 1)
    # The agent is sent a fresh snapshot, which names what the controller holds.
    assert agent in world.agents.hellos
    assert (await _remote(world, "db/0")).report_seq == 1

    # The agent's next real reports are stored.
    await world.send(0, _wire(_report(2, "second")))
    await world.send(0, _wire(bus.LeaderSet(unit="db/0", seq=3, settings={"k": "v"})))
    assert await _unit(world, "db/0") == ("active", "second", 2)
    async with world.store.write("m") as tx:
        app = await tx.applications.get("db")
    assert app.leader_settings == {"k": "v"} and app.status != "blocked"
    assert (await _remote(world, "db/0")).report_seq == 3
    # Within the window, a report that skipped numbers (lost on the way) is stored.
    await world.send(0, _wire(_report(3 + sequencing.REPORT_WINDOW, "after a long outage")))
    assert (await _unit(world, "db/0"))[1] == "after a long outage"


async def test_a_log_batch_from_the_future_is_refused_and_later_lines_reach_debug_log(
    store: Store,
) -> None:
    world = await make_world(store)
    agent = f"machine-0.{world.uuid}"
    acks: list[bus.LogAck] = []
    stored = asyncio.Event()

    async def publish(to: str, ack: bus.LogAck) -> bool:
        assert to == agent
        acks.append(ack)
        stored.set()
        return True

    service = LogService(store, publish)

    async def ship(batch: bus.LogBatch) -> bus.LogAck:
        stored.clear()
        message = _wire(batch)
        assert isinstance(message, bus.LogBatch)
        service.submit(agent, message)
        async with asyncio.timeout(TIMEOUT):
            await stored.wait()
        return acks[-1]

    line = "2026-01-02 03:04:05 INFO unit.db/0.juju-log "
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(service.run())
        try:
            assert await ship(bus.LogBatch(source="db/0", offset=0, end=0)) == bus.LogAck(
                source="db/0", offset=0
            )
            await ship(bus.LogBatch(source="db/0", offset=0, end=10, lines=(line + "one",)))
            with structlog.testing.capture_logs() as logs:
                ack = await ship(
                    bus.LogBatch(
                        source="db/0", offset=10**12, end=10**12 + 9, lines=(line + "forged",)
                    )
                )
            assert ack == bus.LogAck(source="db/0", offset=10)  # the cursor did not move
            (refused,) = [e for e in logs if e["event"] == "log batch from the future refused"]
            assert (refused["source"], refused["offset"], refused["held_offset"]) == (
                "db/0",
                10**12,
                10,
            )
            await ship(bus.LogBatch(source="db/0", offset=10, end=20, lines=(line + "two",)))
            # The agent's log was recreated: its next generation is stored from offset 0.
            ack = await ship(
                bus.LogBatch(source="db/0", generation=1, offset=0, end=7, lines=(line + "three",))
            )
            assert ack == bus.LogAck(source="db/0", offset=7, generation=1)
            page = await service.read("m", LogQuery(), after=0, last=None, limit=100, wait=0)
        finally:
            worker.cancel()
    assert [e.message for e in page.entries] == ["one", "two", "three"]


async def test_an_agent_whose_state_was_wiped_counts_on_from_the_controller(
    tmp_path: Path,
) -> None:
    archive = build_zip(BASH_CHARM)
    outbox, charms = Outbox(), Charms(archive)
    first = make_agent(tmp_path / "first", remote(archive), charms, outbox)
    async with running(first):
        await outbox.wait_idle("h1")
    numbers = [m.seq for m in outbox.reports]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1  # a counter, not a clock
    accepted = numbers[-1]

    # Restarted on the same directory: it counts on past every number it handed out.
    again = Outbox()
    second = make_agent(tmp_path / "first", remote(archive), charms, again)
    async with running(second):
        await again.wait_idle("h1")
    assert min(m.seq for m in again.reports) > accepted

    # A fresh directory (a restored machine): the snapshot says what the controller holds,
    # far above anything this agent counted, and its reports go on from there.
    held = 5000
    fresh = Outbox()
    third = make_agent(tmp_path / "wiped", remote(archive, report_seq=held), charms, fresh)
    async with running(third):
        idle = await fresh.wait_for(
            lambda r: r.agent.status == "idle" and r.converged_hash == "h1" and r.seq > held
        )
    assert sequencing.report_verdict(held, held, idle.seq) is sequencing.ReportVerdict.APPLY
    assert third.paths.state.exists()


FAILING_STOP = {**BASH_CHARM, "hooks/stop": "#!/bin/bash\n" + RECORD + "exit 1\n"}


async def test_a_forced_removal_gets_past_a_failing_stop_hook(tmp_path: Path) -> None:
    archive = build_zip(FAILING_STOP)
    outbox, charms = Outbox(), Charms(archive)
    agent = make_agent(tmp_path, remote(archive, retry_hooks=False), charms, outbox)
    async with running(agent) as task:
        await outbox.wait_idle("h1")
        agent.update(remote(archive, life="dying", retry_hooks=False))
        failed = await outbox.wait_for(lambda r: r.agent.status == "error")
        assert failed.agent.message == 'hook failed: "stop"' and not failed.removed
        # Without --force it stays in error (no retry: the model says so).
        assert not agent.removed
        agent.update(remote(archive, life="dying", retry_hooks=False, force=True))
        async with asyncio.timeout(TIMEOUT):
            await task
    assert outbox.last.removed
    assert (agent.paths.charm / "hooks.log").read_text().split()[-2:] == ["stop", "remove"]


async def test_force_reaches_the_snapshot_of_every_unit_removed(store: Store) -> None:
    world = await make_world(store)
    await world.models.remove_units("m", ["db/1"])
    assert not (await _remote(world, "db/1")).force
    await world.models.remove_units("m", ["db/1"], force=True)
    assert (await _remote(world, "db/1")).force
    await world.models.remove_application("m", "web", force=True)
    assert all(
        u.force and u.life == "dying"
        for s in (await machine_snapshots(world)).values()
        for u in s.units
        if u.application == "web"
    )
    assert not (await _remote(world, "db/0")).force
    await world.models.destroy_model("m", force=True)
    assert (await _remote(world, "db/0")).force


async def test_force_with_no_wait_forgets_the_units_at_once(store: Store) -> None:
    """Juju's `--force --no-wait`: the controller does not wait for the agent's hooks."""
    world = await make_world(store)
    await world.models.remove_units("m", ["db/1"], force=True)
    snapshot = await store.snapshot(world.uuid)
    planned = _planners.plan_lifecycle(ModelState.of(snapshot), time.time())
    assert not any(isinstance(a, ForgetUnit) for a in planned)  # given a minute first

    await world.models.remove_application("m", "web", force=True, no_wait=True)
    snapshot = await store.snapshot(world.uuid)
    planned = _planners.plan_lifecycle(ModelState.of(snapshot), time.time())
    forgotten = sorted(a.unit.name for a in planned if isinstance(a, ForgetUnit))
    assert forgotten == ["web/0", "web/1"]
    async with store.write("m") as tx:
        for action in planned:
            if isinstance(action, ForgetUnit):
                await tx.units.forget(action.unit, time.time())
    snapshot = await store.snapshot(world.uuid)
    assert sorted(u.name for u in snapshot.units) == ["db/0", "db/1"]
    assert not any(s.unit.startswith("web/") for s in snapshot.scopes)


async def test_a_resent_leader_set_or_app_status_applies_once_and_never_undoes_a_newer_one(
    store: Store,
) -> None:
    """What a unit agent sends again after its outbox refused it: a `LeaderSet` keeps its
    number (the hook waited for it), an `AppStatusReport` takes a fresh one. A number below
    what the unit's other reports reached is still applied if that kind never got it, a
    repeat changes nothing, and an older one arriving late does not undo a newer one."""
    world = await make_world(store)
    await world.send(0, _wire(_report(10, "reported since")))

    def app_status(seq: int, message: str) -> bus.AppStatusReport:
        status = bus.StatusValue(status="active", message=message)
        return bus.AppStatusReport(application="db", unit="db/0", seq=seq, status=status)

    async def app() -> tuple[dict[str, str], int, str]:
        async with world.store.write("m") as tx:
            record = await tx.applications.get("db")
        return record.leader_settings, record.leader_settings_version, record.status_message

    refused_earlier = _wire(bus.LeaderSet(unit="db/0", seq=7, settings={"mode": "primary"}))
    await world.send(0, refused_earlier, _wire(app_status(8, "ready")))
    settings, version, message = await app()
    assert (settings, message) == ({"mode": "primary"}, "ready")
    # Another unit of the application reads them (`leader-get`).
    assert (await _remote(world, "db/1")).leader_settings == {"mode": "primary"}

    revision = await world.revision()
    await world.send(0, refused_earlier, _wire(app_status(8, "ready")))
    assert await app() == (settings, version, message)
    assert await world.revision() == revision

    await world.send(0, _wire(bus.LeaderSet(unit="db/0", seq=12, settings={"mode": "standby"})))
    await world.send(0, _wire(app_status(13, "serving")))
    await world.send(0, refused_earlier, _wire(app_status(9, "ready")))
    settings, _, message = await app()
    assert (settings, message) == ({"mode": "standby"}, "serving")


async def test_log_batches_look_their_agents_machine_up_once(store: Store) -> None:
    """An agent's machine is read on its first batch only, not per batch (each hook ships
    one or more), and again after the agent is forgotten (its machine removed)."""
    world = await make_world(store)
    agent = f"machine-0.{world.uuid}"
    stored = asyncio.Event()

    async def publish(to: str, ack: bus.LogAck) -> bool:
        stored.set()
        return True

    machine_reads: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM machines" in statement and "machines.agent" in statement:
            machine_reads.append(statement)

    service = LogService(store, publish)
    line = "2026-01-02 03:04:05 INFO unit.db/0.juju-log "

    async def ship(offset: int) -> None:
        stored.clear()
        lines = (f"{line}{offset}",)
        service.submit(
            agent, bus.LogBatch(source="db/0", offset=offset, end=offset + 1, lines=lines)
        )
        async with asyncio.timeout(TIMEOUT):
            await stored.wait()

    event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(service.run())
        try:
            for offset in range(3):
                await ship(offset)
            assert len(machine_reads) == 1
            service.forget(agent)
            await ship(3)
            assert len(machine_reads) == 2
            page = await service.read("m", LogQuery(), after=0, last=None, limit=100, wait=0)
            assert [e.message for e in page.entries] == ["0", "1", "2", "3"]
        finally:
            worker.cancel()
    event.remove(store.engine.sync_engine, "before_cursor_execute", note)


async def test_log_batches_of_several_agents_drained_together_are_one_transaction(
    store: Store,
) -> None:
    """Batches from several agents waiting at once are stored in one transaction of three
    statements (sources and cursors read, lines inserted, cursors saved), and each agent
    is told the cursors of its own sources only."""
    world = await make_world(store)
    agents = {n: f"machine-{n}.{world.uuid}" for n in (0, 1, 2)}
    acks: dict[str, list[tuple[str, int]]] = {agent: [] for agent in agents.values()}
    all_acked = asyncio.Event()

    async def publish(to: str, ack: bus.LogAck) -> bool:
        acks[to].append((ack.source, ack.offset))
        if sum(len(told) for told in acks.values()) == 4:
            all_acked.set()
        return True

    service = LogService(store, publish)
    for agent in agents.values():  # known agents: their machines are not read while counting
        await service._machine(agent)
    line = "2026-01-02 03:04:05 INFO unit.db/0.juju-log "
    sent = {
        0: [bus.LogBatch(source="db/0", offset=0, end=5, lines=(f"{line}a",))],
        1: [
            bus.LogBatch(source="db/1", offset=0, end=6, lines=(f"{line}b",)),
            bus.LogBatch(source="db/0", offset=0, end=9, lines=("not on machine 1",)),
        ],
        2: [
            bus.LogBatch(source="web/0", offset=0, end=7, lines=(f"{line}c",)),
            bus.LogBatch(source="machine-2", offset=0, end=8, lines=(f"{line}d",)),
        ],
    }
    for n, batches in sent.items():
        for batch in batches:
            service.submit(agents[n], batch)
    with counting(store) as drained:
        async with asyncio.TaskGroup() as tg:
            worker = tg.create_task(service.run())
            try:
                async with asyncio.timeout(TIMEOUT):
                    await all_acked.wait()
            finally:
                worker.cancel()
    assert drained.commits == 1
    assert len(drained.touching("log_entries")) == 1
    assert len(drained.touching("log_cursors")) == 2
    assert len(drained.statements) == 3
    assert acks == {
        agents[0]: [("db/0", 5)],
        agents[1]: [("db/1", 6)],
        agents[2]: [("machine-2", 8), ("web/0", 7)],
    }
    page = await service.read("m", LogQuery(), after=0, last=None, limit=100, wait=0)
    assert sorted(e.message for e in page.entries) == ["a", "b", "c", "d"]
