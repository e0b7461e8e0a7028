"""Leases under load, on a real SQLite store: a leader's heartbeat is stored with the next
batch however much hook work waits ahead of it, so a live leader keeps its lease."""

from __future__ import annotations

from runecraft.controller import services
from runecraft.controller.services import _agents
from runecraft.controller.state import Store
from runecraft.schemas import bus

from .test_relations import make_world


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
