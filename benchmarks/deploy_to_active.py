"""Time from `rune deploy` of N units to all active, and hooks run per second.

Each run bootstraps a fresh controller (embedded default: local substrate, SQLite, embedded
broker) in a temporary home, deploys an example charm with N units, and follows the model's
status (the long poll `rune wait` uses) until every unit is active and idle. Hooks are
counted from the unit logs; the status lag is how long after the last hook's end (the last
write to any unit log) the status first showed the model settled.

    python benchmarks/deploy_to_active.py [--units 1,10,50] [--charm hello,hello-bash]
        [--machines M]

`hello` has a peer relation, so its hook count grows as N*(N-1): at N = 50 that is about
5,000 hooks and several minutes. With `--machines M` the units share M machines (deploy
`-n M`, then `add-unit --to` the M machines in turn) instead of one machine each.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from _rune import REPO, packed_charms, rune

from runecraft.cli._wait import judge
from runecraft.client import Client

DEFAULT_UNITS = {"hello": "1,10", "hello-bash": "1,10,50"}
"""`hello`'s peer relation makes N = 50 about 5,000 hooks; ask for it with --units."""

PROGRESS_EVERY = 15.0
"""Seconds between the lines saying how far a deploy got."""

RAN = re.compile(r'ran hook "([^"]+)"')


@dataclass(frozen=True)
class Deployed:
    """One deploy's figures."""

    elapsed: float
    """Seconds from `rune deploy` to the status showing every unit active and idle."""
    hooks: Counter[str]
    """Hooks run, by name, over every unit."""
    status_lag: float
    """Seconds from the last hook's end to the status first showing the model settled."""
    machines: int
    """Machines the units ended on."""

    @property
    def rate(self) -> float:
        return sum(self.hooks.values()) / self.elapsed


def unit_logs(home: Path) -> list[Path]:
    """Every unit log of the controller in `home` (its machines dir may be a symlink)."""
    return sorted(home.glob("machines/*/*/units/*/unit.log"))


def expected_peer_hooks(units: int) -> Counter[str]:
    """The hooks `hello` (one peer relation) runs when `units` units are deployed at once
    with a stable leader: each unit installs, has the relation created, is configured and
    starts; the leader runs `leader-elected`, every other unit `leader-settings-changed`
    once; and each unit sees every other unit join and change once."""
    others = units * (units - 1)
    return Counter(
        {
            "install": units,
            "hello-peers-relation-created": units,
            "leader-elected": 1,
            "leader-settings-changed": units - 1,
            "config-changed": units,
            "start": units,
            "hello-peers-relation-joined": others,
            "hello-peers-relation-changed": others,
        }
    )


def hooks_run(home: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for log in unit_logs(home):
        counts.update(RAN.findall(log.read_text(errors="replace")))
    return counts


async def follow(home: Path, timeout: float) -> tuple[float, dict[str, Any]]:
    """The wall-clock time the status first judged the model settled, and that status."""
    config = yaml.safe_load((home / "client.yaml").read_text())
    deadline = time.monotonic() + timeout
    async with Client(config["endpoint"], config["token"], ca_cert=config.get("ca_cert")) as client:
        document = await client.status("default")
        said = time.monotonic()
        while (verdict := judge(document)).state == "pending":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SystemExit(f"timed out waiting to settle: {verdict.message}")
            if time.monotonic() - said >= PROGRESS_EVERY:  # a long deploy is never silent
                said = time.monotonic()
                print(
                    f"  {verdict.units_ready}/{verdict.units_total} units ready; {verdict.message}",
                    file=sys.stderr,
                    flush=True,
                )
            generation = int(document["model"].get("generation", -1))
            document = await client.status(
                "default", after=generation, timeout=min(remaining, 10.0)
            )
        if verdict.state == "error":
            raise SystemExit(verdict.message)
        return time.time(), document


def place(
    home: Path, cache: Path, charm: str, units: int, machines: int | None, application: str
) -> None:
    """Deploy `units` units of `charm`: one machine each, or over `machines` new machines."""
    source = str(REPO / "examples" / "charms" / charm)
    if machines is None or machines >= units:
        rune(home, cache, "deploy", source, application, "-n", str(units))
        return
    rune(home, cache, "deploy", source, application, "-n", str(machines))
    first = max(int(m) for m in _machine_numbers(home, cache)) - machines + 1
    more = units - machines
    to = ",".join(str(first + i % machines) for i in range(more))  # one placement per unit
    rune(home, cache, "add-unit", application, "-n", str(more), "--to", to)


def _machine_numbers(home: Path, cache: Path) -> list[str]:
    document = yaml.safe_load(rune(home, cache, "machines", "--format", "yaml")) or {}
    return list(document.get("machines", {}))


def deploy(
    home: Path,
    cache: Path,
    charm: str,
    units: int,
    machines: int | None = None,
    application: str | None = None,
) -> Deployed:
    """Deploy on the running controller of `home` and follow it to settled; the hooks
    counted are every unit's in the model."""
    application = application or charm
    start = time.time()  # wall clock: the status lag compares it with log files' mtimes
    place(home, cache, charm, units, machines, application)
    settled, document = asyncio.run(follow(home, timeout=1800))
    last_hook_end = max(log.stat().st_mtime for log in unit_logs(home))
    app = document["applications"][application]
    used = {unit.get("machine") for unit in app.get("units", {}).values()}
    return Deployed(settled - start, hooks_run(home), settled - last_hook_end, len(used))


def measure(charm: str, units: int, cache: Path, machines: int | None = None) -> Deployed:
    """Bootstrap a fresh controller, deploy, and kill the controller whatever happened."""
    home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    rune(home, cache, "bootstrap")
    try:
        return deploy(home, cache, charm, units, machines)
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", help="comma-separated unit counts (default: see DEFAULT_UNITS)")
    parser.add_argument("--charm", default="hello,hello-bash")
    parser.add_argument("--machines", type=int, help="spread the units over this many machines")
    args = parser.parse_args()
    cache = packed_charms(args.charm.split(","))
    print(
        f"{'charm':<12} {'units':>5} {'machines':>8} {'deploy→active s':>16} {'hooks':>6} "
        f"{'hooks/s':>8} {'status lag s':>12}"
    )
    for charm in args.charm.split(","):
        counts = args.units or DEFAULT_UNITS.get(charm, "1,10,50")
        for n in (int(x) for x in counts.split(",")):
            run = measure(charm, n, cache, args.machines)
            print(
                f"{charm:<12} {n:>5} {run.machines:>8} {run.elapsed:>16.2f} "
                f"{sum(run.hooks.values()):>6} {run.rate:>8.1f} {run.status_lag:>12.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
