"""Helpers of the conformance suite (tests/integration/test_conformance_*.py).

The test charms in tests/charms/ record every event they handle as one JSON line in
`<record-dir>/<app>-<n>.jsonl` (config `record-dir`, set at deploy; the file outlives the
unit). `Recorder` reads those lines back as `Event`s, and the `check_*` functions hold
recorded sequences against the contract: charm-contract.md §2 (environment), §3.3
(sequences) and docs/runtime-contract.md (scope, departure, leadership). Every check raises
`AssertionError` with the unit's whole recorded sequence, so a failure says what ran.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tests.integration.conftest import REPO, Rune, writable_by_machines

CHARMS = REPO / "tests" / "charms"
TOKEN = "t0ken-1"
"""The providers' default `token` config."""
PEERS = "peers"
WAIT = ("wait", "--timeout", "2m")
"""Hooks here settle in seconds; 2m leaves room, and fails before pytest-timeout (300 s)."""


@dataclasses.dataclass(frozen=True)
class Pair:
    """A provider and a requirer charm of the `conformance` interface, in one flavour."""

    provider: str
    requirer: str
    provider_endpoint: str = "source"
    requirer_endpoint: str = "sink"


PAIRS = {
    "ops": Pair("ops-provider", "ops-requirer"),
    "bash": Pair("bash-provider", "bash-requirer"),
}


# --- deploying and reading status ---------------------------------------------------------


def deploy(
    rune: Rune, charm: str, record_dir: Path, *, units: int, config: Sequence[str] = ()
) -> None:
    """Deploy a test charm as the application of the same name, recording into record_dir."""
    options = [f"record-dir={writable_by_machines(record_dir)}", *config]
    rune(
        "deploy",
        str(CHARMS / charm),
        charm,
        "-n",
        str(units),
        *[arg for option in options for arg in ("--config", option)],
    )


def settle(rune: Rune) -> None:
    """`rune wait`: every unit active, idle and on the latest desired state. On failure the
    error carries the tail of every unit log, which says which hook or tool went wrong."""
    result = rune(*WAIT, check=False)
    if result.returncode != 0:
        raise AssertionError(
            f"rune wait exited {result.returncode}: {result.stderr.strip()}\n{unit_logs(rune)}\n"
            f"--- controller log\n{rune.controller_log(20)}"
        )


def unit_logs(rune: Rune, lines: int = 12) -> str:
    """The last lines of every unit's log (hook output, tool errors)."""
    parts = []
    for path in sorted((rune.home / "machines").glob("*/*/units/*/unit.log")):
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {path.parent.name}/unit.log\n" + "\n".join(tail))
    return "\n".join(parts) or "(no unit logs)"


def unit_names(status: dict[str, Any], app: str) -> list[str]:
    return sorted(status["applications"][app]["units"], key=lambda u: int(u.split("/")[1]))


def leader_of(status: dict[str, Any], app: str) -> str:
    leaders = [u for u, d in status["applications"][app]["units"].items() if d.get("leader")]
    assert len(leaders) == 1, f"{app} should have exactly one leader: {leaders}"
    return leaders[0]


def workload(status: dict[str, Any], unit: str) -> dict[str, Any]:
    doc: dict[str, Any] = status["applications"][unit.rpartition("/")[0]]["units"][unit]
    return {k: doc["workload-status"].get(k) for k in ("current", "message")}


def run_action(rune: Rune, unit: str, action: str, *params: str) -> tuple[int, dict[str, Any]]:
    """`rune run UNIT ACTION k=v… --wait 2m --format json`: exit code and the unit's task."""
    result = rune("run", unit, action, *params, "--wait", "2m", "--format", "json", check=False)
    assert result.stdout.strip(), f"rune run printed nothing; stderr: {result.stderr}"
    document = json.loads(result.stdout)
    assert list(document) == [unit], document
    task: dict[str, Any] = document[unit]
    task["_stderr"] = result.stderr
    return result.returncode, task


def charm_dir(rune: Rune, unit: str) -> Path:
    app, number = unit.split("/")
    found = list((rune.home / "machines").glob(f"*/*/units/{app}-{number}/charm"))
    assert len(found) == 1, f"charm dir of {unit}: {found}"
    return found[0]


