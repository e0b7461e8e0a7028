"""The reconciler provisions the machines of a pass concurrently (bounded), writes each
machine's outcome on its own, and one machine's failure leaves the others be.

The substrate is a test provider (the `Provider` protocol is the pluggable edge); the store,
reconciler and services are the real ones on SQLite.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from runecraft import errors
from runecraft.controller.providers import InstanceInfo, MachineSpec, Provider
from runecraft.controller.reconcilers import _runner
from runecraft.controller.reconcilers._runner import Reconciler
from runecraft.controller.services import AgentService, ChangeHub
from runecraft.controller.state import Store
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

MODEL_UUID = "00000000-0000-0000-0000-00000000000a"


class GatedSubstrate:
    """Lets machines through only once `together` of them are being made at the same time
    (a serial reconciler never gets there), and refuses one machine."""

    name = "gated"

    def __init__(self, together: int, refuse: int) -> None:
        self.together = together
        self.refuse = refuse
        self.in_flight = 0
        self.most_in_flight = 0
        self.gate = asyncio.Event()
        self.running: set[int] = set()

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.in_flight >= self.together:
                self.gate.set()
            await self.gate.wait()
            if spec.number == self.refuse:
                raise errors.PermanentError(f"no room for machine {spec.number}")
            self.running.add(spec.number)
            return InstanceInfo(f"gated:{spec.number}", f"host-{spec.number}", "192.0.2.1")
        finally:
            self.in_flight -= 1

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        return number in self.running

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        self.running.discard(number)

    async def close(self) -> None:
        return None


class Silent:
    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool:
        return False


async def test_machines_are_made_together_and_fail_alone(tmp_path: Path) -> None:
    limit = _runner.PROVISION_CONCURRENCY
    count = limit + 2
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    substrate = GatedSubstrate(together=limit, refuse=1)
    credential_updates = 0

    async def credentials_changed() -> None:
        nonlocal credential_updates
        credential_updates += 1

    def providers(name: str) -> Provider:
        assert name == "gated"
        return substrate

    hub = ChangeHub()
    reconciler = Reconciler(
        store=store,
        hub=hub,
        agents=AgentService(store, hub, 60.0),
        providers=providers,
        publisher=Silent(),
        broker_for_agents=lambda agent, pw: BrokerAddress(
            host="192.0.2.1", port=1883, username=agent, password=pw
        ),
        credentials_changed=credentials_changed,
        api_url="http://192.0.2.1:1",
        interval=60.0,
        lease_seconds=60.0,
    )
    try:
        await store.create_model("m", MODEL_UUID, "gated", {})
        await store.put_charm(
            sha256="a" * 64, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b""
        )
        async with store.write("m") as tx:
            app = await tx.insert_application(name="hello", charm_sha256="a" * 64, config={})
            machines = [await tx.insert_machine() for _ in range(count)]
            await tx.add_units(app, count, [m.number for m in machines])
        # A pass elects the leader, the next one provisions; a serial reconciler would wait
        # at the gate for ever, so the guard turns that into a failure.
        for _ in range(3):
            await asyncio.wait_for(reconciler.pass_once(), 30)
            if substrate.running:
                break
        snapshot = await store.snapshot(MODEL_UUID)
    finally:
        await store.close()

    assert substrate.most_in_flight == limit
    assert credential_updates == 1
    by_number = {m.number: m for m in snapshot.machines}
    assert by_number[1].status == "error"
    assert by_number[1].status_message == "no room for machine 1"
    assert by_number[1].instance_id is None
    assert by_number[1].retry_at is not None
    others = [m for n, m in by_number.items() if n != 1]
    assert {(m.status, m.instance_id) for m in others} == {
        ("pending", f"gated:{m.number}") for m in others
    }
    assert all(m.password_hash for m in snapshot.machines)
    assert substrate.running == set(by_number) - {1}
