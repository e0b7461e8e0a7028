"""The whole run: every benchmark beside its baseline, taken in the same run, as one table
(printed, and kept in README.md between the run markers). `benchmarks/run --help` tells how.

Benchmarks are not tests: nothing here asserts a time. A benchmark that fails is a row
saying so, the others still run, and the run exits 1 at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import change_to_hook
import charm_test
import cli_startup
import deploy_to_active
import hook_tools
import memory
import status_10k
from _report import Conditions, Row, render, replace_section
from _rune import packed_charms, rune

README = Path(__file__).resolve().parent / "README.md"


@dataclass(frozen=True)
class Run:
    """What every benchmark is given: the size to run at and the packed charms."""

    quick: bool
    cache: Path

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def say(message: str) -> None:
    """One line of progress on stderr, so a CI log is never silent for long."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@contextmanager
def controller(run: Run) -> Iterator[Path]:
    """A fresh controller in a private home, killed at the end whatever happened."""
    home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    rune(home, run.cache, "bootstrap")
    try:
        yield home
    finally:
        rune(home, run.cache, "kill-controller", "runecraft", "--no-prompt")


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@functools.cache
def spawned_rate(cache: Path, hooks: int) -> float:
    """Ops `config-changed` hooks per second, each a process of its own (the baseline of
    the ops benchmarks), measured once per run."""
    ran = asyncio.run(hook_tools.spawned_hooks("config-changed", hooks, cache))
    return len(ran) / sum(ran)


@functools.cache
def python_pass(runs: int) -> tuple[float, float]:
    """Median CPU and wall seconds of `python3 -c pass`, measured once per run."""
    return cli_startup.medians(cli_startup.PYTHON_PASS, dict(os.environ), runs)


def _deploy_row(run: Run, name: str, units: int, machines: int | None) -> Row:
    with controller(run) as home:
        base = deploy_to_active.deploy(home, run.cache, "hello-bash", 1, application="baseline")
        fleet = deploy_to_active.deploy(home, run.cache, "hello-bash", units, machines)
    hooks = sum(fleet.hooks.values()) - sum(base.hooks.values())
    lag = fleet.status_lag
    return Row(
        name,
        f"{units} hello-bash units on {fleet.machines} machines: {fleet.elapsed:.1f} s deploy "
        f"→ active ({hooks} hooks); status settled {lag:.2f} s after the last hook ended",
        f"1 unit, 1 machine: {base.elapsed:.1f} s",
        f"{fleet.elapsed / base.elapsed:.1f}x",
        "≤ 60 s at 1,000 units on 10 machines; lag ≤ 1 s"
        if machines
        else "≤ 60 s at 200 units, a machine each",
        fleet.elapsed <= 60 and (not machines or lag <= 1),
    )


def fleet(run: Run) -> Row:
    return _deploy_row(run, "fleet", run.size(1000, 100), machines=10)


def machines(run: Run) -> Row:
    return _deploy_row(run, "machines", run.size(200, 30), machines=None)


def ops_peers(run: Run) -> Row:
    units = run.size(50, 10)
    found = deploy_to_active.measure("hello", units, run.cache)
    expected = deploy_to_active.expected_peer_hooks(units)
    total = sum(found.hooks.values())
    if found.hooks == expected:
        count = "the exact count expected (leadership stable)"
    else:
        extra, missing = found.hooks - expected, expected - found.hooks
        count = f"not the {sum(expected.values())} expected: extra {dict(extra)}, "
        count += f"missing {dict(missing)}"
    base = spawned_rate(run.cache, run.size(20, 5))
    return Row(
        "ops peers",
        f"hello, {units} units: {found.elapsed:.1f} s deploy → active, {total} hooks = "
        f"{found.rate:.1f} hooks/s; {count}",
        f"ops hook as a process of its own, serial: {base:.1f} hooks/s",
        f"{found.rate / base:.1f}x",
        "≥ 60 hooks/s at 50 units; exact count",
        found.rate >= 60 and found.hooks == expected,
    )


def config_hooks(run: Run) -> Row:
    changes = run.size(25, 4)
    with controller(run) as home:
        deploy_to_active.deploy(home, run.cache, "hello", 4)
        elapsed = change_to_hook.config_loop(home, "hello", "greeting", changes)
    rate = 4 * changes / elapsed
    base = spawned_rate(run.cache, run.size(20, 5))
    return Row(
        "config-changed",
        f"hello, 4 units, {changes} changes in a closed loop through the API: {rate:.1f} hooks/s",
        f"ops hook as a process of its own, serial: {base:.1f} hooks/s",
        f"{rate / base:.1f}x",
        "≥ 10x the baseline",
        rate / base >= 10,
    )


def change_hook(run: Run) -> Row:
    units, changes = run.size(10, 2), run.size(20, 6)
    found = change_to_hook.measure(units, changes, run.cache)
    p50, p99 = percentile(found, 0.5) * 1e3, percentile(found, 0.99) * 1e3
    _, base = python_pass(run.size(20, 8))
    return Row(
        "change → hook",
        f"hello-bash, {units} units x {changes} changes: p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        f"`python3 -c pass` wall p50 {base * 1e3:.1f} ms",
        f"{p50 / (base * 1e3):.1f}x",
        "p50 ≤ 20 ms, p99 ≤ 100 ms",
        p50 <= 20 and p99 <= 100,
    )


