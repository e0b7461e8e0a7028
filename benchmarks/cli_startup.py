"""What a `rune` command costs before and around its request: the CPU of `rune --version` and
`rune version` (what `juju version` costs a jubilant test) next to `python3 -c pass`, and the
wall time of `rune status --format json` on a model of N units (jubilant polls it).

The model is real: a controller bootstrapped in a temporary home (local substrate, SQLite,
embedded broker), the `hello-bash` example charm deployed with N units onto one machine
(one agent, so the machine stays quiet) and waited on until settled.

    python benchmarks/cli_startup.py [--runs 20] [--units 100]

Each figure is the median of the runs; CPU is user + system time of the child process.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _rune import REPO, RUNE, rune

PYTHON_PASS = [sys.executable, "-c", "pass"]


def run_once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of `argv`, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def medians(argv: Sequence[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median CPU and median wall seconds over `runs` runs (after one warm-up run)."""
    run_once(argv, env)
    samples = [run_once(argv, env) for _ in range(runs)]
    return (
        statistics.median(cpu for cpu, _ in samples),
        statistics.median(wall for _, wall in samples),
    )


def settle_model(home: Path, units: int, cache: Path) -> None:
    """Deploy `units` hello-bash units on one machine of `home`'s controller; wait."""
    rune(home, cache, "deploy", str(REPO / "examples" / "charms" / "hello-bash"))
    more = units - 1
    rune(home, cache, "add-unit", "hello-bash", "-n", str(more), "--to", ",".join(["0"] * more))
    rune(home, cache, "wait", "--timeout", "30m")


def status_cost(units: int, runs: int, cache: Path) -> tuple[float, float]:
    """Median CPU and wall seconds of `rune status --format json` on a model of `units`
    settled units, on a fresh controller (killed after)."""
    home = Path(tempfile.mkdtemp(prefix="rc-bench-cli-"))
    rune(home, cache, "bootstrap")
    try:
        settle_model(home, units, cache)
        env = {**os.environ, "RUNECRAFT_HOME": str(home), "RUNECRAFT_CACHE_DIR": str(cache)}
        return medians([*RUNE, "status", "--format", "json"], env, runs)
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")


def row(what: str, ms: float, base_ms: float) -> str:
    return f"| {what} | {ms:.1f} | {ms / base_ms:.1f}x |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--units", type=int, default=100)
    args = parser.parse_args()
    env = dict(os.environ)
    base_cpu, base_wall = medians(PYTHON_PASS, env, args.runs)
    version_cpu, _ = medians([*RUNE, "--version"], env, args.runs)
    juju_cpu, _ = medians([*RUNE, "version"], env, args.runs)
    print(f"| command (N = {args.runs}) | CPU ms | x `python3 -c pass` |")
    print("| --- | ---: | ---: |")
    print(row("`python3 -c pass`", base_cpu * 1000, base_cpu * 1000))
    print(row("`rune --version`", version_cpu * 1000, base_cpu * 1000))
    print(row("`rune version`", juju_cpu * 1000, base_cpu * 1000), flush=True)

    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    status_cpu, status_wall = status_cost(args.units, args.runs, cache)
    print()
    print(f"| command (N = {args.runs}, {args.units} units) | wall ms | x `python3 -c pass` |")
    print("| --- | ---: | ---: |")
    print(row("`python3 -c pass`", base_wall * 1000, base_wall * 1000))
    print(row("`rune status --format json`", status_wall * 1000, base_wall * 1000))
    print(f"\n`rune status --format json`: {status_cpu * 1000:.1f} ms of CPU in the CLI process")


if __name__ == "__main__":
    main()
