"""Change-to-hook latency: from a config change sent to the API until each unit's
`config-changed` hook has started; and config-changed hooks per second in a closed loop.

Bootstraps the embedded default in a temporary home, deploys `hello-bash` with N units and
waits; then, K times, sends a config change through one API client (connected once, so the
figure is the controller's and the agents', not a TLS handshake's) and watches every
unit's log for the `running hook "config-changed"` line that the unit agent writes as the
hook starts (the log is read every millisecond, so that is the resolution), and waits for
the model to settle before the next change. The path measured: API transaction, reconciler
pass, snapshot over MQTT, the unit agent's resolver, and the hook's process start.

`config_loop` is the closed loop: the next change goes out as soon as every unit has run
`config-changed` for the last one (`ran hook` lines), without waiting for the status.

    python benchmarks/change_to_hook.py [--units 1,10] [--changes 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from _rune import REPO, rune

from runecraft.client import Client

STARTED = b'running hook "config-changed"'
RAN = b'ran hook "config-changed"'


def _client(home: Path) -> Client:
    config = yaml.safe_load((home / "client.yaml").read_text())
    return Client(config["endpoint"], config["token"], ca_cert=config.get("ca_cert"))


def _watch(logs: list[Path], mark: bytes) -> Callable[[], dict[Path, float]]:
    """Start watching `logs` from their current end; the returned call blocks until every
    log has a new line with `mark`, and gives when each was seen."""
    offsets = {log: log.stat().st_size for log in logs}

    def seen() -> dict[Path, float]:
        found: dict[Path, float] = {}
        while len(found) < len(logs):
            for log in logs:
                if log not in found:
                    with log.open("rb") as file:
                        file.seek(offsets[log])
                        if mark in file.read():
                            found[log] = time.perf_counter()
            time.sleep(0.001)
        return found

    return seen


def latencies(home: Path, cache: Path, changes: int) -> list[float]:
    logs = sorted(home.glob("machines/*/*/units/*/unit.log"))

    async def loop() -> list[float]:
        found: list[float] = []
        async with _client(home) as client:
            for n in range(changes):
                wait_for = _watch(logs, STARTED)
                start = time.perf_counter()
                sending = asyncio.create_task(
                    client.set_config("default", "hello-bash", {"message": f"change {n}"})
                )
                seen = await asyncio.to_thread(wait_for)
                await sending
                found.extend(at - start for at in seen.values())
                await asyncio.to_thread(rune, home, cache, "wait", "--timeout", "10m")
        return found

    return asyncio.run(loop())


def config_loop(home: Path, application: str, key: str, changes: int) -> float:
    """Seconds for `changes` changes of `key`, each sent (through one API client) once every
    unit's log shows `config-changed` ran for the one before."""
    logs = sorted(home.glob("machines/*/*/units/*/unit.log"))

    async def loop() -> float:
        async with _client(home) as client:
            start = time.perf_counter()
            for n in range(changes):
                wait_for = _watch(logs, RAN)
                await client.set_config("default", application, {key: f"change {n}"})
                await asyncio.to_thread(wait_for)
            return time.perf_counter() - start

    return asyncio.run(loop())


def measure(units: int, changes: int, cache: Path) -> list[float]:
    """Change-to-hook-start latencies (seconds) on a fresh controller with `units` units."""
    home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    rune(home, cache, "bootstrap")
    try:
        source = str(REPO / "examples" / "charms" / "hello-bash")
        rune(home, cache, "deploy", source, "-n", str(units))
        rune(home, cache, "wait", "--timeout", "10m")
        return sorted(latencies(home, cache, changes))
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", default="1,10", help="comma-separated unit counts")
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    print(f"{'units':>5} {'changes':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for units in (int(n) for n in args.units.split(",")):
        found = measure(units, args.changes, cache)
        p90, p99 = (found[max(0, int(len(found) * q) - 1)] for q in (0.9, 0.99))
        print(
            f"{units:>5} {args.changes:>7} {statistics.median(found) * 1000:>8.1f} "
            f"{p90 * 1000:>8.1f} {p99 * 1000:>8.1f} {found[-1] * 1000:>8.1f}"
        )


if __name__ == "__main__":
    main()