def status(run: Run) -> Row:
    units, runs = 10_000, run.size(5, 3)
    found = asyncio.run(status_10k.measure(units, runs))
    ms, raw = found.median * 1e3, found.raw_median * 1e3
    return Row(
        "status 10k",
        f"{units} units in process, after a unit report: median {ms:.0f} ms of {runs} "
        f"({found.statements} SQL statements, {found.size / 1e6:.1f} MB JSON); asked again: "
        f"{found.again_median * 1e3:.1f} ms",
        f"the rows by plain sqlite3 + json.dumps: {raw:.0f} ms",
        f"{ms / raw:.1f}x",
        "≤ 150 ms and ≤ 2x raw",
        ms <= 150 and ms <= 2 * raw,
    )


def agent_memory(run: Run) -> Row:
    units = run.size(9, 1)
    found = memory.measure(units, run.cache, ops=False)
    rss, _ = found["machine agent with 1 unit"]
    more, _ = found[f"machine agent with {units + 1} units"]
    bare, _ = memory.bare_python()
    return Row(
        "agent memory",
        f"machine agent RSS with 1 unit: {rss:.1f} MB ({units + 1} units: {more:.1f} MB)",
        f"bare `python3 -c` sleeping: {bare:.1f} MB",
        f"{rss / bare:.1f}x",
        "≤ 25 MB",
        rss <= 25,
    )


def cli_status(run: Run) -> Row:
    units, runs = run.size(100, 10), run.size(20, 5)
    cpu, wall = cli_startup.status_cost(units, runs, run.cache)
    base_cpu, base_wall = python_pass(run.size(20, 8))
    return Row(
        "cli status",
        f"`rune status --format json`, {units} units: wall {wall * 1e3:.0f} ms, "
        f"CPU {cpu * 1e3:.0f} ms (medians of {runs})",
        f"`python3 -c pass`: wall {base_wall * 1e3:.0f} ms, CPU {base_cpu * 1e3:.0f} ms",
        f"{wall / base_wall:.1f}x wall, {cpu / base_cpu:.1f}x CPU",
    )


def author_test(run: Run) -> Row:
    runs = run.size(3, 1)
    found = min(charm_test.measure(run.cache, runs), key=lambda timed: timed.session)
    with controller(run) as home:
        base = deploy_to_active.deploy(home, run.cache, "hello", 1)
    return Row(
        "charm test",
        f"examples/tests/test_hello.py under the pytest plugin, best of {runs}: pytest "
        f"{found.session:.1f} s (bootstrap and kill included; the test's deploy → active → "
        f"action {found.test:.1f} s)",
        f"`rune deploy` hello, 1 unit → active: {base.elapsed:.1f} s",
        f"{found.session / base.elapsed:.1f}x",
        "≤ 15 s on a quiet machine",
        found.session <= 15,
    )


BENCHES: dict[str, Callable[[Run], Row]] = {
    "fleet": fleet,
    "machines": machines,
    "ops-peers": ops_peers,
    "config-changed": config_hooks,
    "change-to-hook": change_hook,
    "status": status,
    "memory": agent_memory,
    "cli-status": cli_status,
    "charm-test": author_test,
}


class BenchTimeoutError(Exception):
    """A benchmark ran past its limit: stuck, not slow (the limit is far above the goals)."""


def _timed_out(signum: int, frame: object) -> None:
    del signum, frame
    raise BenchTimeoutError("ran past its time limit")


def one(name: str, run: Run) -> Row:
    """Run bench `name`; a failure (or a hang past the limit) becomes its row."""
    say(f"{name}: start")
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _timed_out)
    signal.alarm(run.size(1800, 300))
    try:
        row = BENCHES[name](run)
    except (Exception, SystemExit) as exc:  # rune() exits with the command's stderr
        traceback.print_exc()
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        row = Row(name, f"failed: {reason}", failed=True)
    finally:
        signal.alarm(0)
    say(f"{name}: {'FAILED' if row.failed else 'done'} in {time.perf_counter() - start:.1f} s")
    return row


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="Run the benchmarks, each beside its baseline, and print one table.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--only", help=f"comma-separated, of: {', '.join(BENCHES)}")
    parser.add_argument("--no-write", action="store_true", help="leave README.md alone")
    args = parser.parse_args(argv)
    args.names = args.only.split(",") if args.only else list(BENCHES)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    load_start, start = os.getloadavg()[0], time.perf_counter()
    date = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    say(f"packing the example charms (not timed); load average {load_start:.2f}")
    run = Run(quick=args.quick, cache=packed_charms(["hello", "hello-bash"]))
    try:
        rows = [one(name, run) for name in args.names]
    finally:
        shutil.rmtree(run.cache, ignore_errors=True)
    conditions = Conditions(
        date=date,
        cores=os.cpu_count() or 0,
        load_start=load_start,
        load_end=os.getloadavg()[0],
        quick=args.quick,
        wall=time.perf_counter() - start,
        only=tuple(args.names) if args.only else (),
    )
    table = render(rows, conditions)
    print(table)
    if not args.no_write:
        README.write_text(replace_section(README.read_text(), table))
        say(f"wrote the table into {README.name}")
    return 1 if any(row.failed for row in rows) else 0
