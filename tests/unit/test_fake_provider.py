"""The in-memory provider shipped for tests: found by its entry point like any substrate,
and its hooks make a machine fail, block or succeed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import (
    FakeCall,
    FakeProvider,
    MachineSpec,
    Provider,
    ProviderContext,
    load_provider,
)
from runecraft.schemas.agent import BrokerAddress

UUID = "00000000-0000-0000-0000-0000000000f1"


def spec(number: int) -> MachineSpec:
    return MachineSpec.for_agent(
        model_name="m",
        model_uuid=UUID,
        number=number,
        agent=f"machine-{number}.{UUID}",
        password="pw",
        broker=BrokerAddress(host="192.0.2.1", port=1883, username="a", password="pw"),
        api_url="http://192.0.2.1:1",
    )


def test_the_fake_cloud_is_an_installed_provider(tmp_path: Path) -> None:
    provider: Provider = load_provider("fake", ProviderContext("c", tmp_path))
    assert isinstance(provider, FakeProvider)
    assert provider.name == "fake"


async def test_machines_are_made_stopped_and_destroyed() -> None:
    fake = FakeProvider()
    info = await fake.ensure_machine(spec(0))
    assert info == FakeProvider.instance(UUID, 0)
    assert await fake.machine_running(UUID, 0)
    fake.stop(UUID, 0)
    assert not await fake.machine_running(UUID, 0)
    await fake.destroy_machine(UUID, 0)
    assert fake.calls == [
        FakeCall("ensure_machine", UUID, 0),
        FakeCall("machine_running", UUID, 0),
        FakeCall("machine_running", UUID, 0),
        FakeCall("destroy_machine", UUID, 0),
    ]
    assert fake.specs == {}


async def test_a_failing_machine_fails_until_told_to_succeed() -> None:
    fake = FakeProvider()
    fake.fail(1, errors.TemporaryError("no capacity", delay=30))
    with pytest.raises(errors.TemporaryError, match="no capacity"):
        await fake.ensure_machine(spec(1))
    with pytest.raises(errors.TemporaryError):
        await fake.destroy_machine(UUID, 1)
    assert not await fake.machine_running(UUID, 1)
    fake.succeed(1)
    await fake.ensure_machine(spec(1))
    assert await fake.machine_running(UUID, 1)


async def test_a_blocked_machine_waits_for_its_release() -> None:
    fake = FakeProvider()
    fake.block(2)
    making = asyncio.create_task(fake.ensure_machine(spec(2)))
    await fake.making(2)
    assert fake.in_flight == {2}
    assert not making.done()
    fake.release(2)
    assert await making == FakeProvider.instance(UUID, 2)
    assert fake.in_flight == set()
    assert fake.most_in_flight == 1
