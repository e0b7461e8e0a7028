"""Change-to-hook latency: from a config change sent to the API until each unit's
`config-changed` hook has started.

Bootstraps the embedded default in a temporary home, deploys `hello-bash` with N units and
waits; then, K times, sends a config change through one API client (connected once, so the
figure is the controller's and the agents', not a TLS handshake's) and watches every
unit's log for the `running hook "config-changed"` line that the unit agent writes as the
hook starts (the log is read every millisecond, so that is the resolution), and waits for
the model to settle before the next change. The path measured: API transaction, reconciler
pass, snapshot over MQTT, the unit agent's resolver, and the hook's process start.

    python benchmarks/change_to_hook.py [--units 1,10] [--changes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from _rune import REPO, rune

from runecraft.client import Client

MARK = b'running hook "config-changed"'


async def latencies(home: Path, cache: Path, changes: int) -> list[float]:
    logs = sorted(home.glob("machines/*/*/units/*/unit.log"))
    config = yaml.safe_load((home / "client.yaml").read_text())
    found: list[float] = []
    async with Client(config["endpoint"], config["token"], ca_cert=config.get("ca_cert")) as client:
        for n in range(changes):
            found.extend(await _one_change(client, logs, f"change {n}"))
            rune(home, cache, "wait", "--timeout", "10m")
    return found


async def _one_change(client: Client, logs: list[Path], value: str) -> list[float]:
    """Seconds from sending one change until each unit's hook started."""
    offsets = {log: log.stat().st_size for log in logs}
    start = time.perf_counter()
    sending = asyncio.create_task(client.set_config("default", "hello-bash", {"message": value}))
    seen: dict[Path, float] = {}
    while len(seen) < len(logs):
        for log in logs:
            if log not in seen:
                with log.open("rb") as file:
                    file.seek(offsets[log])
                    if MARK in file.read():
                        seen[log] = time.perf_counter()
        await asyncio.sleep(0.001)
    await sending
    return [at - start for at in seen.values()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", default="1,10", help="comma-separated unit counts")
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    print(f"{'units':>5} {'changes':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for units in (int(n) for n in args.units.split(",")):
        home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
        rune(home, cache, "bootstrap")
        try:
            rune(
                home,
                cache,
                "deploy",
                str(REPO / "examples" / "charms" / "hello-bash"),
                "-n",
                str(units),
            )
            rune(home, cache, "wait", "--timeout", "10m")
            found = sorted(asyncio.run(latencies(home, cache, args.changes)))
        finally:
            rune(home, cache, "kill-controller", "runecraft", "--no-prompt")
        p90, p99 = (found[max(0, int(len(found) * q) - 1)] for q in (0.9, 0.99))
        print(
            f"{units:>5} {args.changes:>7} {statistics.median(found) * 1000:>8.1f} "
            f"{p90 * 1000:>8.1f} {p99 * 1000:>8.1f} {found[-1] * 1000:>8.1f}"
        )


if __name__ == "__main__":
    main()
