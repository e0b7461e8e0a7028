"""The reconciler makes machines in the background, beside dispatch: concurrently (bounded),
each machine's outcome written on its own, one machine's failure leaving the others be, and
a machine that is up getting its units at once while others are still being made.

The substrate is the shipped `FakeProvider`; the store, reconciler and services are the
real ones on SQLite.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import FakeProvider, Provider
from runecraft.controller.reconcilers import _provisioner
from runecraft.controller.reconcilers._runner import Reconciler
from runecraft.controller.services import AgentService, ChangeHub
from runecraft.controller.state import MachineRecord, Store
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

MODEL_UUID = "00000000-0000-0000-0000-00000000000a"
GUARD = 30.0
"""Seconds before a test that would otherwise wait for ever fails instead."""


@dataclass
class Recorder:
    """The bus edge: records every snapshot sent and wakes whoever waits for one."""

    sent: list[tuple[str, bus.MachineSnapshot]] = field(default_factory=list)
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool:
        self.sent.append((agent, message))
        self.moved.set()
        return True

    async def until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self.moved.clear()
            await self.moved.wait()


@dataclass
class World:
    store: Store
    hub: ChangeHub
    fake: FakeProvider
    recorder: Recorder
    reconciler: Reconciler
    credential_updates: list[None]

    async def deploy(self, count: int) -> None:
        await self.store.put_charm(
            sha256="a" * 64, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b""
        )
        async with self.store.write("m") as tx:
            app = await tx.applications.insert(name="hello", charm_sha256="a" * 64, config={})
            machines = [await tx.machines.insert() for _ in range(count)]
            await tx.units.add(app, count, [m.number for m in machines])
        self.hub.changed()

    async def machines(self) -> dict[int, MachineRecord]:
        return {m.number: m for m in (await self.store.snapshot(MODEL_UUID)).machines}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    fake = FakeProvider()
    recorder = Recorder()
    hub = ChangeHub()
    updates: list[None] = []

    async def credentials_changed() -> None:
        updates.append(None)

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
        interval=60.0,
        lease_seconds=60.0,
    )
    await store.create_model("m", MODEL_UUID, "fake", {})
    try:
        yield World(store, hub, fake, recorder, reconciler, updates)
    finally:
        await reconciler.provisioner.close()
        await store.close()


async def test_machines_are_made_together_and_fail_alone(world: World) -> None:
    limit = _provisioner.PROVISION_CONCURRENCY
    count = limit + 2
    for number in range(count):
        world.fake.block(number)
    world.fake.fail(1, errors.PermanentError("no room for machine 1"))
    await world.deploy(count)
    # A pass elects the leader, the next one starts making the machines (a pass that
    # waited for them would never return); the first `limit` are made side by side, the
    # others wait for a slot.
    async with asyncio.timeout(GUARD):
        for _ in range(2):
            await world.reconciler.pass_once()
        for number in range(limit):
            await world.fake.making(number)
    world.fake.release(1)  # and it fails
    for number in set(range(count)) - {1}:
        world.fake.succeed(number)
    async with asyncio.timeout(GUARD):
        await world.reconciler.settle()

    assert world.fake.most_in_flight == limit
    assert sorted(world.fake.made()) == list(range(count))
    assert len(world.credential_updates) == 1  # one broker update for the whole batch
    by_number = await world.machines()
    assert by_number[1].status == "error"
    assert by_number[1].status_message == "no room for machine 1"
    assert by_number[1].instance_id is None
    assert by_number[1].retry_at is not None
    others = [m for n, m in by_number.items() if n != 1]
    assert {(m.status, m.instance_id, m.address) for m in others} == {
        ("pending", *_instance(m.number)) for m in others
    }
    assert all(m.password_hash for m in by_number.values())
    assert world.fake.running == {(MODEL_UUID, n) for n in by_number if n != 1}


async def test_a_providers_unexpected_error_is_the_machines_status_not_the_reconcilers(
    world: World,
) -> None:
    world.fake.fail(1, ConnectionResetError("peer went away"))
    await world.deploy(2)
    async with asyncio.timeout(GUARD):
        for _ in range(2):
            await world.reconciler.pass_once()
        await world.reconciler.settle()
        await world.reconciler.pass_once()  # the reconciler goes on

    by_number = await world.machines()
    assert by_number[0].status == "pending"
    assert by_number[1].status == "error"
    assert "fake provider failed" in by_number[1].status_message
    assert "peer went away" in by_number[1].status_message
    assert by_number[1].retry_at is not None


def _instance(number: int) -> tuple[str, str]:
    info = FakeProvider.instance(MODEL_UUID, number)
    return info.instance_id, info.address


async def test_a_machine_that_is_up_gets_its_units_while_others_are_being_made(
    world: World,
) -> None:
    world.fake.block(1)
    await world.deploy(2)
    loop = asyncio.create_task(world.reconciler.run())
    try:
        address = FakeProvider.instance(MODEL_UUID, 0).address

        def machine_0_has_its_units() -> bool:
            return any(
                agent.startswith("machine-0.")
                and [u.unit for u in snapshot.units] == ["hello/0"]
                and snapshot.units[0].private_address == address
                for agent, snapshot in world.recorder.sent
            )

        async with asyncio.timeout(GUARD):
            await world.fake.making(1)
            await world.recorder.until(machine_0_has_its_units)
        # Machine 1 is still being made: its making has not returned.
        assert world.fake.in_flight == {1}
        assert (await world.machines())[1].status == "provisioning"

        world.fake.release(1)
        other = FakeProvider.instance(MODEL_UUID, 1).address
        async with asyncio.timeout(GUARD):
            await world.recorder.until(
                lambda: any(
                    agent.startswith("machine-1.")
                    and s.units
                    and s.units[0].private_address == other
                    for agent, s in world.recorder.sent
                )
            )
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert world.fake.made() == [0, 1]


async def test_a_provider_asking_for_a_longer_wait_is_honoured(world: World) -> None:
    world.fake.fail(0, errors.TemporaryError("quota exceeded", delay=3600.0))
    await world.deploy(1)
    before = time.time()
    for _ in range(2):
        await world.reconciler.pass_once()
    async with asyncio.timeout(GUARD):
        await world.reconciler.settle()
    machine = (await world.machines())[0]
    assert machine.status == "error"
    assert machine.status_message == "quota exceeded"
    assert machine.retry_count == 1
    assert machine.retry_at is not None
    assert machine.retry_at >= before + 3600.0
    # Not due yet: a pass leaves it be.
    await world.reconciler.pass_once()
    assert world.fake.made() == [0]


async def test_an_unchanged_model_costs_no_pass(world: World) -> None:
    await world.deploy(1)
    for _ in range(3):
        await world.reconciler.pass_once()
    async with asyncio.timeout(GUARD):
        await world.reconciler.settle()
    await world.reconciler.pass_once()  # sends the made machine its snapshot
    sent = len(world.recorder.sent)
    counter = world.store.count_queries()
    assert not await world.reconciler.pass_once()
    # One query lists the models; none reads the unchanged one.
    assert counter.count == 1
    assert len(world.recorder.sent) == sent


async def test_an_agent_that_says_hello_gets_its_snapshot_again(world: World) -> None:
    await world.deploy(1)
    for _ in range(3):
        await world.reconciler.pass_once()
    async with asyncio.timeout(GUARD):
        await world.reconciler.settle()
    await world.reconciler.pass_once()
    (agent,) = {agent for agent, _ in world.recorder.sent}
    sent = len(world.recorder.sent)
    await world.reconciler.pass_once()
    assert len(world.recorder.sent) == sent
    world.reconciler.agents.hellos.add(agent)
    await world.reconciler.pass_once()
    assert [a for a, _ in world.recorder.sent[sent:]] == [agent]
