"""The LXD provider against a real LXD: it never touches a container it did not make, even
one with the very name it would use."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from runecraft import errors
from runecraft.controller.providers import MachineSpec, ProviderContext, lxd
from runecraft.schemas.agent import AgentConfig, BrokerAddress
from runecraft.settings import LxdSettings


def _spec(model: str, bridge: str) -> MachineSpec:
    config = AgentConfig(
        agent="machine-0",
        model_name="m",
        model_uuid=model,
        machine_id="0",
        data_dir="",
        broker=BrokerAddress(host=bridge, port=1883, username="machine-0", password="p"),
        api_url=f"http://{bridge}:1",
        api_token="machine-0:p",
    )
    return MachineSpec("m", model, 0, config)


async def test_a_foreign_container_with_our_name_is_left_alone(tmp_path: Path) -> None:
    provider = lxd.LxdProvider(ProviderContext(str(uuid.uuid4()), tmp_path))
    model = str(uuid.uuid4())
    name = lxd.container_name(model, 0)
    pool = await provider.storage_pool()
    bridge = await provider.bridge_address()
    try:
        # Someone else's container, under the name machine 0 of this model would get.
        await provider.api.launch(
            name,
            await provider.image(),
            {"user.note": "not runecraft's"},
            provider.settings.network,
            {"pool": pool} if pool else None,
        )
        assert not await provider.machine_running(model, 0)
        await provider.destroy_machine(model, 0)
        assert await provider.api.status(name) == "Running"
        with pytest.raises(errors.PermanentError, match="was not made by this controller"):
            await provider.ensure_machine(_spec(model, bridge))
        assert (await provider.api.instance_config(name) or {}).get("user.note") == (
            "not runecraft's"
        )
    finally:
        await provider.api.delete(name)
        await provider.close()


async def test_constraints_lxd_cannot_meet_fail_before_anything_is_made(tmp_path: Path) -> None:
    provider = lxd.LxdProvider(ProviderContext(str(uuid.uuid4()), tmp_path))
    model = str(uuid.uuid4())
    try:
        spec = _spec(model, await provider.bridge_address())
        wrong = MachineSpec(spec.model_name, model, 0, spec.agent_config, {"arch": "arm64"})
        with pytest.raises(errors.InvalidSpecError, match="arch=arm64 cannot be met"):
            await provider.ensure_machine(wrong)
        assert await provider.api.instance_config(lxd.container_name(model, 0)) is None
    finally:
        await provider.close()


async def test_a_missing_bridge_is_named(tmp_path: Path) -> None:
    network = f"rc-none-{uuid.uuid4().hex[:6]}"
    settings = LxdSettings(network=network)
    provider = lxd.LxdProvider(ProviderContext(str(uuid.uuid4()), tmp_path), settings)
    model = str(uuid.uuid4())
    try:
        with pytest.raises(errors.PermanentError, match=f'LXD network "{network}" does not exist'):
            await provider.ensure_machine(_spec(model, "10.201.0.1"))
        assert await provider.api.instance_config(lxd.container_name(model, 0)) is None
    finally:
        await provider.close()


async def test_check_ready_refuses_what_a_placement_could_not_use(tmp_path: Path) -> None:
    provider = lxd.LxdProvider(ProviderContext(str(uuid.uuid4()), tmp_path))
    try:
        bridge = await provider.bridge_address()
        await provider.check_ready(bridge, f"http://{bridge}:17070")
        with pytest.raises(errors.PermanentError) as caught:
            await provider.check_ready("127.0.0.1", f"http://{bridge}:17070")
        assert caught.value.message.startswith(
            "the controller's broker listens on 127.0.0.1, which LXD containers cannot reach: "
            f"bootstrap with --listen-address {bridge}"
        )
    finally:
        await provider.close()
    missing = f"runecraft-test/missing-{uuid.uuid4().hex[:8]}"
    provider = lxd.LxdProvider(
        ProviderContext(str(uuid.uuid4()), tmp_path), LxdSettings(image=missing)
    )
    try:
        with pytest.raises(errors.PermanentError, match=f'LXD image "{missing}" is missing'):
            await provider.check_ready(bridge, f"http://{bridge}:17070")
    finally:
        await provider.close()
