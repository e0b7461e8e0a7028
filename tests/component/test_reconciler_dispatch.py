"""Change to dispatch: an idle reconciler passes as soon as a change is committed (no timer
is involved: its tick is an hour here), and a pass sends a snapshot only to the agents
whose snapshot changed, once each.

The substrate is the shipped `FakeProvider`; the store, reconciler and services are the
real ones on SQLite.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runecraft.controller.providers import FakeProvider, Provider
from runecraft.controller.reconcilers._runner import Reconciler
from runecraft.controller.services import AgentService, ChangeHub, StatusService
from runecraft.controller.state import ApplicationRecord, Store
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

MODEL_UUID = "00000000-0000-0000-0000-00000000000b"
GUARD = 30.0
"""Seconds before a test that would otherwise wait for ever fails instead."""
UNITS = 3


@dataclass
class Recorder:
    """The bus edge: records every snapshot sent."""

    sent: list[tuple[str, bus.MachineSnapshot]] = field(default_factory=list)
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool:
        self.sent.append((agent, message))
        self.moved.set()
        return True

    async def until_each_agent_has(self, config_hash: str | None = None) -> None:
        """Until every machine's agent was sent its unit (with `config_hash`)."""

        def done() -> bool:
            agents = {
                agent
                for agent, s in self.sent
                if s.units and (config_hash is None or s.units[0].config_hash == config_hash)
            }
            return len(agents) == UNITS

        while not done():
            self.moved.clear()
            await self.moved.wait()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Store, ChangeHub, Reconciler, Recorder]]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    fake = FakeProvider()
    recorder = Recorder()
    hub = ChangeHub()

    async def credentials_changed() -> None:
        return None

    def providers(name: str) -> Provider:
        assert name == "fake"
        return fake

    reconciler = Reconciler(
        store=store,
        hub=hub,
        agents=AgentService(store, hub, 60.0),
        providers=providers,
        publisher=recorder,
        broker_for_agents=lambda agent, pw: BrokerAddress(
            host="192.0.2.1", port=1883, username=agent, password=pw
        ),
        credentials_changed=credentials_changed,
        api_url="http://192.0.2.1:1",
        interval=3600.0,  # no tick: only changes wake it
        lease_seconds=3600.0,
    )
    await store.create_model("m", MODEL_UUID, "fake", {})
    loop = asyncio.create_task(reconciler.run())
    try:
        yield store, hub, reconciler, recorder
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await store.close()


async def _deploy(store: Store, hub: ChangeHub) -> ApplicationRecord:
    await store.put_charm(
        sha256="a" * 64,
        name="hello",
        meta={"name": "hello"},
        config={"options": {"message": {"type": "string", "default": "hi"}}},
        actions={},
        data=b"",
    )
    async with store.write("m") as tx:
        app = await tx.applications.insert(name="hello", charm_sha256="a" * 64, config={})
        machines = [await tx.machines.insert() for _ in range(UNITS)]
        await tx.units.add(app, UNITS, [m.number for m in machines])
    hub.changed()
    return app


async def test_a_change_reaches_every_agent_once_without_a_timer(
    running: tuple[Store, ChangeHub, Reconciler, Recorder],
) -> None:
    store, hub, reconciler, recorder = running
    app = await _deploy(store, hub)
    async with asyncio.timeout(GUARD):
        await recorder.until_each_agent_has()
        await reconciler.settle()
        # Quiet: a pass that found nothing to do, with nothing left to make.
        while reconciler.reconciled_generation < hub.generation:
            await reconciler.passed(reconciler.passes)
    before = len(recorder.sent)
    old_hash = recorder.sent[-1][1].units[0].config_hash

    async with store.write("m") as tx:
        await tx.applications.update(app, config={"message": "changed"})
    hub.changed()
    async with asyncio.timeout(GUARD):
        new_hash = await _first_new_hash(recorder, before)
        await recorder.until_each_agent_has(new_hash)
        while reconciler.reconciled_generation < hub.generation:
            await reconciler.passed(reconciler.passes)

    assert new_hash != old_hash
    after = recorder.sent[before:]
    assert sorted(agent for agent, _ in after) == sorted({agent for agent, _ in after})
    assert len(after) == UNITS  # one snapshot per agent whose snapshot changed

    # A change the agents' snapshots do not show (the model's revision moves, so the pass
    # plans it) sends nothing.
    unit = (await store.snapshot(MODEL_UUID)).units[0]
    revision = (await store.snapshot(MODEL_UUID)).models[0].revision
    async with store.write("m") as tx:
        await tx.units.update(unit, workload_message="busy")
    assert (await store.snapshot(MODEL_UUID)).models[0].revision > revision
    passes = reconciler.passes
    hub.changed()
    async with asyncio.timeout(GUARD):
        await reconciler.passed(passes)
    assert len(recorder.sent) == before + UNITS


