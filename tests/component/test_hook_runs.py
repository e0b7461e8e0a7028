"""Hook runs as the controller keeps them, on SQLite and on a real PostgreSQL: stored from
the agent of the unit's machine only and once per run id, read back oldest first, bounded
per unit (the oldest pruned in the batch's own transaction), moving no model revision, and
confined to their model (a unit of the same name in another model sees none of them; a
user of one model cannot read another's)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.controller.state import _tables as t
from runecraft.schemas import bus
from runecraft.schemas import hooks as hook_schema
from tests.component._api import TOKEN, URL, controller_app

from .test_agent_group_commit import counting
from .test_relations import World, make_world, make_world_again


def run(unit: str, run_id: int, hook: str = "config-changed", **fields: object) -> bus.HookRun:
    values: dict[str, object] = {
        "unit": unit,
        "id": run_id,
        "hook": hook,
        "started": 1_700_000_000.0 + run_id,
        "duration": 0.25,
        "exit_code": 0,
        "outcome": "succeeded",
        "cause": hook_schema.HookCause(
            kind="config", summary="config hash abc", details={"config_hash": "abc"}
        ),
        "env": {"JUJU_HOOK_NAME": hook, "JUJU_UNIT_NAME": unit},
        "tool_calls": (
            hook_schema.ToolCallRecord(
                tool="config-get", args=("greeting",), exit_code=0, stdout="hi\n"
            ),
        ),
    }
    values.update(fields)
    return bus.HookRun.model_validate(values)


def hooks_service(world: World) -> services.HookService:
    return services.HookService(world.store)


async def test_runs_of_the_machines_units_are_stored_once_and_read_oldest_first(
    store_on_each: Store,
) -> None:
    world = await make_world(store_on_each)
    before = await world.revision()
    await world.send(2, run("web/0", 1, "install"), run("web/0", 2), run("web/1", 1, "start"))
    await world.send(2, run("web/0", 2, "a repeat is ignored"))
    await world.send(0, run("web/0", 3, "from another machine"))  # web/0 is on machine 2
    assert await world.revision() == before  # not model state

    hooks = hooks_service(world)
    listed = await hooks.runs("m", "web/0", limit=10)
    assert [(r.id, r.hook, r.outcome, r.cause.summary) for r in listed] == [
        (1, "install", "succeeded", "config hash abc"),
        (2, "config-changed", "succeeded", "config hash abc"),
    ]
    assert [r.id for r in await hooks.runs("m", "web/0", limit=1)] == [2]
    detail = await hooks.run("m", "web/0", 2)
    assert detail.env == {"JUJU_HOOK_NAME": "config-changed", "JUJU_UNIT_NAME": "web/0"}
    assert detail.tool_calls[0].stdout == "hi\n"
    assert detail.duration == 0.25
    assert [r.hook for r in await hooks.runs("m", "web/1", limit=10)] == ["start"]


async def test_each_unit_keeps_its_newest_runs_pruned_in_the_same_transaction(
    store_on_each: Store,
) -> None:
    world = await make_world(store_on_each)
    keep = hook_schema.KEEP_PER_UNIT
    await world.send(2, *(run("web/0", n) for n in range(1, keep + 1)), run("web/1", 1))
    with counting(store_on_each) as batch:
        await world.send(2, *(run("web/0", n) for n in range(keep + 1, keep + 6)))
    assert batch.commits == 1
    assert len(batch.touching("INSERT INTO hook_runs")) == 1
    assert len(batch.touching("DELETE FROM hook_runs")) == 1

    with counting(store_on_each) as many:  # many units: still one prune
        await world.send(2, run("web/0", keep + 6), run("web/1", 2))
    assert len(many.touching("DELETE FROM hook_runs")) == 1
    assert len(many.statements) == len(batch.statements)

    listed = await hooks_service(world).runs("m", "web/0", limit=keep)
    assert len(listed) == keep
    assert (listed[0].id, listed[-1].id) == (7, keep + 6)
    with pytest.raises(errors.NotFoundError, match="hook run 5 of unit"):
        await hooks_service(world).run("m", "web/0", 5)
    assert len(await hooks_service(world).runs("m", "web/1", limit=keep)) == 2  # none pruned


async def test_runs_within_the_bound_are_stored_without_a_prune(store_on_each: Store) -> None:
    """A unit's first `keep` runs leave nothing to prune: no DELETE in their batch; the
    first run past the bound prunes, and only its unit's oldest."""
    world = await make_world(store_on_each)
    async with store_on_each.write() as tx:
        tx.hook_runs.keep = 3
        with counting(store_on_each) as early:
            await tx.hook_runs.record(
                [(world.uuid, 2, run(unit, n)) for unit in ("web/0", "web/1") for n in (1, 2, 3)]
            )
        assert len(early.touching("INSERT INTO hook_runs")) == 1
        assert early.touching("DELETE FROM hook_runs") == []
        with counting(store_on_each) as later:
            await tx.hook_runs.record([(world.uuid, 2, run("web/0", 4))])
        assert len(later.touching("DELETE FROM hook_runs")) == 1
    assert [r.id for r in await hooks_service(world).runs("m", "web/0", limit=10)] == [2, 3, 4]
    assert [r.id for r in await hooks_service(world).runs("m", "web/1", limit=10)] == [1, 2, 3]


