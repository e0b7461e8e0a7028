"""A real UnitAgent running a real ops charm (ops from the venv) that exchanges relation data.

The test plays the controller: it feeds `UnitRemoteState`s (with relation data and
`commit_seq` acknowledgements) and an in-memory outbox records every message, in particular
the `HookCommit`s. The charm writes what ops showed it (`event.unit`, `event.app`, relation
data, the JUJU_* variables) to `events.jsonl` in its charm dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import site
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from runecraft.agents import unit
from runecraft.schemas import bus

from .test_unit_agent import MODEL, Charms, Clock, build_zip

TIMEOUT = 90.0

RELAY_CHARM = {
    "metadata.yaml": (
        "name: relay\nsummary: relay\ndescription: relay\n"
        "requires:\n  db: {interface: mysql}\n"
        "peers:\n  cluster: {interface: relay-peers}\n"
    ),
    "actions.yaml": (
        "get-data:\n  params:\n"
        "    key: {type: string, default: k}\n"
        "    fail: {type: boolean, default: false}\n"
    ),
    "dispatch": (
        "#!/bin/sh\n"
        'JUJU_DISPATCH_PATH="${JUJU_DISPATCH_PATH:-$0}" '
        f"PYTHONPATH=lib:venv:{site.getsitepackages()[0]} "
        f"exec {sys.executable} ./src/charm.py\n"
    ),
    "src/charm.py": """#!/usr/bin/env python3
import json
import os

import ops

KEYS = (
    "JUJU_HOOK_NAME", "JUJU_DISPATCH_PATH", "JUJU_RELATION", "JUJU_RELATION_ID",
    "JUJU_REMOTE_UNIT", "JUJU_REMOTE_APP", "JUJU_DEPARTING_UNIT", "JUJU_ACTION_NAME",
    "JUJU_ACTION_UUID", "JUJU_ACTION_TAG",
)


class RelayCharm(ops.CharmBase):
    def __init__(self, framework):
        super().__init__(framework)
        for endpoint in ("db", "cluster"):
            events = self.on[endpoint]
            for event in (
                events.relation_created, events.relation_joined, events.relation_changed,
                events.relation_departed, events.relation_broken,
            ):
                framework.observe(event, self._record)
        framework.observe(self.on["db"].relation_changed, self._on_db_changed)
        framework.observe(self.on["cluster"].relation_changed, self._on_cluster_changed)
        framework.observe(self.on.leader_elected, self._on_leader)
        framework.observe(self.on.get_data_action, self._on_get_data)

    def _record(self, event):
        entry = {"env": {key: os.environ[key] for key in KEYS if key in os.environ}}
        if isinstance(event, ops.RelationEvent):
            entry["unit"] = event.unit.name if event.unit else None
            entry["app"] = event.app.name if event.app else None
            entry["relation"] = event.relation.id
            if isinstance(event, ops.RelationDepartedEvent):
                departing = event.departing_unit
                entry["departing"] = departing.name if departing else None
            if not isinstance(event, ops.RelationBrokenEvent):
                entry["units"] = sorted(u.name for u in event.relation.units)
                if event.unit is not None and event.unit in event.relation.data:
                    entry["unit_data"] = dict(event.relation.data[event.unit])
                if event.app is not None:
                    entry["app_data"] = dict(event.relation.data[event.app])
        with open("events.jsonl", "a") as log:
            log.write(json.dumps(entry) + "\\n")

    def _on_leader(self, event):
        for relation in self.model.relations["cluster"]:
            relation.data[self.app]["leader"] = self.unit.name

    def _on_db_changed(self, event):
        if event.unit is not None:
            host = event.relation.data[event.unit].get("host", "")
            event.relation.data[self.unit]["seen"] = host
            if self.unit.is_leader():
                event.relation.data[self.app]["leader-saw"] = host
        if os.path.exists("fail-changed"):
            raise RuntimeError("told to fail")

    def _on_cluster_changed(self, event):
        if event.unit is None and self.unit.is_leader():
            raise RuntimeError("the leader must not see its own app write")

    def _on_get_data(self, event):
        event.log("looking")
        relation = self.model.get_relation("db")
        seen = relation.data[self.unit].get("seen", "") if relation else ""
        relation.data[self.unit]["by-action"] = event.params["key"]
        print("to stdout")
        event.set_results({"seen": seen, "key": event.params["key"]})
        if event.params["fail"]:
            event.fail("asked to fail")