# --- what the charms recorded ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Event:
    """One recorded hook or action (see tests/charms/ops-provider/src/charm.py)."""

    raw: dict[str, Any]
    index: int
    """Position in the unit's record (0 = its first event)."""

    @property
    def kind(self) -> str:
        return str(self.raw["kind"])

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def is_hook(self) -> bool:
        return self.kind == "hooks"

    @property
    def unit(self) -> str:
        return str(self.raw["unit"])

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = self.raw["env"]
        return env

    @property
    def leader(self) -> bool:
        return bool(self.raw["leader"])

    @property
    def count(self) -> int:
        return int(self.raw["count"])

    @property
    def failing(self) -> bool:
        return bool(self.raw.get("failing"))

    @property
    def view(self) -> dict[str, Any] | None:
        view: dict[str, Any] | None = self.raw.get("view")
        return view

    @property
    def data(self) -> dict[str, Any] | None:
        data: dict[str, Any] | None = self.raw.get("data")
        return data

    @property
    def relation(self) -> str | None:
        """The endpoint of a relation hook (from the hook name), else None."""
        if not self.is_hook or "-relation-" not in self.name:
            return None
        return self.name.rsplit("-relation-", 1)[0]

    @property
    def phase(self) -> str:
        """created, joined, changed, departed or broken (relation hooks only)."""
        return self.name.rsplit("-relation-", 1)[1]

    @property
    def relation_id(self) -> int:
        return int(self.env["JUJU_RELATION_ID"].rsplit(":", 1)[1])

    @property
    def remote_unit(self) -> str | None:
        return self.env.get("JUJU_REMOTE_UNIT")

    @property
    def remote_app(self) -> str | None:
        return self.env.get("JUJU_REMOTE_APP")

    @property
    def departing_unit(self) -> str | None:
        return self.env.get("JUJU_DEPARTING_UNIT")

    def __str__(self) -> str:
        text = f"{self.index}:{self.name}"
        if self.relation is not None:
            extras = [f"remote={self.remote_unit!r}"]
            if self.departing_unit is not None:
                extras.append(f"departing={self.departing_unit!r}")
            text += f"({', '.join(extras)})"
        if self.failing:
            text += "[failing]"
        return text if self.is_hook else f"{text}[action]"


def describe(events: Iterable[Event]) -> str:
    return " ".join(str(e) for e in events)


@dataclasses.dataclass
class Recorder:
    """Reads what the units recorded in one record dir."""

    directory: Path

    def events(self, unit: str) -> list[Event]:
        path = self.directory / f"{unit.replace('/', '-')}.jsonl"
        assert path.exists(), f"{unit} recorded nothing (no {path.name} in {self.directory})"
        events = []
        for index, line in enumerate(path.read_text().splitlines()):
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AssertionError(f"{unit} recorded a bad line {index}: {line!r}") from exc
            events.append(Event(raw, index))
        return events

    def hooks(self, unit: str, since: int = 0) -> list[str]:
        return [e.name for e in self.events(unit)[since:] if e.is_hook]

    def mark(self) -> dict[str, int]:
        """How many events each unit has recorded so far (see `since`)."""
        return {
            path.stem.rsplit("-", 1)[0] + "/" + path.stem.rsplit("-", 1)[1]: len(
                path.read_text().splitlines()
            )
            for path in self.directory.glob("*.jsonl")
        }

    def since(self, mark: dict[str, int], unit: str) -> list[Event]:
        return self.events(unit)[mark.get(unit, 0) :]


# --- checks --------------------------------------------------------------------------------