async def test_a_batch_of_runs_is_one_statement_that_reads_nothing(
    store_on_each: Store,
) -> None:
    """Runs are inserted from a select of their unit on the sending machine, a stored run
    conflicting into nothing: one statement per batch, whatever it holds, and no reads."""
    world = await make_world(store_on_each)
    await world.send(2, run("web/0", 1, "install"))
    with counting(store_on_each) as batch:
        await world.send(
            2,
            run("web/0", 1, "a repeat is ignored"),
            run("web/0", 2),
            run("web/1", 1, "start"),
            run("web/0", 3, "twice in one batch"),
            run("web/0", 3, "twice in one batch"),
        )
    assert [s.split()[0] for s in batch.touching("hook_runs")] == ["INSERT"]
    assert [s for s in batch.statements if s.lstrip().startswith("SELECT")] == []
    await world.send(1, run("web/0", 9, "from another machine"), run("db/0", 9))
    listed = await hooks_service(world).runs("m", "web/0", limit=10)
    assert [(r.id, r.hook) for r in listed] == [
        (1, "install"),
        (2, "config-changed"),
        (3, "twice in one batch"),
    ]
    assert [r.id for r in await hooks_service(world).runs("m", "web/1", limit=10)] == [1]
    assert await hooks_service(world).runs("m", "db/0", limit=10) == []  # db/0 is on 0


async def test_another_machines_run_of_the_same_id_in_a_batch_does_not_hide_the_owners(
    store_on_each: Store,
) -> None:
    """Runs of several agents stored together: one naming a unit it does not run, with the
    id of that unit's own run, is dropped without taking the owner's run with it."""
    world = await make_world(store_on_each)
    async with store_on_each.write() as tx:
        await tx.hook_runs.record(
            [
                (world.uuid, 2, run("web/0", 1, "install")),  # web/0 is on machine 2
                (world.uuid, 0, run("web/0", 1, "from another machine")),
            ]
        )
    listed = await hooks_service(world).runs("m", "web/0", limit=10)
    assert [(r.id, r.hook) for r in listed] == [(1, "install")]


async def test_a_small_bound_prunes_per_unit(store_on_each: Store) -> None:
    world = await make_world(store_on_each)
    async with store_on_each.write() as tx:
        tx.hook_runs.keep = 2
        await tx.hook_runs.record(
            [(world.uuid, 2, run(unit, n)) for unit in ("web/0", "web/1") for n in (1, 2, 3)]
        )
    for unit in ("web/0", "web/1"):
        assert [r.id for r in await hooks_service(world).runs("m", unit, limit=10)] == [2, 3]


async def test_a_unit_of_another_model_sees_none_of_its_namesakes_runs(
    store_on_each: Store,
) -> None:
    old = await make_world(store_on_each)
    await old.send(2, run("web/0", 1, "install"), run("web/0", 2))
    new = await make_world_again(store_on_each)  # `m-old` is the first, `m` the second
    await new.send(2, run("web/0", 7, "upgrade-charm"))

    hooks = hooks_service(new)
    assert [r.id for r in await hooks.runs("m-old", "web/0", limit=10)] == [1, 2]
    assert [r.id for r in await hooks.runs("m", "web/0", limit=10)] == [7]
    with pytest.raises(errors.NotFoundError, match='hook run 1 of unit "web/0" not found'):
        await hooks.run("m", "web/0", 1)
    # The agent of `m`'s machine 2 speaks for `m`'s units only.
    assert (await hooks.run("m", "web/0", 7)).hook == "upgrade-charm"
    assert (await hooks.run("m-old", "web/0", 2)).hook == "config-changed"

    # A model's runs go with it; another's stay.
    await store_on_each.delete_model(old.uuid)
    async with store_on_each.engine.connect() as conn:
        rows = await conn.execute(sa.select(t.hook_runs.c.model_uuid, t.hook_runs.c.id))
        assert [tuple(row) for row in rows] == [(new.uuid, 7)]