if __name__ == "__main__":
    ops.main(RelayCharm)
""",
}


class Outbox:
    """Records every message; tests wait on conditions over them (no sleeps)."""

    def __init__(self) -> None:
        self.messages: list[unit.AgentMessage] = []
        self._changed = asyncio.Condition()

    async def send(self, message: unit.AgentMessage) -> bool:
        self.messages.append(message)
        async with self._changed:
            self._changed.notify_all()
        return True

    def of(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    @property
    def commits(self) -> list[bus.HookCommit]:
        return self.of(bus.HookCommit)

    @property
    def last(self) -> bus.UnitReport:
        reports: list[bus.UnitReport] = self.of(bus.UnitReport)
        return reports[-1]

    async def wait(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(predicate)

    async def idle_on(self, revision: int) -> bus.UnitReport:
        def settled() -> bool:
            reports = self.of(bus.UnitReport)
            return bool(reports) and (
                reports[-1].agent.status == "idle" and reports[-1].snapshot_revision == revision
            )

        await self.wait(settled)
        return self.last


ARCHIVE = build_zip(RELAY_CHARM)
SHA = hashlib.sha256(ARCHIVE).hexdigest()


def db(**changes: Any) -> bus.RelationRemote:
    base: dict[str, Any] = {
        "id": 1,
        "endpoint": "db",
        "interface": "mysql",
        "role": "requirer",
        "remote_application": "mysql",
        "units": {"mysql/0": 1},
        "app_version": 1,
        "unit_data": {"mysql/0": {"host": "10.0.0.5"}},
        "app_data": {"database": "prod"},
        "local_unit_data": {"private-address": "10.9.9.9"},
        "local_app_data": {},
    }
    return bus.RelationRemote(**{**base, **changes})


def cluster(**changes: Any) -> bus.RelationRemote:
    base: dict[str, Any] = {
        "id": 2,
        "endpoint": "cluster",
        "interface": "relay-peers",
        "role": "peer",
        "remote_application": "relay",
        "local_app_data": {},
    }
    return bus.RelationRemote(**{**base, **changes})


def state(**changes: Any) -> bus.UnitRemoteState:
    base: dict[str, Any] = {
        "unit": "relay/0",
        "application": "relay",
        "charm": bus.CharmRef(sha256=SHA, name="relay"),
        "config_hash": "h1",
        "leader": True,
        "relations": (db(), cluster()),
    }
    return bus.UnitRemoteState(**{**base, **changes})


def events(agent: unit.UnitAgent) -> list[dict[str, Any]]:
    path = agent.paths.charm / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def hooks(agent: unit.UnitAgent) -> list[str]:
    return [e["env"].get("JUJU_HOOK_NAME", "") for e in events(agent)]


@asynccontextmanager
async def running(
    tmp_path: Path, clock: Clock | None = None
) -> AsyncIterator[tuple[unit.UnitAgent, Outbox]]:
    outbox = Outbox()
    agent = unit.UnitAgent(
        remote=state(),
        paths=unit.UnitPaths.for_unit(tmp_path, "relay/0"),
        model=MODEL,
        outbox=outbox,
        charms=Charms(ARCHIVE),
        snapshot_revision=1,
        **({} if clock is None else {"clock": clock}),
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(agent.run())
        try:
            yield agent, outbox
        finally:
            task.cancel()


async def test_ops_charm_exchanges_relation_data_through_commits(tmp_path: Path) -> None:
    async with running(tmp_path) as (agent, outbox):
        await outbox.wait(lambda: len(hooks(agent)) >= 5 and outbox.last.agent.status == "idle")
        # Not acknowledged yet: never idle on revision 1 while its commits are pending.
        assert all(
            r.snapshot_revision < 1 for r in outbox.of(bus.UnitReport) if r.agent.status == "idle"
        )

        # --- the hooks ops saw, with what it saw in them ---------------------------------
        seen = events(agent)
        assert [e["env"]["JUJU_HOOK_NAME"] for e in seen] == [
            "db-relation-created",
            "cluster-relation-created",
            "db-relation-changed",
            "db-relation-joined",
            "db-relation-changed",
        ]
        created, _, app_changed, joined, changed = seen
        assert created["env"] == {
            "JUJU_HOOK_NAME": "db-relation-created",
            "JUJU_DISPATCH_PATH": "hooks/db-relation-created",
            "JUJU_RELATION": "db",
            "JUJU_RELATION_ID": "db:1",
            "JUJU_REMOTE_UNIT": "",
            "JUJU_REMOTE_APP": "mysql",
        }
        assert (created["unit"], created["app"], created["units"]) == (None, "mysql", [])
        assert app_changed["env"]["JUJU_REMOTE_UNIT"] == ""
        assert (app_changed["unit"], app_changed["app"]) == (None, "mysql")
        assert app_changed["app_data"] == {"database": "prod"}
        assert (joined["unit"], joined["app"], joined["units"]) == ("mysql/0", "mysql", ["mysql/0"])
        assert changed["env"]["JUJU_REMOTE_UNIT"] == "mysql/0"
        assert (changed["unit"], changed["app"]) == ("mysql/0", "mysql")
        assert changed["unit_data"] == {"host": "10.0.0.5"}
        assert changed["app_data"] == {"database": "prod"}

        # --- the commits: numbered, scope first, then the buffered writes ----------------
        commits = outbox.commits
        assert [c.seq for c in commits] == list(range(1, len(commits) + 1))
        assert commits[0].hook == "db-relation-created" and commits[0].scope == {1: "enter"}
        assert commits[1].hook == "cluster-relation-created" and commits[1].scope == {2: "enter"}
        leader = next(c for c in commits if c.hook == "leader-elected")
        assert leader.relations == {2: bus.RelationWrite(app={"leader": "relay/0"})}
        write = next(c for c in commits if c.hook == "db-relation-changed")
        assert write.relations == {
            1: bus.RelationWrite(unit={"seen": "10.0.0.5"}, app={"leader-saw": "10.0.0.5"})
        }
        assert all(not c.relations for c in commits if c.hook in ("install", "start"))
        last = commits[-1].seq
        assert [c.seq for c in agent.pending_commits] == list(range(1, last + 1))

        # --- acknowledgement and exactly-once resend -------------------------------------
        sent = len(commits)
        agent.update(state(commit_seq=1), 2)
        await outbox.wait(lambda: len(outbox.commits) >= sent + last - 1)
        assert [c.seq for c in outbox.commits[sent:]] == list(range(2, last + 1))
        assert [c.seq for c in agent.pending_commits] == list(range(2, last + 1))
        # The controller applied everything: the peer app bag moved to version 1 by the
        # leader's own write, which must not come back to it as a -changed.
        acked = state(
            commit_seq=last,
            relations=(
                db(local_unit_data={"private-address": "10.9.9.9", "seen": "10.0.0.5"}),
                cluster(app_version=1, local_app_data={"leader": "relay/0"}),
            ),
        )
        agent.update(acked, 3)
        settled = await outbox.idle_on(3)
        assert settled.workload.status != "error"
        assert agent.pending_commits == ()
        assert len(outbox.commits) == sent + last - 1  # nothing resent once acknowledged
        assert "cluster-relation-changed" not in hooks(agent)


async def test_failed_hook_discards_its_writes_and_retry_commits_once(tmp_path: Path) -> None:
    clock = Clock()
    async with running(tmp_path, clock) as (agent, outbox):
        await outbox.wait(lambda: bool(outbox.commits) and outbox.last.agent.status == "idle")
        last = agent.local.commit_seq
        agent.update(state(commit_seq=last), 2)
        await outbox.idle_on(2)
        before = len(outbox.commits)

        (agent.paths.charm / "fail-changed").touch()
        new_data = db(units={"mysql/0": 2}, unit_data={"mysql/0": {"host": "10.0.0.99"}})
        agent.update(state(commit_seq=last, relations=(new_data, cluster())), 3)
        await outbox.wait(lambda: outbox.last.agent.status == "error")
        failed = outbox.last
        assert failed.workload == bus.StatusValue(
            status="error", message='hook failed: "db-relation-changed"'
        )
        assert len(outbox.commits) == before  # the writes were dropped, nothing sent
        assert agent.local.relations[1].members == {"mysql/0": 1}

        (agent.paths.charm / "fail-changed").unlink()
        error = agent.local.error
        assert error is not None
        clock.now = error.retry_at
        agent.poke()
        await outbox.wait(lambda: len(outbox.commits) == before + 1)
        retried = outbox.commits[-1]
        assert retried.seq == last + 1
        assert retried.relations == {
            1: bus.RelationWrite(unit={"seen": "10.0.0.99"}, app={"leader-saw": "10.0.0.99"})
        }
        agent.update(state(commit_seq=last + 1, relations=(new_data, cluster())), 4)
        await outbox.idle_on(4)
        assert len(outbox.commits) == before + 1
        assert agent.local.relations[1].members == {"mysql/0": 2}


async def test_actions_run_in_error_and_report_their_outcome(tmp_path: Path) -> None:
    clock = Clock()
    async with running(tmp_path, clock) as (agent, outbox):
        await outbox.wait(lambda: bool(outbox.commits) and outbox.last.agent.status == "idle")
        last = agent.local.commit_seq
        # Put the unit in error first.
        (agent.paths.charm / "fail-changed").touch()
        failing = db(
            units={"mysql/0": 2},
            local_unit_data={"private-address": "10.9.9.9", "seen": "10.0.0.5"},
        )
        agent.update(state(commit_seq=last, relations=(failing, cluster())), 2)
        await outbox.wait(lambda: outbox.last.agent.status == "error")

        actions = (
            bus.ActionRequest(id="7", name="get-data", params={"key": "a", "fail": False}),
            bus.ActionRequest(id="8", name="get-data", params={"key": "b", "fail": True}),
        )
        agent.update(state(commit_seq=last, relations=(failing, cluster()), actions=actions), 3)
        await outbox.wait(lambda: sum(1 for c in outbox.commits if c.action) == 2)
        done = [c for c in outbox.commits if c.action is not None]
        first, second = (c.action for c in done)
        assert first is not None and second is not None
        assert first.id == "7" and first.status == "completed" and first.message == ""
        assert first.results == {
            "seen": "10.0.0.5",
            "key": "a",
            "return-code": 0,
            "stdout": "to stdout\n",
        }
        assert first.log == ("looking",)
        # The completed action's relation write is flushed with its outcome ...
        assert done[0].relations == {1: bus.RelationWrite(unit={"by-action": "a"})}
        # ... and so is a failed one's (action-fail is not a process failure).
        assert second.status == "failed" and second.message == "asked to fail"
        assert second.results["return-code"] == 0
        assert done[1].relations == {1: bus.RelationWrite(unit={"by-action": "b"})}
        assert [m.message for m in outbox.of(bus.ActionLog)] == ["looking", "looking"]
        assert [m.action_id for m in outbox.of(bus.ActionLog)] == ["7", "8"]
        # The action envs were right, and the unit stayed in error throughout.
        assert outbox.last.agent.status == "error"
        assert agent.local.error is not None
        assert agent.local.actions_done == ("7", "8")


async def test_departure_and_removal_of_the_relation(tmp_path: Path) -> None:
    async with running(tmp_path) as (agent, outbox):
        await outbox.wait(lambda: bool(outbox.commits) and outbox.last.agent.status == "idle")
        last = agent.local.commit_seq
        agent.update(state(commit_seq=last, relations=(db(units={}), cluster())), 2)
        await outbox.idle_on(2)
        departed = events(agent)[-1]
        assert departed["env"]["JUJU_HOOK_NAME"] == "db-relation-departed"
        assert departed["env"]["JUJU_REMOTE_UNIT"] == "mysql/0"
        assert departed["env"]["JUJU_DEPARTING_UNIT"] == "mysql/0"
        assert (departed["unit"], departed["departing"], departed["units"]) == (
            "mysql/0",
            "mysql/0",
            [],
        )

        agent.update(state(commit_seq=last, relations=(db(units={}, life="dying"), cluster())), 3)
        await outbox.wait(lambda: bool(outbox.commits) and outbox.commits[-1].scope == {1: "leave"})
        broken = events(agent)[-1]
        assert broken["env"]["JUJU_HOOK_NAME"] == "db-relation-broken"
        assert broken["env"]["JUJU_REMOTE_UNIT"] == ""
        assert (broken["unit"], broken["app"]) == (None, "mysql")
        assert outbox.commits[-1].hook == "db-relation-broken"
        assert agent.local.relations[1].broken
        # Once the controller forgets the relation, so does the unit.
        agent.update(state(commit_seq=last + 1, relations=(cluster(),)), 4)
        await outbox.idle_on(4)
        assert 1 not in agent.local.relations


async def test_unit_teardown_departs_and_breaks_everything_then_stops(tmp_path: Path) -> None:
    async with running(tmp_path) as (agent, outbox):
        await outbox.wait(lambda: bool(outbox.commits) and outbox.last.agent.status == "idle")
        last = agent.local.commit_seq
        peers = cluster(units={"relay/1": 1}, unit_data={"relay/1": {}})
        agent.update(state(commit_seq=last, relations=(db(), peers)), 2)
        await outbox.wait(lambda: "cluster-relation-joined" in hooks(agent))
        await outbox.wait(lambda: outbox.last.agent.status == "idle")
        count = len(events(agent))
        agent.update(
            state(commit_seq=agent.local.commit_seq, life="dying", relations=(db(), peers)), 3
        )
        await outbox.wait(lambda: outbox.last.removed)
        teardown = events(agent)[count:]
        assert [
            (e["env"]["JUJU_HOOK_NAME"], e["env"].get("JUJU_DEPARTING_UNIT")) for e in teardown
        ] == [
            ("db-relation-departed", "relay/0"),
            ("db-relation-broken", None),
            ("cluster-relation-departed", "relay/0"),
            ("cluster-relation-broken", None),
        ]
        leaves = [c.scope for c in outbox.commits if c.scope and "leave" in c.scope.values()]
        assert leaves == [{1: "leave"}, {2: "leave"}]
        assert agent.local.stopped and agent.local.removed


async def test_missing_action_handler_fails_the_action(tmp_path: Path) -> None:
    bash = build_zip({"metadata.yaml": "name: plain\nsummary: s\ndescription: d\n"})
    outbox = Outbox()
    remote = bus.UnitRemoteState(
        unit="plain/0",
        application="plain",
        charm=bus.CharmRef(sha256=hashlib.sha256(bash).hexdigest(), name="plain"),
        config_hash="h1",
        leader=True,
        actions=(bus.ActionRequest(id="3", name="backup"),),
    )
    agent = unit.UnitAgent(
        remote=remote,
        paths=unit.UnitPaths.for_unit(tmp_path, "plain/0"),
        model=MODEL,
        outbox=outbox,
        charms=Charms(bash),
    )
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(agent.run())
        try:
            await outbox.wait(lambda: bool(outbox.commits))
        finally:
            task.cancel()
    outcome = outbox.commits[0].action
    assert outcome == bus.ActionOutcome(
        id="3", status="failed", message='action not implemented on unit "plain/0"'
    )
    assert agent.local.error is None
    assert agent.local.actions_done == ("3",)
