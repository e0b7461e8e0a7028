"""Soak: MINUTES of config churn on a small model, sampling the controller's and one
machine agent's resident memory and open file descriptors from /proc every minute.

A controller (the embedded broker by default, as `rune bootstrap` makes; `--broker
mosquitto` for a managed one) runs the chaos charm as `a` (2 units) and
`b` (1 unit), related; every INTERVAL seconds `rune config` gives one of them a new token,
so every unit runs config-changed and the other side relation-changed. Prints a table over
time, then the growth from the first sample after WARMUP minutes to the last (flat is the
goal: R13 allows 5% RSS and no fd growth), and the history check of every hook committed.

    python benchmarks/soak.py [--minutes 30] [--interval 3] [--warmup 5] [--sample 60]
                              [--broker embedded|mosquitto]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _rune import REPO

sys.path.insert(0, str(REPO))
from runecraft.controller.providers import local
from tests.chaos import harness, history


def usage(pid: int | None) -> tuple[float, int]:
    """(RSS in MiB, open fds) of a live process; (0, 0) when it is gone."""
    if pid is None:
        return 0.0, 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0.0, 0
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss / 1024, fds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between changes")
    parser.add_argument("--warmup", type=float, default=5, help="minutes before the baseline")
    parser.add_argument("--sample", type=float, default=60, help="seconds between samples")
    parser.add_argument("--broker", choices=("embedded", "mosquitto"), default="embedded")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="rc-soak-", dir="/tmp"))
    record_dir = Path(tempfile.mkdtemp(prefix="rc-soak-rec-", dir="/tmp"))
    record_dir.chmod(0o1777)  # the machines' own users write there
    rune = harness.Rune(home=root / "home", cache=root / "cache")
    plan = harness.Plan(providers=2, requirers=1, machines=2, hook_pause="0")
    run = harness.Chaos(rune, plan, record_dir, log=lambda line: None)
    try:
        run.deploy(broker=args.broker)
        run.converge()
        soak(run, args)
    finally:
        name = harness.controller_name(rune.home)
        if name is not None:
            rune("kill-controller", name, "--no-prompt", check=False)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(record_dir, ignore_errors=True)


def soak(run: harness.Chaos, args: argparse.Namespace) -> None:
    controller = harness.read_pid(run.controller_dir / "controller.pid")
    agent = min(local.agent_pids(run.rune.home / "machines"))
    print(f"controller pid {controller}, machine agent pid {agent}; change every {args.interval} s")
    print(
        f"{'minute':>6} {'changes':>7} {'ctrl MiB':>9} {'ctrl fds':>8} "
        f"{'agent MiB':>9} {'agent fds':>9}"
    )
    samples: list[tuple[float, float, int, float, int]] = []
    start = time.monotonic()
    next_sample = start
    apps = itertools.cycle(["a", "b"])
    for changes in itertools.count():
        now = time.monotonic()
        if now >= next_sample:
            minute = (now - start) / 60
            (crss, cfds), (arss, afds) = usage(controller), usage(agent)
            samples.append((minute, crss, cfds, arss, afds))
            print(
                f"{minute:>6.1f} {changes:>7} {crss:>9.1f} {cfds:>8} {arss:>9.1f} {afds:>9}",
                flush=True,
            )
            next_sample += args.sample
        if now - start >= args.minutes * 60:
            break
        app = next(apps)
        run.counter += 1
        token = f"{app}{run.counter}"
        run.rune("config", app, f"token={token}")
        run.tokens[app] = token
        time.sleep(args.interval)
    report(run, samples, args.warmup)


def report(
    run: harness.Chaos, samples: list[tuple[float, float, int, float, int]], warmup: float
) -> None:
    after = [s for s in samples if s[0] >= warmup] or samples[-1:]
    first, last = after[0], samples[-1]
    print(f"growth from minute {first[0]:.1f} to {last[0]:.1f}:")
    for name, rss, fds in (("controller", 1, 2), ("agent", 3, 4)):
        base = first[rss] or 1.0
        print(
            f"  {name}: RSS {first[rss]:.1f} -> {last[rss]:.1f} MiB "
            f"({100 * (last[rss] - first[rss]) / base:+.1f}%), fds {first[fds]} -> {last[fds]} "
            f"({last[fds] - first[fds]:+d})"
        )
    run.converge()
    histories = run.histories()
    violations = history.check(histories)
    problems = run.model_errors(histories)
    print(
        f"hooks committed: {sum(len(h) for h in histories.values())}; "
        f"violations: {len(violations)}; model differences: {len(problems)}"
    )
    for line in [*map(str, violations), *problems]:
        print(f"  {line}")


if __name__ == "__main__":
    main()
