"""Time from `rune deploy` of N units to all active, and hooks run per second.

Each run bootstraps a fresh controller (embedded default: local substrate, SQLite, embedded
broker) in a temporary home, deploys an example charm with N units, and times
`rune deploy` + `rune wait`. Hooks are counted from the unit logs.

    python benchmarks/deploy_to_active.py [--units 1,10,50] [--charm hello,hello-bash]

`hello` has a peer relation, so its hook count grows as N*(N-1): at N = 50 that is about
5,000 hooks and several minutes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _rune import REPO, packed_charms, rune

DEFAULT_UNITS = {"hello": "1,10", "hello-bash": "1,10,50"}
"""`hello`'s peer relation makes N = 50 about 5,000 hooks; ask for it with --units."""


def count_hooks(home: Path) -> int:
    return sum(
        log.read_text(errors="replace").count("running hook")
        for log in (home / "machines").glob("*/*/units/*/unit.log")
    )


def measure(charm: str, units: int, cache: Path) -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    rune(home, cache, "bootstrap")
    try:
        start = time.perf_counter()
        rune(home, cache, "deploy", str(REPO / "examples" / "charms" / charm), "-n", str(units))
        rune(home, cache, "wait", "--timeout", "30m")
        elapsed = time.perf_counter() - start
        return elapsed, count_hooks(home)
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", help="comma-separated unit counts (default: see DEFAULT_UNITS)")
    parser.add_argument("--charm", default="hello,hello-bash")
    args = parser.parse_args()
    cache = packed_charms(args.charm.split(","))
    print(f"{'charm':<12} {'units':>5} {'deploy→active s':>16} {'hooks':>6} {'hooks/s':>8}")
    for charm in args.charm.split(","):
        counts = args.units or DEFAULT_UNITS.get(charm, "1,10,50")
        for n in (int(x) for x in counts.split(",")):
            elapsed, hooks = measure(charm, n, cache)
            print(
                f"{charm:<12} {n:>5} {elapsed:>16.2f} {hooks:>6} {hooks / elapsed:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
