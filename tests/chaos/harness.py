"""The chaos harness: a real controller (managed mosquitto, local machines) converging on a
deploy of the chaos charm while its parts are killed at seeded random points; then the
committed history is read back and checked (history.py) along with the final model.

Shared by tests/chaos (small, bounded) and benchmarks/chaos.py (large). Everything it
starts is found by the pids the product records (the controller's and the broker's pid
files, the local provider's agent pid files) or that the chaos charm writes (its hooks'),
and it kills only those.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runecraft.controller.providers import local
from tests import _tmpfs
from tests import _waiting as waiting
from tests._waiting import alive
from tests.chaos import history
from tests.integration.conftest import Rune

__all__ = [
    "CHARM",
    "KINDS",
    "Chaos",
    "Finding",
    "Kill",
    "Plan",
    "Rune",
    "controller_name",
    "read_pid",
]

REPO = Path(__file__).resolve().parents[2]
CHARM = REPO / "tests" / "charms" / "chaos"
KINDS = ("controller", "broker", "agent", "hook", "disk")
RECOVERY = 20.0
"""Seconds a killed part has to come back by itself before that is a finding."""
MISSED = "none"
"""The target of a kill that found nothing of its kind to kill."""


@dataclass
class Kill:
    kind: str
    at: float
    """Seconds since the run started."""
    target: str
    outcome: str = "recovered"

    @property
    def missed(self) -> bool:
        """Nothing of its kind was running to be killed (the kind is tried again later)."""
        return self.target == MISSED


@dataclass(frozen=True)
class Finding:
    """A fault the run found: a killed part that did not come back as it should."""

    kind: str
    what: str

    def __str__(self) -> str:
        return self.what


@dataclass
class Plan:
    """The model asked for, and how hard to shake it."""

    providers: int = 2
    requirers: int = 2
    machines: int = 2
    kills: int = 6
    changes: int = 6
    """Model changes (config, add-unit, remove-unit) made while converging."""
    seed: int = 0
    hook_pause: str = "0.2"
    gap: tuple[float, float] = (0.5, 3.0)
    """Seconds between two steps, drawn uniformly."""
    disk_hold: float = 4.0
    kinds: tuple[str, ...] = KINDS
    retries: int = 3
    """How often a kill that found nothing to kill is tried again, at a later step."""
    retry_until: float = float("inf")
    """Seconds into the run after which a missed kill is not tried again (a bounded run)."""


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Chaos:
    """One run: bootstrap, deploy, shake, converge, read back, check."""

    rune: Rune
    plan: Plan
    record_dir: Path
    log: Callable[[str], None] = print
    kills: list[Kill] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    last_kill: float = 0.0
    converged_after: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.plan.seed)
        self.counter = 0

    @property
    def controller_dir(self) -> Path:
        return self.rune.home / "controller"

    def now(self) -> float:
        return round(time.monotonic() - self.started, 1)

    # --- the model ------------------------------------------------------------------

    def deploy(self, broker: str = "mosquitto") -> None:
        plan = self.plan
        self.rune("bootstrap", "--broker", broker)
        self.rune("model-config", "update-status-hook-interval=1h")
        # The first `machines` units each get a new machine; the rest share them in turn.
        places = [
            "new" if i < plan.machines else str(i % plan.machines)
            for i in range(plan.providers + plan.requirers)
        ]
        for app, wanted in (("a", places[: plan.providers]), ("b", places[plan.providers :])):
            new = [p for p in wanted if p == "new"]
            old = [p for p in wanted if p != "new"]
            first, rest = (new, old) if new else (old, [])
            deploy = ["deploy", str(CHARM), app, "-n", str(len(first)), "--to", ",".join(first)]
            self.rune(*deploy, *self._config(app))
            if rest:  # on machines that exist only once the deploy above made them
                self.rune("add-unit", app, "-n", str(len(rest)), "--to", ",".join(rest))
        self.rune("relate", "a:source", "b:sink")

    def _config(self, app: str) -> list[str]:
        self.counter += 1
        self.tokens[app] = f"{app}{self.counter}"
        return [
            "--config",
            f"token={self.tokens[app]}",
            "--config",
            f"record-dir={self.record_dir}",
            "--config",
            f"hook-pause={self.plan.hook_pause}",
        ]

    def change(self) -> None:
        """One model change: mostly config, sometimes a unit more or less."""
        roll = self.rng.random()
        units = self.units()
        if roll < 0.15:
            self.rune("add-unit", "b", "--to", str(self.rng.randrange(self.plan.machines)))
            self.log(f"[{self.now()}] add-unit b")
        elif roll < 0.25 and (removable := [u for u in units["b"][1:] if u not in self.removed]):
            unit = self.rng.choice(removable)  # not one removed already: it may still show, dying
            self.rune("remove-unit", unit)
            self.removed.append(unit)
            self.log(f"[{self.now()}] remove-unit {unit}")
        else:
            app = self.rng.choice(["a", "b"])
            self.counter += 1
            token = f"{app}{self.counter}"
            result = self.rune("config", app, f"token={token}", check=False)
            if result.returncode == 0:
                self.tokens[app] = token
                self.log(f"[{self.now()}] config {app} token={token}")
            else:
                self.log(f"[{self.now()}] config {app} refused: {result.stderr.strip()[:200]}")

    def units(self) -> dict[str, list[str]]:
        status = json.loads(self.rune("status", "--format", "json").stdout)
        return {
            app: sorted(status["applications"].get(app, {}).get("units", {}), key=_unit_key)
            for app in ("a", "b")
        }

    # --- kills ----------------------------------------------------------------------

    def kill(self, kind: str) -> None:
        at = self.now()
        kill = getattr(self, f"_kill_{kind}")
        target, outcome = kill()
        self.kills.append(Kill(kind, at, target, outcome))
        self.last_kill = time.monotonic()
        self.log(f"[{at}] kill {kind} {target}: {outcome}")

    def _kill_controller(self) -> tuple[str, str]:
        pid = read_pid(self.controller_dir / "controller.pid")
        if pid is None or not alive(pid):
            return MISSED, "no controller running"
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid)
        self.rune("start-controller")
        return f"pid {pid}", "restarted by start-controller"

    def _kill_broker(self) -> tuple[str, str]:
        path = self.controller_dir / "mosquitto" / "mosquitto.pid"
        pid = read_pid(path)
        if pid is None or not alive(pid):
            return MISSED, "no broker running"
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid)
        if self._eventually(lambda: (new := read_pid(path)) not in (None, pid) and alive(new)):
            return f"pid {pid}", "restarted by the controller"
        return f"pid {pid}", self._finding(
            "broker", f"broker pid {pid} killed: not restarted within {RECOVERY:.0f} s"
        )

    def _kill_agent(self) -> tuple[str, str]:
        machines = self.rune.home / "machines"
        if not self._eventually(lambda: bool(local.agent_pids(machines))):
            return MISSED, "no machine agent running"
        pids = local.agent_pids(machines)
        pid = self.rng.choice(pids)
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(pid)
        if self._eventually(lambda: len(local.agent_pids(machines)) >= len(pids)):
            return f"pid {pid}", "restarted by the controller"
        return f"pid {pid}", self._finding("agent", f"machine agent pid {pid} not restarted")

    def _kill_hook(self) -> tuple[str, str]:
        """A hook that is running now, found by the pid it wrote (checked against /proc)."""
        self.change()  # something to run

        def running() -> list[tuple[int, str, str]] | None:
            found = [
                (pid, path.stem, hook)
                for path in sorted(self.record_dir.glob("*.pid"))
                for pid, hook in [_pid_and_hook(path)]
                if pid and "hook.sh" in _cmdline(pid) and alive(pid)
            ]
            return found or None

        try:
            hooks = waiting.until("a running hook", running, 10, interval=0.05)
        except waiting.TimedOutError:
            return MISSED, "no hook running"
        pid, unit, hook = self.rng.choice(hooks)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return MISSED, f"{unit} {hook} pid {pid} ended first"
        return f"{unit} {hook} pid {pid}", "killed mid-hook"

    def _kill_disk(self) -> tuple[str, str]:
        """Fill the home's filesystem, make a change while it is full, free it."""
        filler = _tmpfs.fill(self.rune.home)
        pid = read_pid(self.controller_dir / "controller.pid")
        result = self.rune("config", "a", f"token=full{self.counter}", check=False)
        answer = (result.stdout + result.stderr).strip().splitlines()[-1:] or [""]
        time.sleep(self.plan.disk_hold)  # the controller keeps working on a full disk a while
        filler.unlink()
        if result.returncode == 0:
            self.tokens["a"] = f"full{self.counter}"
        target = f"home full for {self.plan.disk_hold:.0f} s; config answered: {answer[0][:120]}"
        if pid is not None and alive(pid):
            return target, "controller stayed up"
        outcome = self._finding("disk", "the controller exited while its disk was full")
        self.rune("start-controller")
        return target, outcome

    def _finding(self, kind: str, what: str) -> str:
        """Record a fault (it fails the run); a dead broker is repaired here so the run
        goes on and finds what else there is."""
        self.findings.append(Finding(kind, what))
        if kind == "broker":
            pid = read_pid(self.controller_dir / "controller.pid")
            if pid is not None and alive(pid):
                os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid)
            self.rune("start-controller")
            return "FAULT: repaired by kill -9 of the controller and start-controller"
        return "FAULT"

    def _eventually(self, probe: Callable[[], bool]) -> bool:
        """Whether `probe` holds within RECOVERY seconds (not holding is a finding)."""
        try:
            waiting.until("recovery", probe, RECOVERY, interval=0.2)
        except waiting.TimedOutError:
            return False
        return True

    def _wait_gone(self, pid: int) -> None:
        self._eventually(lambda: not alive(pid))

    # --- the run --------------------------------------------------------------------

    def shake(self) -> None:
        """The changes and kills, shuffled, one every `gap` seconds. A kill that found
        nothing to kill (no hook running at that moment) is tried again at a later step."""
        plan = self.plan
        steps = [f"kill:{plan.kinds[i % len(plan.kinds)]}" for i in range(plan.kills)]
        steps += ["change"] * plan.changes
        self.rng.shuffle(steps)
        retries = dict.fromkeys(plan.kinds, plan.retries)
        while steps:
            step = steps.pop(0)
            time.sleep(self.rng.uniform(*plan.gap))
            if step == "change":
                self.change()
                continue
            kind = step.split(":", 1)[1]
            self.kill(kind)
            if self.kills[-1].missed and retries[kind] and self.now() < plan.retry_until:
                retries[kind] -= 1
                steps.insert(self.rng.randint(1, len(steps)) if steps else 0, step)

    def missed(self) -> list[str]:
        """The kinds of kill planned that never found anything to kill."""
        done = {kill.kind for kill in self.kills if not kill.missed}
        planned = {self.plan.kinds[i % len(self.plan.kinds)] for i in range(self.plan.kills)}
        return sorted(planned - done)

    def converge(self, timeout: float = 300) -> None:
        """`rune wait` until it settles (exit 0): a killed hook's error clears on retry."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.rune("wait", "--timeout", "10s", check=False)
            if result.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the model never settled: {result.stdout}{result.stderr}")
        self.converged_after = round(time.monotonic() - (self.last_kill or self.started), 1)

    def histories(self) -> dict[str, list[history.Entry]]:
        return {
            unit: history.parse(state.get("history", "")) for unit, state in self._units().items()
        }

    def _units(self) -> dict[str, dict[str, str]]:
        with contextlib.closing(self._db()) as db:
            rows = db.execute("SELECT name, charm_state FROM units").fetchall()
        return {name: json.loads(state) for name, state in rows}

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.controller_dir / 'state.db'}?mode=ro", uri=True)

    def databags(self) -> dict[tuple[str, str], dict[str, str]]:
        """Every relation bag: (owner kind, owner) → data (one relation in this model)."""
        with contextlib.closing(self._db()) as db:
            rows = db.execute("SELECT owner_kind, owner, data FROM databags").fetchall()
        return {(kind, owner): json.loads(data) for kind, owner, data in rows}

    def model_errors(self, histories: dict[str, list[history.Entry]]) -> list[str]:
        """How the final model differs from the one asked for."""
        units = self.units()
        problems = []
        if sorted(histories) != sorted(units["a"] + units["b"]):
            problems.append(f"units stored {sorted(histories)} != in status {units}")
        if set(self.removed) & set(histories):
            problems.append(
                f"removed units still there: {sorted(set(self.removed) & set(histories))}"
            )
        bags = self.databags()
        for app, other in (("a", "b"), ("b", "a")):
            if bags.get(("app", app), {}).get("token") != self.tokens[app]:
                problems.append(
                    f"{app}'s app bag {bags.get(('app', app))} != token {self.tokens[app]}"
                )
            for unit in units[app]:
                problems.extend(
                    self._unit_errors(unit, histories.get(unit, []), app, other, units[other])
                )
                if bags.get(("unit", unit), {}).get("unit") != unit:
                    problems.append(f"{unit}'s bag {bags.get(('unit', unit))}")
        return problems

    def _unit_errors(
        self, unit: str, entries: list[history.Entry], app: str, other: str, remotes: list[str]
    ) -> list[str]:
        configs = [e.fields[0] for e in entries if e.hook == "config-changed"]
        problems = []
        if not configs or configs[-1] != self.tokens[app]:
            problems.append(f"{unit} last saw config {configs[-1:]}, set {self.tokens[app]}")
        joined: set[str] = set()
        seen: dict[str, str] = {}
        for entry in entries:
            kind = entry.relation_kind
            if kind == "joined":
                joined.add(entry.remote)
            elif kind == "departed":
                joined.discard(entry.remote)
            elif kind == "changed":
                seen[entry.remote] = entry.fields[2] if len(entry.fields) > 2 else ""
        if joined != set(remotes):
            problems.append(f"{unit} is joined to {sorted(joined)}, not {remotes}")
        if seen.get(other) != self.tokens[other]:
            problems.append(
                f"{unit} last saw {other}'s token {seen.get(other)}, set {self.tokens[other]}"
            )
        wrong = sorted(r for r in remotes if seen.get(r) != r)
        if wrong:
            problems.append(f"{unit} last read of {wrong}'s bags is not their name")
        return problems

    def removed_errors(self) -> list[str]:
        """A removed unit's attempts (its state is gone with it): remove last, and after
        stop (run only if it started, as Juju) nothing but remove."""
        problems = []
        for unit in self.removed:
            record = self.record_dir / f"{unit.replace('/', '-')}.attempts"
            if not record.exists():
                continue  # removed before its agent ran any hook (lawful: Juju runs none)
            attempts = record.read_text().split()
            if not attempts or attempts[-1] != "remove":
                problems.append(f"removed {unit} attempted {attempts[-3:]}: remove is not last")
            after = attempts[attempts.index("stop") :] if "stop" in attempts else []
            if set(after) - {"stop", "remove"}:
                problems.append(f"removed {unit} ran {after} after stop")
        return problems

    def summary(
        self,
        histories: dict[str, list[history.Entry]],
        violations: list[history.Violation],
        problems: list[str],
    ) -> str:
        by_kind: dict[str, int] = {}
        for kill in self.kills:
            if not kill.missed:
                by_kind[kill.kind] = by_kind.get(kill.kind, 0) + 1
        lines = [
            f"chaos seed={self.plan.seed} units={sum(1 for _ in histories)} "
            f"removed={len(self.removed)} run={self.now()}s",
            "kills: " + ", ".join(f"{k}={n}" for k, n in sorted(by_kind.items())),
            f"kills that found nothing to kill: {sum(k.missed for k in self.kills)}"
            f" (never done: {', '.join(self.missed()) or 'none'})",
            *(f"  {k.at:7.1f}s {k.kind:<10} {k.target} -> {k.outcome}" for k in self.kills),
            f"hooks committed: {sum(len(h) for h in histories.values())}",
            f"converged {self.converged_after}s after the last kill",
            f"violations: {len(violations)}",
            *(f"  {v}" for v in violations),
            f"model differences: {len(problems)}",
            *(f"  {p}" for p in problems),
            f"faults found: {len(self.findings)}",
            *(f"  {f}" for f in self.findings),
        ]
        return "\n".join(lines)


def _pid_and_hook(path: Path) -> tuple[int, str]:
    try:
        pid, hook = path.read_text().split()
        return int(pid), hook
    except (OSError, ValueError):
        return 0, ""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _unit_key(name: str) -> tuple[str, int]:
    app, _, number = name.partition("/")
    return app, int(number)


def controller_name(home: Path) -> str | None:
    config = home / "controller" / "controller.yaml"
    if not config.exists():
        return None
    return str(yaml.safe_load(config.read_text())["name"])
