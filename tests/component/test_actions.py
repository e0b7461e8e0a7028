"""Actions on a real store (SQLite and PostgreSQL): queueing with validated parameters,
outcomes and logs from agents, waiting for results."""

from __future__ import annotations

import asyncio

import pytest

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import bus
from tests.component.test_relations import commit, make_world, store

__all__ = ["store"]  # the two-database fixture, shared with test_relations


async def test_actions_get_increasing_ids_and_defaults(store: Store) -> None:
    world = await make_world(store)
    first = await world.actions.run("m", ["db/0"], "backup", {"target": "/srv"})
    both = await world.actions.run("m", ["db/0", "db/1"], "ping")
    assert [(a.id, a.unit, a.name, a.status) for a in first + both] == [
        (1, "db/0", "backup", "pending"),
        (2, "db/0", "ping", "pending"),
        (3, "db/1", "ping", "pending"),
    ]
    assert first[0].params == {"target": "/srv", "level": 6}
    pending = (await store.snapshot(world.uuid)).actions
    assert [(a.id, a.unit) for a in pending] == [(1, "db/0"), (2, "db/0"), (3, "db/1")]


async def test_app_leader_means_the_leader(store: Store) -> None:
    world = await make_world(store)
    (queued,) = await world.actions.run("m", ["db/leader"], "ping")
    assert queued.unit == "db/0"


@pytest.mark.parametrize(
    ("units", "action", "params", "error", "message"),
    [
        (["db/0"], "nope", {}, errors.NotFoundError, 'action "nope" not defined on unit "db/0"'),
        (["web/0"], "ping", {}, errors.NotFoundError, 'action "ping" not defined on unit "web/0"'),
        (["db/0"], "backup", {}, errors.InvalidSpecError, "'target' is a required property"),
        (
            ["db/0"],
            "backup",
            {"target": "/", "level": "high"},
            errors.InvalidSpecError,
            "level: 'high' is not of type 'integer'",
        ),
        (["db/0", "db/7"], "ping", {}, errors.NotFoundError, 'unit "db/7" not found in model "m"'),
        (["db"], "ping", {}, errors.InvalidSpecError, 'invalid unit name "db"'),
        (["ghost/leader"], "ping", {}, errors.NotFoundError, 'application "ghost" not found'),
        ([], "ping", {}, errors.InvalidSpecError, "no units given"),
    ],
)
async def test_bad_requests_queue_nothing(
    store: Store,
    units: list[str],
    action: str,
    params: dict[str, object],
    error: type[errors.RunecraftError],
    message: str,
) -> None:
    world = await make_world(store)
    before = await world.revision()
    with pytest.raises(error) as caught:
        await world.actions.run("m", units, action, params)
    assert message in caught.value.message
    assert await world.revision() == before
    assert (await store.snapshot(world.uuid)).actions == []


async def test_no_leader_yet(store: Store) -> None:
    world = await make_world(store)
    async with store.write("m") as tx:
        await tx.applications.update(await tx.applications.get("db"), leader=None)
    with pytest.raises(errors.NotFoundError, match='could not determine leader for "db"'):
        await world.actions.run("m", ["db/leader"], "ping")


async def test_a_dying_unit_takes_no_actions(store: Store) -> None:
    world = await make_world(store)
    await world.models.remove_units("m", ["db/1"])
    with pytest.raises(errors.ConflictError, match='unit "db/1" is being removed'):
        await world.actions.run("m", ["db/1"], "ping")


def outcome(action_id: str, status: str = "completed", **extra: object) -> bus.ActionOutcome:
    return bus.ActionOutcome.model_validate({"id": action_id, "status": status, **extra})