async def test_a_change_is_taken_on_the_loops_next_turn(
    running: tuple[Store, ChangeHub, Reconciler, Recorder],
) -> None:
    """An idle reconciler takes a commit's wake-up on the loop's very next turn, ahead of
    what the committing task does next (an API request goes on to its response and its
    audit record, which would otherwise run their statements before the pass's reads)."""
    store, hub, reconciler, recorder = running
    await _deploy(store, hub)
    async with asyncio.timeout(GUARD):
        await recorder.until_each_agent_has()
        await _quiet(reconciler, hub)
    passes = reconciler.passes
    hub.changed()
    assert hub.reconcile.is_set()
    await asyncio.sleep(0)  # one turn: the reconciler's wake-up was queued ahead of ours
    assert not hub.reconcile.is_set()  # taken: the pass is under way
    async with asyncio.timeout(GUARD):
        await reconciler.passed(passes)


async def _first_new_hash(recorder: Recorder, before: int) -> str:
    while len(recorder.sent) <= before:
        recorder.moved.clear()
        await recorder.moved.wait()
    return recorder.sent[before][1].units[0].config_hash


async def _quiet(reconciler: Reconciler, hub: ChangeHub) -> None:
    """Until a pass found nothing to do, with nothing left to make."""
    await reconciler.settle()
    while reconciler.reconciled_generation < hub.generation:
        await reconciler.passed(reconciler.passes)


async def test_a_pass_after_a_config_change_reads_the_applications_alone(
    running: tuple[Store, ChangeHub, Reconciler, Recorder],
) -> None:
    store, hub, reconciler, recorder = running
    app = await _deploy(store, hub)
    async with asyncio.timeout(GUARD):
        await recorder.until_each_agent_has()
        await _quiet(reconciler, hub)
    before = len(recorder.sent)
    async with store.write("m") as tx:
        await tx.applications.update(app, config={"message": "changed"})
    counter = store.count_queries()
    read = len(reconciler.kept.parts_read)
    hub.changed()
    async with asyncio.timeout(GUARD):
        new_hash = await _first_new_hash(recorder, before)
        await recorder.until_each_agent_has(new_hash)
        await _quiet(reconciler, hub)
    # The models (which moved), then the one part written: its applications. The units,
    # machines, relations, actions, secrets, storage, resources and offers are those kept.
    assert reconciler.kept.parts_read[read:] == [(MODEL_UUID, "applications")]
    assert counter.count == 2
    assert len(recorder.sent) == before + UNITS


async def test_a_status_waiter_wakes_when_the_pass_that_settles_the_model_ends(
    running: tuple[Store, ChangeHub, Reconciler, Recorder],
) -> None:
    """A unit's report wakes the status waiters and the reconciler at once; the status they
    read says "still reconciling" until that pass ends, which changes nothing in the
    database: its end wakes them again (else they sleep out their whole long poll)."""
    store, hub, reconciler, recorder = running
    await _deploy(store, hub)
    async with asyncio.timeout(GUARD):
        await recorder.until_each_agent_has()
        await _quiet(reconciler, hub)
    status = StatusService(
        store,
        hub,
        controller_name="c",
        published_revision=reconciler.published_revision,
        reconciled=lambda: reconciler.reconciled_generation >= hub.generation,
    )
    unit = (await store.snapshot(MODEL_UUID)).units[0]
    async with store.write("m") as tx:
        await tx.units.update(unit, workload_message="busy")
    hub.changed()
    document = await status.status("m")  # before the pass that follows could run
    assert document["model"]["reconciled"] is False
    async with asyncio.timeout(GUARD):
        document = await status.status("m", after=document["model"]["generation"], timeout=3600.0)
    assert document["model"]["reconciled"] is True


async def test_a_pass_after_one_units_report_builds_that_unit_alone(
    running: tuple[Store, ChangeHub, Reconciler, Recorder],
) -> None:
    """The other units' states are those the last pass built (their rows did not move), and
    nothing is sent: a report number is no news to an agent."""
    store, hub, reconciler, recorder = running
    await _deploy(store, hub)
    async with asyncio.timeout(GUARD):
        await recorder.until_each_agent_has()
        await _quiet(reconciler, hub)
    before, built = len(recorder.sent), reconciler.unit_states.built
    unit = (await store.snapshot(MODEL_UUID)).units[1]
    async with store.write("m") as tx:
        await tx.units.update(unit, report_seq=unit.report_seq + 1, workload_message="busy")
    passes = reconciler.passes
    hub.changed()
    async with asyncio.timeout(GUARD):
        await reconciler.passed(passes)
        await _quiet(reconciler, hub)
    assert reconciler.unit_states.built == built + 1
    assert len(recorder.sent) == before