async def test_bad_reads_name_what_is_wrong(store_on_each: Store) -> None:
    world = await make_world(store_on_each)
    hooks = hooks_service(world)
    with pytest.raises(errors.NotFoundError, match='unit "web/9" not found in model "m"'):
        await hooks.runs("m", "web/9", limit=5)
    with pytest.raises(errors.InvalidSpecError, match='invalid unit name "web"'):
        await hooks.runs("m", "web", limit=5)
    for limit in (0, -1, hook_schema.KEEP_PER_UNIT + 1):
        with pytest.raises(errors.InvalidSpecError, match=f"invalid limit {limit}"):
            await hooks.runs("m", "web/0", limit=limit)
    with pytest.raises(errors.NotFoundError, match='model "nope" not found'):
        await hooks.runs("nope", "web/0", limit=5)
    assert await hooks.runs("m", "web/0", limit=5) == []  # a unit that ran nothing yet


async def test_the_routes_answer_typed_runs_clear_404s_and_keep_models_apart(
    tmp_path: Path,
) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    try:
        old = await make_world(store)
        await old.send(2, run("web/0", 1, "install"))
        new = await make_world_again(store)
        await new.send(2, run("web/0", 1, "start"))
        app = controller_app(store, new.hub, published_revision=None)
        transport = httpx.ASGITransport(app=app)
        base = "/v1/models/{model}/units/web/0/hooks"
        async with httpx.AsyncClient(
            transport=transport, base_url=URL, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as admin:
            listed = await admin.get(base.format(model="m"), params={"limit": 5})
            assert listed.status_code == 200
            assert [(r["id"], r["hook"]) for r in listed.json()] == [(1, "start")]
            one = await admin.get(base.format(model="m-old") + "/1")
            assert one.status_code == 200
            assert one.json()["tool_calls"][0]["tool"] == "config-get"
            missing = await admin.get(base.format(model="m") + "/2")
            assert missing.status_code == 404
            assert "hook run 2" in missing.json()["error"]["message"]
            unknown = await admin.get("/v1/models/m/units/web/9/hooks")
            assert unknown.status_code == 404
            assert 'unit "web/9" not found' in unknown.json()["error"]["message"]
            for limit in (0, -1):
                bad = await admin.get(base.format(model="m"), params={"limit": limit})
                assert bad.status_code == 400, bad.text
            assert (await admin.get(base.format(model="m") + "/0")).status_code == 400

            assert (await admin.post("/v1/users", json=_user())).status_code == 201
            grant = {"level": "read", "models": ["m"]}
            assert (await admin.post("/v1/users/ro/grant", json=grant)).status_code == 204
            login = await admin.post("/v1/login", json={"user": "ro", "password": _PASSWORD})
            token = login.json()["token"]
        async with httpx.AsyncClient(
            transport=transport, base_url=URL, headers={"Authorization": f"Bearer {token}"}
        ) as reader:
            assert (await reader.get(base.format(model="m"))).status_code == 200
            refused = await reader.get(base.format(model="m-old"))
            assert refused.status_code == 403
            assert (await reader.get(base.format(model="m-old") + "/1")).status_code == 403
    finally:
        await store.close()


_PASSWORD = "pw-" + "x" * 8


def _user() -> dict[str, str]:
    return {"name": "ro", "password": _PASSWORD}


def test_a_record_at_its_bounds_fits_one_bus_message() -> None:
    """The largest record an agent can make is well under the bus's payload limit."""
    calls = tuple(
        hook_schema.ToolCallRecord(
            tool="relation-get",
            args=("-",),
            exit_code=0,
            stdout="x" * hook_schema.MAX_TOOL_OUTPUT,
            stderr="",
        )
        for _ in range(hook_schema.MAX_TOOL_BYTES // hook_schema.MAX_TOOL_OUTPUT + 1)
    )
    env = {f"JUJU_{n}": "v" * 256 for n in range(40)}
    payload = bus.encode(run("web/0", 1, tool_calls=calls, env=env, started=time.time()))
    assert len(payload) < bus.MAX_PAYLOAD_BYTES // 4
    assert isinstance(bus.decode_agent_message(payload), bus.HookRun)
