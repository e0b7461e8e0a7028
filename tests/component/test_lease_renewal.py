"""Leases under load, on a real SQLite store: a leader's heartbeat is stored with the next
batch however much hook work waits ahead of it, and a stall of the controller itself (its
loop blocked, its clock jumped) moves no leadership, so a live leader keeps its lease."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft.controller import services
from runecraft.controller.providers import FakeProvider
from runecraft.controller.reconcilers._runner import Reconciler
from runecraft.controller.services import _agents
from runecraft.controller.state import ApplicationRecord, Store
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

from .test_reconciler_dispatch import Recorder
from .test_relations import make_world

LEASE = 60.0
MODEL_UUID = "00000000-0000-0000-0000-00000000001e"


async def _db_lease(store: Store) -> float | None:
    async with store.write("m") as tx:
        return (await tx.applications.get("db")).lease_expiry


async def test_a_heartbeat_is_stored_ahead_of_a_backlog_of_hook_work(store: Store) -> None:
    """More messages than one batch takes wait ahead of db/0's heartbeat (and a later
    heartbeat replaces it): the very next batch renews the lease from when it came."""
    world = await make_world(store)
    agents = world.agents
    machine0 = f"machine-0.{world.uuid}"
    machine2 = f"machine-2.{world.uuid}"
    async with store.write("m") as tx:
        await tx.applications.update(await tx.applications.get("db"), lease_expiry=1.0)
    progress = bus.ActionLog(unit="web/0", action_id="1", message="working")
    for _ in range(_agents.MAX_BATCH + 1):
        agents.submit(machine2, progress)
    beat = bus.Heartbeat(agent=machine0, units=("db/0",))
    agents.submit(machine0, beat)
    agents.submit(machine2, progress)
    agents.submit(machine0, beat)  # the latest heartbeat of machine 0 replaces the first
    assert agents.waiting == _agents.MAX_BATCH + 3

    await agents.store_batch()

    lease = await _db_lease(store)
    assert lease is not None and lease > 1.0 + agents.lease_seconds
    assert agents.waiting == 2  # the messages beyond the batch
    await agents.store_batch()
    assert agents.waiting == 0


async def test_heartbeats_alone_leave_nothing_waiting(store: Store) -> None:
    world = await make_world(store)
    agents = world.agents
    machine0 = f"machine-0.{world.uuid}"
    agents.submit(machine0, bus.Heartbeat(agent=machine0, units=("db/0",)))
    assert agents.waiting == 1
    await agents.store_batch()
    assert agents.waiting == 0
    assert services.MAX_WAITING > _agents.MAX_BATCH


class _Clock:
    """The stall watch's wall clock, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def reconciling(tmp_path: Path) -> AsyncIterator[tuple[Store, Reconciler]]:
    """A reconciler over a real store and the fake provider, passes driven by the test, and
    an application `hello` with two units whose leader is settled."""
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    fake = FakeProvider()
    hub = services.ChangeHub()

    async def credentials_changed() -> None:
        return None

    reconciler = Reconciler(
        store=store,
        hub=hub,
        agents=services.AgentService(store, hub, LEASE),
        providers=lambda _: fake,
        publisher=Recorder(),
        broker_for_agents=lambda agent, pw: BrokerAddress(
            host="192.0.2.1", port=1883, username=agent, password=pw
        ),
        credentials_changed=credentials_changed,
        api_url="http://192.0.2.1:1",
        interval=3600.0,
        lease_seconds=LEASE,
    )
    await store.create_model("m", MODEL_UUID, "fake", {})
    await store.put_charm(
        sha256="a" * 64, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b""
    )
    async with store.write("m") as tx:
        app = await tx.applications.insert(name="hello", charm_sha256="a" * 64, config={})
        machines = [await tx.machines.insert() for _ in range(2)]
        await tx.units.add(app, 2, [m.number for m in machines])
    try:
        await _settle(reconciler)
        yield store, reconciler
    finally:
        await reconciler.settle()
        await store.close()


async def _settle(reconciler: Reconciler) -> None:
    for _ in range(20):
        if not await reconciler.pass_once():
            return
    raise AssertionError("the model did not settle")


async def _hello(store: Store) -> ApplicationRecord:
    async with store.write("m") as tx:
        return await tx.applications.get("hello")


async def test_a_controller_stall_past_the_lease_keeps_the_leader(
    reconciling: tuple[Store, Reconciler],
) -> None:
    """The leader's lease was last renewed just before the controller stalled (its loop
    blocked or its clock jumped) for longer than a lease: the passes that follow keep the
    leader, both while the controller is resuming (its heartbeats not read yet) and once the
    stall is noticed; without the stall the same lease moves leadership."""
    store, reconciler = reconciling
    leader = (await _hello(store)).leader
    assert leader is not None
    now = time.time()
    async with store.write("m") as tx:
        await tx.applications.update(await tx.applications.get("hello"), lease_expiry=now - 1)
    clock = _Clock(now - 2 * LEASE)
    watch = services.StallWatch(tick=1.0, clock=clock)
    reconciler.agents.watch = watch
    watch._last = clock.now  # as `run` starts it
    clock.now = now  # the controller heard nothing for two leases

    await _settle(reconciler)  # resuming: the watch has not ticked yet
    assert (await _hello(store)).leader == leader
    watch.ticked()
    reconciler.invalidate(MODEL_UUID)
    await _settle(reconciler)  # the stall noticed: the lease runs on by it
    assert (await _hello(store)).leader == leader

    reconciler.agents.watch = services.StallWatch()  # no stall: the lease ran out
    reconciler.invalidate(MODEL_UUID)
    await _settle(reconciler)
    assert (await _hello(store)).leader not in (None, leader)


async def test_a_heartbeat_waiting_to_be_stored_keeps_the_leader(
    reconciling: tuple[Store, Reconciler],
) -> None:
    """The stored lease ran out while the leader's heartbeat waits behind a backlog (the
    worker has not stored it yet): the leader stays. A heartbeat naming the leader from
    another machine's agent renews nothing, and leadership moves."""
    store, reconciler = reconciling
    hello = await _hello(store)
    assert hello.leader is not None
    async with store.write("m") as tx:
        await tx.applications.update(hello, lease_expiry=time.time() - 1)
        machines = {m.number: m.agent for m in await tx.machines.all()}
        leader_unit = await tx.units.get(hello.leader)
    assert leader_unit.machine_number is not None
    own = machines.pop(leader_unit.machine_number)
    (other,) = machines.values()
    agents = reconciler.agents

    agents.submit(own, bus.Heartbeat(agent=own, units=(hello.leader,)))
    reconciler.invalidate(MODEL_UUID)
    await _settle(reconciler)
    assert (await _hello(store)).leader == hello.leader
    assert agents.waiting == 1  # still not stored

    agents.submit(own, bus.Heartbeat(agent=own, units=()))  # replaces it, naming no unit
    agents.submit(other, bus.Heartbeat(agent=other, units=(hello.leader,)))
    reconciler.invalidate(MODEL_UUID)
    await _settle(reconciler)
    assert (await _hello(store)).leader not in (None, hello.leader)
