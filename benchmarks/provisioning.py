"""How soon a machine that is up gets its units, while the other machines are still made.

A real store (SQLite), the real services and the real reconciler; the substrate is the
shipped fake provider, slowed so that making one machine takes `--make` seconds (a container
takes seconds), at most PROVISION_CONCURRENCY at a time. The bus edge records when each
machine's agent is first sent a snapshot after its machine came up. Before the reconciler
made machines beside dispatch, no machine got its units until the pass that made the last
machine ended: with 200 machines, machine 0's agent waited about 100 s.

    python benchmarks/provisioning.py [--machines 200] [--make 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from runecraft.controller import services
from runecraft.controller.providers import FakeProvider, InstanceInfo, MachineSpec, Provider
from runecraft.controller.reconcilers import _provisioner
from runecraft.controller.reconcilers._runner import Reconciler
from runecraft.controller.state import Store
from runecraft.schemas import api, bus
from runecraft.schemas.agent import BrokerAddress

CHARM = "c" * 64


class SlowFake(FakeProvider):
    """The fake substrate, with machines that take `make` seconds to come up."""

    def __init__(self, make: float) -> None:
        super().__init__()
        self.make = make
        self.up_at: dict[str, float] = {}

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        await asyncio.sleep(self.make)
        info = await super().ensure_machine(spec)
        self.up_at.setdefault(spec.agent_config.agent, time.monotonic())
        return info


class FirstSnapshots:
    """The bus edge: when each agent was first sent a snapshot after its machine was up."""

    def __init__(self, fake: SlowFake, expected: int) -> None:
        self.fake = fake
        self.expected = expected
        self.at: dict[str, float] = {}
        self.all_sent = asyncio.Event()

    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool:
        del message
        if agent in self.fake.up_at and agent not in self.at:
            self.at[agent] = time.monotonic()
            if len(self.at) == self.expected:
                self.all_sent.set()
        return True


async def run(machines: int, make: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'state.db'}")
        hub = services.ChangeHub()
        fake = SlowFake(make)
        edge = FirstSnapshots(fake, machines)

        def providers(name: str) -> Provider:
            return fake

        async def credentials_changed() -> None:
            return None

        reconciler = Reconciler(
            store=store,
            hub=hub,
            agents=services.AgentService(store, hub, 60.0),
            providers=providers,
            publisher=edge,
            broker_for_agents=lambda agent, pw: BrokerAddress(
                host="192.0.2.1", port=1883, username=agent, password=pw
            ),
            credentials_changed=credentials_changed,
            api_url="http://192.0.2.1:1",
            interval=1.0,
            lease_seconds=60.0,
        )
        models = services.ModelService(store, hub)
        await models.add_model("bench", "fake")
        await store.put_charm(
            sha256=CHARM,
            name="hello",
            meta={"name": "hello"},
            config={"options": {}},
            actions={},
            data=b"",
        )
        loop = asyncio.create_task(reconciler.run())
        start = time.monotonic()
        await models.deploy(
            "bench",
            api.DeployRequest(application="hello", charm_sha256=CHARM, num_units=machines),
        )
        await asyncio.wait_for(edge.all_sent.wait(), timeout=machines * make + 120)
        loop.cancel()
        await reconciler.provisioner.close()
        await store.close()
    waits = sorted(edge.at[agent] - fake.up_at[agent] for agent in edge.at)
    first = min(edge.at.values())
    return {
        "first_units_s": first - start,
        "last_up_s": max(fake.up_at.values()) - start,
        "wait_p50_ms": statistics.median(waits) * 1000,
        "wait_max_ms": waits[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--make", type=float, default=0.25, help="seconds to make a machine")
    args = parser.parse_args()
    figures = asyncio.run(run(args.machines, args.make))
    slots = _provisioner.PROVISION_CONCURRENCY
    print(f"{args.machines} machines, {args.make:.2f} s each, {slots} made at a time")
    print(f"  first agent sent its units after {figures['first_units_s']:.2f} s")
    print(f"  last machine up after             {figures['last_up_s']:.2f} s")
    print(
        "  machine up -> its agent's snapshot: "
        f"p50 {figures['wait_p50_ms']:.0f} ms, max {figures['wait_max_ms']:.0f} ms"
    )
    ratio = figures["last_up_s"] / max(figures["first_units_s"], 1e-3)
    print(f"  the first agent started {ratio:.0f}x sooner than after the last machine")


if __name__ == "__main__":
    main()