def check_env(event: Event, *, model: str = "default") -> None:
    """charm-contract §2: the variables every hook/action gets, and the per-event ones."""
    env = event.env
    where = f"{event.unit} {event}: env {env}"
    assert env.get("JUJU_UNIT_NAME") == event.unit, where
    assert env.get("JUJU_MODEL_NAME") == model, where
    assert env.get("JUJU_MODEL_UUID"), where
    assert env.get("JUJU_VERSION", "").startswith("3.6."), where
    assert env.get("JUJU_CHARM_DIR") and env.get("JUJU_CHARM_DIR") == env.get("CHARM_DIR"), where
    assert env.get("JUJU_CONTEXT_ID"), where
    assert env.get("JUJU_DISPATCH_PATH") == f"{event.kind}/{event.name}", where
    if event.is_hook:
        assert env.get("JUJU_HOOK_NAME") == event.name, where
        assert "JUJU_ACTION_NAME" not in env, where
    else:
        assert env.get("JUJU_HOOK_NAME", "") == "", where
        assert env.get("JUJU_ACTION_NAME") == event.name, where
        assert env.get("JUJU_ACTION_UUID"), where
    if event.relation is not None:
        assert env.get("JUJU_RELATION") == event.relation, where
        assert env.get("JUJU_RELATION_ID", "").startswith(f"{event.relation}:"), where
        assert env.get("JUJU_REMOTE_APP"), where
        assert "JUJU_REMOTE_UNIT" in env, f"JUJU_REMOTE_UNIT must always be exported: {where}"
        assert ("JUJU_DEPARTING_UNIT" in env) == (event.phase == "departed"), where
    else:
        for name in ("JUJU_RELATION", "JUJU_RELATION_ID", "JUJU_REMOTE_UNIT"):
            assert not env.get(name), where


def check_all_env(recorder: Recorder, units: Iterable[str], *, model: str = "default") -> None:
    for unit in units:
        for event in recorder.events(unit):
            check_env(event, model=model)


def check_new_unit(events: Sequence[Event], *, related: Sequence[str] = ()) -> None:
    """charm-contract §3.3 "New unit": install → relation-created (the peer relation, and
    `related` endpoints) → leader-elected (leader) or leader-settings-changed (non-leader,
    Juju 3.x) → config-changed → start."""
    hooks = [e for e in events if e.is_hook]
    where = f"{events[0].unit if events else '?'} ran: {describe(hooks)}"
    assert hooks and hooks[0].name == "install", where
    position = 1
    created = []
    while position < len(hooks) and hooks[position].name.endswith("-relation-created"):
        created.append(hooks[position].name)
        position += 1
    wanted = sorted(f"{ep}-relation-created" for ep in (PEERS, *related))
    assert sorted(created) == wanted, where
    assert position < len(hooks), where
    if hooks[position].name == "leader-elected":
        assert hooks[position].leader, f"leader-elected on a non-leader: {where}"
        position += 1
    else:
        assert hooks[position].name == "leader-settings-changed", where
        assert not hooks[position].leader, f"leader-settings-changed on the leader: {where}"
        while position < len(hooks) and hooks[position].name == "leader-settings-changed":
            position += 1
    assert [e.name for e in hooks[position : position + 2]] == ["config-changed", "start"], where


@dataclasses.dataclass
class Trace:
    """One relation as one unit lived it, replayed from its relation hooks."""

    endpoint: str
    id: int
    remote_app: str
    events: list[Event] = dataclasses.field(default_factory=list)
    members: list[str] = dataclasses.field(default_factory=list)
    """Remote units joined and not departed."""
    broken: bool = False

    def after(self, index: int) -> list[Event]:
        return [e for e in self.events if e.index >= index]

    def joined(self, since: int = 0) -> list[str]:
        return [e.remote_unit or "" for e in self.after(since) if e.phase == "joined"]

    def departed(self, since: int = 0) -> list[Event]:
        return [e for e in self.after(since) if e.phase == "departed"]

    def app_changes(self, since: int = 0) -> list[Event]:
        return [e for e in self.after(since) if e.phase == "changed" and e.remote_unit == ""]


