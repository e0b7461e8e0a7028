"""Memory: the controller, a machine agent, each unit it hosts, and an ops fork server.

Bootstraps the embedded default in a temporary home, deploys one `hello-bash` unit, then
puts `--units` more on the same machine (`add-unit --to 0,0,…`), and reads RSS and PSS from
`/proc` after each settles. Then deploys one `hello` (ops) unit and reads its fork server
(the process holding the charm's `ops`, alive while the unit runs hooks). The baseline is
the same interpreter started bare (`python3 -c` that sleeps).

    python benchmarks/memory.py [--units 9]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _rune import REPO, rune

from runecraft.controller.providers.local import agent_pids


def memory(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB (PSS shares pages between the processes that map them)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return fields["Rss"] / 1024, fields["Pss"] / 1024


def fork_servers(home: Path) -> list[int]:
    """Pids of fork servers of units under `home` (they run in the unit's charm dir, under
    the machines dir, which as root is a symlink to a directory outside `home`)."""
    roots = (str(home), str((home / "machines").resolve()))
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(roots) and any(arg.endswith(b"fork.sock") for arg in cmdline):
            found.append(int(proc.name))
    return found


def row(label: str, values: tuple[float, float]) -> str:
    return f"{label:<44} {values[0]:>8.1f} {values[1]:>8.1f}"


def bare_python() -> tuple[float, float]:
    """The baseline: RSS and PSS of this interpreter doing nothing (`python3 -c` sleeping)."""
    with subprocess.Popen(
        [sys.executable, "-c", "import sys, time; print(flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE,
    ) as child:
        try:
            assert child.stdout is not None
            child.stdout.readline()  # started: its imports are done
            return memory(child.pid)
        finally:
            child.kill()


def measure(
    units: int, cache: Path | None = None, ops: bool = True
) -> dict[str, tuple[float, float]]:
    """RSS and PSS (MB) of the processes, by label, on a fresh controller (killed after)."""
    found: dict[str, tuple[float, float]] = {}
    home = Path(tempfile.mkdtemp(prefix="rc-bench-mem-"))
    rune(home, cache, "bootstrap")
    try:
        controller = int((home / "controller" / "controller.pid").read_text())
        rune(home, cache, "deploy", str(REPO / "examples" / "charms" / "hello-bash"))
        rune(home, cache, "wait", "--timeout", "10m")
        (agent,) = agent_pids(home / "machines")
        one = found["machine agent with 1 unit"] = memory(agent)
        found["controller (1 unit deployed)"] = memory(controller)
        to = ",".join(["0"] * units)  # as in Juju, one placement per unit
        rune(home, cache, "add-unit", "hello-bash", "-n", str(units), "--to", to)
        rune(home, cache, "wait", "--timeout", "10m")
        if agent_pids(home / "machines") != [agent]:
            raise SystemExit("add-unit --to 0 did not put the units on machine 0")
        more = found[f"machine agent with {units + 1} units"] = memory(agent)
        found["  each unit more"] = ((more[0] - one[0]) / units, (more[1] - one[1]) / units)
        if ops:
            rune(home, cache, "deploy", str(REPO / "examples" / "charms" / "hello"))
            rune(home, cache, "wait", "--timeout", "10m")
            for pid in fork_servers(home):
                found["ops fork server (hello, ops imported)"] = memory(pid)
            found[f"controller ({units + 2} units)"] = memory(controller)
    finally:
        rune(home, cache, "kill-controller", "runecraft", "--no-prompt")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=9, help="units added to machine 0")
    args = parser.parse_args()
    found = measure(args.units)
    print(f"{'process':<44} {'RSS MB':>8} {'PSS MB':>8}")
    print(row("bare python (python3 -c, sleeping)", bare_python()))
    for label, values in found.items():
        print(row(label, values))


if __name__ == "__main__":
    main()
