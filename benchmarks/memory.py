"""Memory: the controller, a machine agent, each unit it hosts, and an ops fork server.

Bootstraps the embedded default in a temporary home, deploys one `hello-bash` unit, then
puts `--units` more on the same machine (`add-unit --to 0,0,…`), and reads RSS and PSS from
`/proc` after each settles. Then deploys one `hello` (ops) unit and reads its fork server
(the process holding the charm's `ops`, alive while the unit runs hooks).

    python benchmarks/memory.py [--units 9]
"""

from __future__ import annotations

import argparse
import os
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
    """Pids of fork servers of units under `home` (they run in the unit's charm dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(home)) and any(arg.endswith(b"fork.sock") for arg in cmdline):
            found.append(int(proc.name))
    return found


def row(label: str, values: tuple[float, float]) -> str:
    return f"{label:<44} {values[0]:>8.1f} {values[1]:>8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=9, help="units added to machine 0")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="rc-bench-mem-"))
    rune(home, None, "bootstrap")
    try:
        controller = int((home / "controller" / "controller.pid").read_text())
        rune(home, None, "deploy", str(REPO / "examples" / "charms" / "hello-bash"))
        rune(home, None, "wait", "--timeout", "10m")
        (agent,) = agent_pids(home / "machines")
        one = memory(agent)
        print(f"{'process':<44} {'RSS MB':>8} {'PSS MB':>8}")
        print(row("controller (1 unit deployed)", memory(controller)))
        print(row("machine agent with 1 unit", one))
        to = ",".join(["0"] * args.units)  # as in Juju, one placement per unit
        rune(home, None, "add-unit", "hello-bash", "-n", str(args.units), "--to", to)
        rune(home, None, "wait", "--timeout", "10m")
        if agent_pids(home / "machines") != [agent]:
            raise SystemExit("add-unit --to 0 did not put the units on machine 0")
        more = memory(agent)
        print(row(f"machine agent with {args.units + 1} units", more))
        per_unit = ((more[0] - one[0]) / args.units, (more[1] - one[1]) / args.units)
        print(row("  each unit more", per_unit))
        rune(home, None, "deploy", str(REPO / "examples" / "charms" / "hello"))
        rune(home, None, "wait", "--timeout", "10m")
        for pid in fork_servers(home):
            print(row("ops fork server (hello, ops imported)", memory(pid)))
        print(row(f"controller ({args.units + 2} units)", memory(controller)))
    finally:
        rune(home, None, "kill-controller", "runecraft", "--no-prompt")


if __name__ == "__main__":
    main()