def relation_traces(events: Sequence[Event], endpoint: str) -> dict[int, Trace]:
    """Replay a unit's hooks of one endpoint and check the per-relation rules of
    charm-contract §3.3 and runtime-contract "Relations":

    - `-created` comes first, with an empty JUJU_REMOTE_UNIT;
    - `-joined` X (X not a member) is followed by `-changed` X before any other hook of that
      relation, and that first `-changed` already sees X's bag with `unit-name` (written in
      X's `-created`) and the seeded `private-address` / `ingress-address`;
    - a unit `-changed` names a member; an app-level `-changed` has JUJU_REMOTE_UNIT="";
    - `-departed` X names a member, with JUJU_DEPARTING_UNIT = X, or = the unit itself when
      it is the one leaving; the departing unit is no longer listed by relation-list;
    - `-broken` comes after every member departed, with JUJU_REMOTE_UNIT="", and nothing of
      that relation runs after it.
    """
    hooks = [e for e in events if e.relation == endpoint]
    unit = events[0].unit if events else "?"
    where = f"{unit} ran on {endpoint}: {describe(hooks)}"
    traces: dict[int, Trace] = {}
    pending_change: dict[int, str] = {}
    for event in hooks:
        rid = event.relation_id
        trace = traces.get(rid)
        at = f"at {event}; {where}"
        if trace is None:
            assert event.phase == "created", f"first hook is not -created {at}"
            assert event.remote_unit == "", at
            traces[rid] = trace = Trace(endpoint, rid, event.remote_app or "")
            trace.events.append(event)
            continue
        assert not trace.broken, f"hook after -broken {at}"
        assert event.remote_app == trace.remote_app, at
        if rid in pending_change:
            expected = pending_change.pop(rid)
            assert event.phase == "changed" and event.remote_unit == expected, (
                f"-joined {expected} not followed by its -changed {at}"
            )
            bag = (event.view or {}).get("units", {}).get(expected)
            assert bag is not None, f"{expected} not listed in its first -changed {at}"
            assert bag.get("unit-name") == expected, f"{expected}'s bag {bag} {at}"
            assert "private-address" in bag and "ingress-address" in bag, f"bag {bag} {at}"
        remote = event.remote_unit
        if event.phase == "created":
            raise AssertionError(f"second -created {at}")
        if event.phase == "joined":
            assert remote and remote.split("/")[0] == trace.remote_app, at
            assert remote not in trace.members, f"joined twice {at}"
            trace.members.append(remote)
            pending_change[rid] = remote
        elif event.phase == "changed":
            assert remote == "" or remote in trace.members, f"-changed for a non-member {at}"
        elif event.phase == "departed":
            assert remote in trace.members, f"-departed for a non-member {at}"
            assert event.departing_unit in (remote, unit), f"JUJU_DEPARTING_UNIT wrong {at}"
            if event.view is not None and event.departing_unit == remote:
                assert remote not in event.view.get("units", {}), f"still listed {at}"
            trace.members.remove(remote)
        elif event.phase == "broken":
            assert remote == "", at
            assert not trace.members, f"-broken before departing {trace.members} {at}"
            trace.broken = True
        else:
            raise AssertionError(f"unknown relation hook {at}")
        trace.events.append(event)
    assert not pending_change, f"-joined without -changed: {pending_change}; {where}"
    return traces


def only_trace(events: Sequence[Event], endpoint: str) -> Trace:
    traces = relation_traces(events, endpoint)
    unit = events[0].unit if events else "?"
    assert len(traces) == 1, f"{unit} should be in exactly one {endpoint} relation: {traces}"
    return next(iter(traces.values()))


def check_teardown(
    events: Sequence[Event], *, unit: str, remotes: dict[str, Sequence[str]]
) -> None:
    """A removed unit (runtime-contract "Relations"; charm-contract §3.3 "Unit removed"):
    for each relation, `-departed` for every remote unit it knew (JUJU_DEPARTING_UNIT = the
    unit itself), then `-broken`; all of that before `stop`, then `remove`, last.

    `events` are the unit's events from before it was told to go; `remotes` maps each of
    its endpoints to the remote units it knew."""
    hooks = [e for e in events if e.is_hook]
    where = f"{unit} ran: {describe(hooks)}"
    assert [e.name for e in hooks[-2:]] == ["stop", "remove"], where
    teardown = hooks[:-2]
    assert all(e.relation is not None for e in teardown), where
    assert all(e.phase in ("departed", "broken") for e in teardown), where
    for endpoint, expected in remotes.items():
        mine = [e for e in teardown if e.relation == endpoint]
        assert mine and mine[-1].phase == "broken", f"{endpoint}: {where}"
        departed = mine[:-1]
        assert all(e.phase == "departed" and e.departing_unit == unit for e in departed), where
        assert sorted(e.remote_unit or "" for e in departed) == sorted(expected), where
    assert {e.relation for e in teardown} == set(remotes), where
