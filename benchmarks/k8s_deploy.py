"""Deploy to active on a Kubernetes model, beside the local substrate for the same charm and
unit count.

The cluster is the test suite's (an API emulator with a test kubelet and StatefulSet
controller, started with `python -m tests.k8s_cluster`): each unit's pod runs its agent as a
local process, so the figure is Runecraft's own cost (API calls, watches, the pods' agents
and hooks), not a real cluster's scheduling and image pulls.

    python benchmarks/k8s_deploy.py [--units 3,30] [--charm hello-bash]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _rune import REPO, packed_charms, rune


def count_hooks(root: Path) -> int:
    return sum(
        log.read_text(errors="replace").count("running hook")
        for log in root.glob("**/units/*/unit.log")
    )


def start_cluster(workdir: Path) -> tuple[subprocess.Popen[str], Path]:
    kubeconfig = workdir / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.k8s_cluster",
            "--kubeconfig",
            str(kubeconfig),
            "--workdir",
            str(workdir / "cluster"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())  # one line once it serves
    assert ready["ready"], ready
    return process, kubeconfig


def measure(charm: str, units: int, cache: Path, cloud: str) -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(prefix="rc-bench-"))
    workdir = Path(tempfile.mkdtemp(prefix="rc-bench-k8s-"))
    cluster = None
    rune(home, cache, "bootstrap")
    try:
        if cloud == "k8s":
            cluster, kubeconfig = start_cluster(workdir)
            rune(home, cache, "add-k8s", "bench", "--kubeconfig", str(kubeconfig))
            rune(home, cache, "add-model", "pods", "--cloud", "bench")
        start = time.perf_counter()
        rune(home, cache, "deploy", str(REPO / "examples" / "charms" / charm), "-n", str(units))
        rune(home, cache, "wait", "--timeout", "30m")
        elapsed = time.perf_counter() - start
        return elapsed, count_hooks(workdir if cloud == "k8s" else home / "machines")
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")
        if cluster is not None:
            cluster.send_signal(signal.SIGTERM)
            cluster.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", default="3,30")
    parser.add_argument("--charm", default="hello-bash")
    args = parser.parse_args()
    cache = packed_charms(args.charm.split(","))
    print(f"{'charm':<12} {'units':>5} {'k8s s':>8} {'hooks':>6} {'local s':>8} {'k8s/local':>9}")
    for charm in args.charm.split(","):
        for n in (int(x) for x in args.units.split(",")):
            k8s, hooks = measure(charm, n, cache, "k8s")
            local, _ = measure(charm, n, cache, "local")
            print(
                f"{charm:<12} {n:>5} {k8s:>8.2f} {hooks:>6} {local:>8.2f} {k8s / local:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