async def test_logs_and_outcome_come_back_once(store: Store) -> None:
    world = await make_world(store)
    (queued,) = await world.actions.run("m", ["db/0"], "backup", {"target": "/srv"})
    await world.send(0, bus.ActionLog(unit="db/0", action_id="1", message="starting"))
    running = await world.actions.get("m", "1")
    assert running.status == "running" and running.started is not None
    assert [e["message"] for e in running.log] == ["starting"]
    results = {"path": "/srv/x", "return-code": 0, "stdout": "ok\n", "stderr": ""}
    await world.send(
        0,
        commit("db/0", 1, hook="", action=outcome("1", results=results, message="")),
        bus.ActionLog(unit="db/0", action_id="1", message="too late"),
        commit("db/0", 2, action=outcome("1", "failed", message="replayed outcome")),
    )
    done = await world.actions.get("m", str(queued.id))
    assert (done.status, done.results, done.message) == ("completed", results, "")
    assert [e["message"] for e in done.log] == ["starting"]
    assert done.completed is not None
    assert (await store.snapshot(world.uuid)).actions == []
    assert (await world.unit("db/0")).commit_seq == 2


async def test_outcomes_and_logs_only_from_the_unit_that_runs_it(store: Store) -> None:
    world = await make_world(store)
    await world.actions.run("m", ["db/0"], "ping")
    await world.send(1, bus.ActionLog(unit="db/1", action_id="1", message="not mine"))
    await world.send(1, commit("db/1", 1, action=outcome("1")))
    await world.send(1, bus.ActionLog(unit="db/0", action_id="1", message="wrong machine"))
    record = await world.actions.get("m", "1")
    assert (record.status, record.log) == ("pending", [])


async def test_a_failed_action_keeps_its_message_and_the_log_of_the_outcome(store: Store) -> None:
    world = await make_world(store)
    await world.actions.run("m", ["db/0"], "ping")
    await world.send(0, bus.ActionLog(unit="db/0", action_id="1", message="one"))
    failed = outcome(
        "1", "failed", message="exit status 3", log=("one", "two"), results={"return-code": 3}
    )
    await world.send(0, commit("db/0", 1, action=failed))
    record = await world.actions.get("m", "1")
    assert (record.status, record.message) == ("failed", "exit status 3")
    assert [e["message"] for e in record.log] == ["one", "two"]


class _ObservedHub(services.ChangeHub):
    """A hub that says when someone started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = asyncio.Event()

    async def wait_after(self, generation: int, timeout: float) -> int:
        self.waiting.set()
        return await super().wait_after(generation, timeout)


async def test_wait_returns_when_the_outcome_arrives(store: Store) -> None:
    world = await make_world(store)
    await world.actions.run("m", ["db/0"], "ping")
    hub = _ObservedHub()
    waiter = asyncio.create_task(services.ActionService(store, hub).wait("m", "1", timeout=60.0))
    await asyncio.wait_for(hub.waiting.wait(), 10.0)  # it saw the action pending
    await world.send(0, commit("db/0", 1, action=outcome("1")))
    hub.changed()  # what the agent service's loop does after each batch
    record = await asyncio.wait_for(waiter, 10.0)
    assert record.status == "completed"


async def test_wait_gives_up_with_the_action_as_it_is(store: Store) -> None:
    world = await make_world(store)
    await world.actions.run("m", ["db/0"], "ping")
    assert (await world.actions.wait("m", "1", timeout=0.0)).status == "pending"


async def test_unknown_task(store: Store) -> None:
    world = await make_world(store)
    for ident in ("9", "x"):
        with pytest.raises(errors.NotFoundError, match=f'task "{ident}" not found in model "m"'):
            await world.actions.get("m", ident)


async def test_removing_a_unit_fails_its_unfinished_actions(store: Store) -> None:
    world = await make_world(store)
    await world.actions.run("m", ["db/1"], "ping")
    await world.models.remove_units("m", ["db/1"])
    removed = bus.UnitReport(
        unit="db/1",
        seq=1,
        workload=bus.StatusValue(status="terminated"),
        agent=bus.StatusValue(status="idle"),
        removed=True,
    )
    await world.send(1, removed)
    record = await world.actions.get("m", "1")
    assert (record.status, record.message) == ("failed", 'unit "db/1" was removed')
