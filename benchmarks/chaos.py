"""Chaos at scale: 50 kills over a 100-unit deploy on a few machines, then the history check.

The harness of tests/chaos (tests/chaos/harness.py) at a larger size: a controller with a
managed mosquitto, the chaos charm deployed as `a` (PROVIDERS units) and `b` (the rest),
related, with config changes and scaling, while the controller, the broker, machine agents
and hooks are killed with `kill -9` and (as root) the home's tmpfs is filled, at seeded
random points. Prints the kills by kind, the hooks committed, the ordering and exactly-once
violations, how the final model differs from the one asked for, and how long the model
took to settle after the last kill.

    python benchmarks/chaos.py [--units 100] [--providers 2] [--machines 4] [--kills 50]
                               [--changes 50] [--seed N] [--kinds controller,agent,...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from _rune import REPO

sys.path.insert(0, str(REPO))
from tests._tmpfs import small_tmpfs
from tests.chaos import harness, history


@contextlib.contextmanager
def home_dir() -> Iterator[Path]:
    """A tmpfs home as root (the disk fault needs one), else a plain temporary dir."""
    if os.geteuid() == 0:
        with small_tmpfs("256m") as mount:
            yield mount / "home"
    else:
        root = Path(tempfile.mkdtemp(prefix="rc-bench-chaos-"))
        try:
            yield root / "home"
        finally:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--providers", type=int, default=2, help="units of `a`; `b` has the rest")
    parser.add_argument("--machines", type=int, default=4)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 32))
    parser.add_argument(
        "--kinds", default=",".join(harness.KINDS), help="comma-separated kinds of kill"
    )
    args = parser.parse_args()
    kinds = tuple(args.kinds.split(","))
    if set(kinds) - set(harness.KINDS):
        parser.error(f"--kinds: unknown {sorted(set(kinds) - set(harness.KINDS))}")
    if os.geteuid() != 0:  # the disk fault mounts a tmpfs
        kinds = tuple(k for k in kinds if k != "disk")
    plan = harness.Plan(
        providers=args.providers,
        requirers=args.units - args.providers,
        machines=args.machines,
        kills=args.kills,
        changes=args.changes,
        seed=args.seed,
        hook_pause="0.05",
        gap=(1.0, 5.0),
        kinds=kinds,
    )
    print(f"seed {args.seed}", flush=True)
    record_dir = Path(tempfile.mkdtemp(prefix="rc-chaos-rec-", dir="/tmp"))
    cache = Path(tempfile.mkdtemp(prefix="rc-bench-cache-"))
    try:
        record_dir.chmod(0o1777)
        with home_dir() as home:
            run_chaos(harness.Rune(home=home, cache=cache), plan, record_dir)
    finally:
        shutil.rmtree(record_dir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)


def run_chaos(rune: harness.Rune, plan: harness.Plan, record_dir: Path) -> None:
    """One run against `rune`'s home, its controller killed at the end whatever happens."""
    run = harness.Chaos(rune, plan, record_dir, log=lambda line: print(line, flush=True))
    try:
        run.deploy()
        run.shake()
        run.converge(timeout=3600)
        histories = run.histories()
        violations = history.check(histories)
        problems = run.model_errors(histories) + run.removed_errors()
        print(run.summary(histories, violations, problems), flush=True)
    finally:
        name = harness.controller_name(rune.home)
        if name is not None:
            rune("kill-controller", name, "--no-prompt", check=False)


if __name__ == "__main__":
    main()
