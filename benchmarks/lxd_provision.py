"""LXD substrate figures: container provisioning time, and deploy-to-active of N units.

Provisioning is timed on the provider itself (what the reconciler awaits per machine):
`launch` (create from the image and start), the first IPv4 lease, and the full
`ensure_machine` (launch, lease, agent pushed from the wheelhouse and started under
systemd). The agent's credential there is a dummy, so only the container side is measured.
Deploy-to-active bootstraps a controller on the LXD bridge, deploys N units of an example
charm to containers and times `rune deploy` + `rune wait`.

    python benchmarks/lxd_provision.py [--machines 3] [--units 10] [--charm hello-bash]

Needs a running LXD with Runecraft's bridge and image (`scripts/lxd-setup.sh`,
`rune lxd build-image`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _rune import REPO, rune

from runecraft.cli._lxd import lxd_bridge_address
from runecraft.controller.providers import MachineSpec, ProviderContext
from runecraft.controller.providers.lxd import LxdProvider
from runecraft.schemas.agent import AgentConfig, BrokerAddress


async def provisioning(machines: int, cache: Path) -> dict[str, list[float]]:
    context = ProviderContext(controller_uuid=str(uuid.uuid4()), data_dir=cache / "machines")
    provider = LxdProvider(context)
    bridge = await provider.bridge_address()
    model = str(uuid.uuid4())
    timings: dict[str, list[float]] = {"launch": [], "address": [], "ensure_machine": []}
    bare = [f"rc-bench-{uuid.uuid4().hex[:8]}-{n}" for n in range(machines)]
    image = await provider.image()
    try:
        for name in bare:
            start = time.perf_counter()
            pool = await provider.storage_pool()
            root = {"pool": pool} if pool else None
            await provider.api.launch(name, image, {}, provider.settings.network, root)
            launched = time.perf_counter()
            await provider.wait_address(name)
            timings["launch"].append(launched - start)
            timings["address"].append(time.perf_counter() - launched)
            await provider.api.delete(name)
        await provider.agent_wheels()  # built once per controller; not a per-machine cost
        for number in range(machines):
            config = AgentConfig(
                agent=f"machine-{number}",
                model_name="bench",
                model_uuid=model,
                machine_id=str(number),
                data_dir="",
                broker=BrokerAddress(host=bridge, port=1, username="bench", password="bench"),
                api_url=f"http://{bridge}:1",
                api_token="bench:bench",
            )
            start = time.perf_counter()
            await provider.ensure_machine(MachineSpec("bench", model, number, config))
            timings["ensure_machine"].append(time.perf_counter() - start)
    finally:
        for name in bare:
            await provider.api.delete(name)
        for number in range(machines):
            await provider.destroy_machine(model, number)
        await provider.close()
    return timings


def deploy_to_active(charm: str, units: int, cache: Path, bridge: str) -> float:
    home = Path(tempfile.mkdtemp(prefix="rc-bench-lxd-"))
    rune(home, cache, "bootstrap", "lxd", "--listen-address", bridge)
    try:
        start = time.perf_counter()
        rune(home, cache, "deploy", str(REPO / "examples" / "charms" / charm), "-n", str(units))
        rune(home, cache, "wait", "--timeout", "30m")
        return time.perf_counter() - start
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=3, help="containers to provision")
    parser.add_argument("--units", type=int, default=10, help="units to deploy (0: skip)")
    parser.add_argument("--charm", default="hello-bash")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    timings = asyncio.run(provisioning(args.machines, cache))
    print(f"{'step':<16} {'n':>3} {'mean s':>7} {'min s':>7} {'max s':>7}")
    for step, values in timings.items():
        print(
            f"{step:<16} {len(values):>3} {statistics.mean(values):>7.2f} "
            f"{min(values):>7.2f} {max(values):>7.2f}"
        )
    if args.units:
        # Warm the packing cache so pip is not part of the figure.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from runecraft import charms; "
                "charms.pack(Path(sys.argv[1]), Path(sys.argv[2]))",
                str(REPO / "examples" / "charms" / args.charm),
                str(cache),
            ],
            check=True,
        )
        elapsed = deploy_to_active(args.charm, args.units, cache, lxd_bridge_address())
        print(f"deploy → active, {args.units} units of {args.charm} on LXD: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
