"""Relations on a real store (SQLite and PostgreSQL): integrate, hook commits applied exactly
once, leader settings, scope, garbage collection and clean-up — fed with real bus messages."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from runecraft import errors
from runecraft.controller import services
from runecraft.controller.reconcilers import _plan
from runecraft.controller.state import Store
from runecraft.controller.state import _tables as t
from runecraft.schemas import api, bus
from runecraft.schemas import charm as charm_schema

DB_CHARM = {
    "name": "db",
    "provides": {"db": "mysql"},
    "peers": {"ha": "db-peers"},
}
WEB_CHARM = {
    "name": "web",
    "requires": {"db": {"interface": "mysql", "limit": 1}},
}
ACTIONS = {
    "backup": {
        "params": {"target": {"type": "string"}, "level": {"type": "integer", "default": 6}},
        "required": ["target"],
    },
    "ping": {},
}


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@dataclass
class World:
    """A model with two applications placed on machines, and the services over it."""

    store: Store
    hub: services.ChangeHub
    models: services.ModelService
    relations: services.RelationService
    actions: services.ActionService
    agents: services.AgentService
    uuid: str
    charms: dict[str, str]

    async def send(self, machine: int, *messages: bus.AgentMessage) -> None:
        """Messages from one machine's agent, applied as one batch."""
        agent = f"machine-{machine}.{self.uuid}"
        await self.agents.apply([(agent, m) for m in messages])

    async def revision(self) -> int:
        return (await self.store.model("m")).revision

    async def bags(self) -> dict[tuple[int, str, str], tuple[dict[str, str], int]]:
        snapshot = await self.store.snapshot(self.uuid)
        return {
            (b.relation_id, b.owner_kind, b.owner): (b.data, b.version) for b in snapshot.databags
        }

    async def scopes(self) -> set[tuple[int, str]]:
        snapshot = await self.store.snapshot(self.uuid)
        return {(s.relation_id, s.unit) for s in snapshot.scopes}

    async def unit(self, name: str) -> Any:
        snapshot = await self.store.snapshot(self.uuid)
        return next(u for u in snapshot.units if u.name == name)


async def put_charm(
    store: Store, meta: dict[str, Any], actions: dict[str, Any] | None = None, tag: str = ""
) -> str:
    parsed = charm_schema.CharmMeta.model_validate(meta)
    sha = (parsed.name + tag).encode().hex().ljust(64, "0")[:64]
    await store.put_charm(
        sha256=sha,
        name=parsed.name,
        meta=parsed.model_dump(mode="json", by_alias=True),
        config={"options": {"greeting": {"type": "string", "default": "hi"}}},
        actions=charm_schema.CharmActions.model_validate(actions or {}).model_dump(
            mode="json", by_alias=True
        ),
        data=sha.encode(),
    )
    return sha


async def make_world(store: Store, *, web_units: int = 2) -> World:
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    model = await models.add_model("m")
    charms = {
        "db": await put_charm(store, DB_CHARM, ACTIONS),
        "web": await put_charm(store, WEB_CHARM),
    }
    await models.deploy(
        "m", api.DeployRequest(application="db", charm_sha256=charms["db"], num_units=2)
    )
    await models.deploy(
        "m", api.DeployRequest(application="web", charm_sha256=charms["web"], num_units=0)
    )
    # db/0 on machine 0, db/1 on machine 1, web units on machine 2; db/0 and web/0 lead.
    async with store.write("m") as tx:
        await tx.machines.insert()
    if web_units:
        await models.add_units(
            "m", "web", api.AddUnitsRequest(num_units=web_units, to=["2"] * web_units)
        )
    async with store.write("m") as tx:
        for number in range(3):
            await tx.machines.update(await tx.machines.get(number), address=f"10.0.0.{number}")
        await tx.applications.update(await tx.applications.get("db"), leader="db/0")
        await tx.applications.update(await tx.applications.get("web"), leader="web/0")
    return World(
        store=store,
        hub=hub,
        models=models,
        relations=services.RelationService(store, hub),
        actions=services.ActionService(store, hub),
        agents=services.AgentService(store, hub, lease_seconds=60.0),
        uuid=model.uuid,
        charms=charms,
    )


def commit(unit: str, seq: int, **fields: Any) -> bus.HookCommit:
    return bus.HookCommit(unit=unit, seq=seq, hook=fields.pop("hook", "test-hook"), **fields)


def writes(
    relation: int, unit: dict[str, str] | None = None, app: dict[str, str] | None = None
) -> dict[int, bus.RelationWrite]:
    return {relation: bus.RelationWrite(unit=unit or {}, app=app or {})}


PEER, REGULAR = 0, 1


async def integrated(world: World) -> None:
    relation, _ = await world.relations.integrate("m", "web", "db")
    assert relation.id == REGULAR


# --- integrate -----------------------------------------------------------------------------


async def test_deploy_makes_one_peer_relation_per_peer_endpoint(store: Store) -> None:
    world = await make_world(store)
    listed = await world.relations.relations("m")
    assert [
        (r.id, r.key, [(e.application, e.endpoint, e.role) for e in eps]) for r, eps in listed
    ] == [(PEER, "db:ha", [("db", "ha", "peer")])]


async def test_integrate_stores_both_endpoints(store: Store) -> None:
    world = await make_world(store)
    before = await world.revision()
    relation, pair = await world.relations.integrate("m", "db", "web:db")
    assert (relation.id, relation.key, relation.life) == (REGULAR, "web:db db:db", "alive")
    assert [(e.application, e.role, e.interface) for e in pair] == [
        ("web", "requirer", "mysql"),
        ("db", "provider", "mysql"),
    ]
    assert await world.revision() == before + 1
    snapshot = await store.snapshot(world.uuid)
    assert sorted(
        (e.relation_id, e.application, e.endpoint, e.relation_limit) for e in snapshot.endpoints
    ) == [
        (PEER, "db", "ha", None),
        (REGULAR, "db", "db", None),
        (REGULAR, "web", "db", 1),
    ]


@pytest.mark.parametrize(
    ("first", "second", "error", "message"),
    [
        (
            "web",
            "db",
            errors.ConflictError,
            'cannot add relation "web:db db:db": relation web:db db:db already exists',
        ),
        (
            "web",
            "db2",
            errors.ConflictError,
            'cannot add relation "web:db db2:db": establishing a new relation for web:db '
            "would exceed its maximum relation limit of 1",
        ),
        ("ghost", "db", errors.NotFoundError, 'application "ghost" not found in model "m"'),
        ("web:nope", "db", errors.NotFoundError, 'application "web" has no "nope" relation'),
        ("db:ha", "web", errors.InvalidSpecError, 'endpoint "db:ha" is a peer relation'),
        ("db", "db", errors.InvalidSpecError, "to itself"),
    ],
)
async def test_bad_integrate_changes_nothing(
    store: Store, first: str, second: str, error: type[errors.RunecraftError], message: str
) -> None:
    world = await make_world(store)
    await integrated(world)
    # A second provider: relating web to it would take web:db (limit 1) to two relations.
    other = await put_charm(store, {"name": "db", "provides": {"db": "mysql"}}, tag="2")
    await world.models.deploy(
        "m", api.DeployRequest(application="db2", charm_sha256=other, num_units=0)
    )
    before = await world.revision()
    with pytest.raises(error) as caught:
        await world.relations.integrate("m", first, second)
    assert message in caught.value.message
    assert await world.revision() == before
    assert len(await world.relations.relations("m")) == 2  # db's peer relation and web-db


async def test_integrate_refuses_a_dying_application(store: Store) -> None:
    world = await make_world(store)
    await world.models.remove_application("m", "web")
    with pytest.raises(errors.ConflictError, match='application "web" is being removed'):
        await world.relations.integrate("m", "web", "db")


async def test_remove_relation_makes_it_dying_and_again_is_harmless(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    removed = await world.relations.remove_relation("m", ["db", "web"])
    assert removed.id == REGULAR
    again = await world.relations.remove_relation("m", [str(REGULAR)])
    assert again.life == "dying"
    lives = {r.id: r.life for r, _ in await world.relations.relations("m")}
    assert lives == {PEER: "alive", REGULAR: "dying"}
    with pytest.raises(errors.ConflictError, match="is being removed"):
        await world.relations.integrate("m", "web", "db")
    with pytest.raises(errors.NotFoundError, match='relation matching "web db:nope"'):
        await world.relations.remove_relation("m", ["web", "db:nope"])


# --- hook commits --------------------------------------------------------------------------


async def test_entering_scope_seeds_the_machine_address(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(2, commit("web/0", 1, hook="db-relation-created", scope={REGULAR: "enter"}))
    assert await world.scopes() == {(REGULAR, "web/0")}
    address = {"private-address": "10.0.0.2", "ingress-address": "10.0.0.2"}
    assert (await world.bags())[(REGULAR, "unit", "web/0")] == (address, 1)
    assert (await world.unit("web/0")).commit_seq == 1


async def test_a_commit_applies_exactly_once(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    first = commit(
        "web/0",
        1,
        scope={REGULAR: "enter"},
        relations=writes(REGULAR, {"a": "1"}, {"x": "y"}),
        state_set={"k": "v"},
        opened_ports=("80/tcp",),
    )
    await world.send(2, first)
    bags, unit, revision = await world.bags(), await world.unit("web/0"), await world.revision()
    assert bags[(REGULAR, "unit", "web/0")][1] == 2  # seeded, then written
    assert bags[(REGULAR, "app", "web")] == ({"x": "y"}, 1)
    await world.send(2, first)
    await world.send(2, first, first)
    assert await world.bags() == bags
    assert await world.unit("web/0") == unit
    assert await world.revision() == revision


async def test_commits_apply_in_order_and_wait_for_a_gap(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    enter = commit("web/0", 1, scope={REGULAR: "enter"})
    second = commit("web/0", 2, relations=writes(REGULAR, {"n": "2"}))
    third = commit("web/0", 3, relations=writes(REGULAR, {"n": "3"}))
    await world.send(2, enter, third)
    assert (await world.unit("web/0")).commit_seq == 1
    assert "n" not in (await world.bags())[(REGULAR, "unit", "web/0")][0]
    await world.send(2, second, third)  # the agent resends everything above the ack
    assert (await world.unit("web/0")).commit_seq == 3
    assert (await world.bags())[(REGULAR, "unit", "web/0")][0]["n"] == "3"
    await world.send(2, second)  # stale: changes nothing
    assert (await world.bags())[(REGULAR, "unit", "web/0")][0]["n"] == "3"


async def test_versions_move_only_when_content_changes(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2, commit("web/0", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"a": "1"}))
    )
    version = (await world.bags())[(REGULAR, "unit", "web/0")][1]
    await world.send(
        2,
        commit("web/0", 2, relations=writes(REGULAR, {"a": "1"})),  # same value
        commit("web/0", 3, relations=writes(REGULAR, {"missing": ""})),  # delete nothing
    )
    assert (await world.bags())[(REGULAR, "unit", "web/0")][1] == version
    await world.send(2, commit("web/0", 4, relations=writes(REGULAR, {"a": ""})))
    data, moved = (await world.bags())[(REGULAR, "unit", "web/0")]
    assert moved == version + 1 and "a" not in data
    assert (await world.unit("web/0")).commit_seq == 4


async def test_only_the_leader_writes_the_application_bag(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2,
        commit("web/0", 1, scope={REGULAR: "enter"}),
        commit("web/1", 1, scope={REGULAR: "enter"}),
        commit("web/1", 2, relations=writes(REGULAR, {"u": "1"}, {"from": "follower"})),
    )
    bags = await world.bags()
    assert (REGULAR, "app", "web") not in bags
    assert bags[(REGULAR, "unit", "web/1")][0]["u"] == "1"  # the unit part still applies
    assert (await world.unit("web/1")).commit_seq == 2
    await world.send(2, commit("web/0", 2, relations=writes(REGULAR, app={"from": "leader"})))
    assert (await world.bags())[(REGULAR, "app", "web")] == ({"from": "leader"}, 1)


async def test_writes_outside_scope_or_relation_are_ignored(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2,
        commit("web/0", 1, relations=writes(REGULAR, {"a": "1"})),  # not in scope yet
        commit("web/0", 2, relations=writes(PEER, {"a": "1"}), scope={PEER: "enter"}),
        commit("web/0", 3, relations=writes(42, {"a": "1"})),
    )
    assert await world.bags() == {}
    assert await world.scopes() == set()
    assert (await world.unit("web/0")).commit_seq == 3


async def test_commits_are_confined_to_the_reporting_machine(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(0, commit("web/0", 1, scope={REGULAR: "enter"}))
    assert await world.scopes() == set()
    assert (await world.unit("web/0")).commit_seq == 0


async def test_charm_state_and_ports(store: Store) -> None:
    world = await make_world(store)
    await world.send(
        0,
        commit("db/0", 1, state_set={"a": "1", "b": "2"}, opened_ports=("80/tcp", "8080/tcp")),
        commit("db/0", 2, state_set={"a": "3"}, state_delete=("b",), closed_ports=("8080/tcp",)),
    )
    unit = await world.unit("db/0")
    assert unit.charm_state == {"a": "3"}
    assert unit.opened_ports == ["80/tcp"]


async def test_leaving_scope_keeps_the_data_until_the_relation_goes(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2, commit("web/0", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"a": "1"}))
    )
    await world.send(0, commit("db/0", 1, scope={REGULAR: "enter"}))
    await world.relations.remove_relation("m", ["web", "db"])
    await world.send(2, commit("web/0", 2, hook="db-relation-broken", scope={REGULAR: "leave"}))
    assert await world.scopes() == {(REGULAR, "db/0")}
    assert (REGULAR, "unit", "web/0") in await world.bags()
    snapshot = await store.snapshot(world.uuid)
    state = _plan.RelationState(
        snapshot.relations, snapshot.endpoints, snapshot.scopes, snapshot.databags
    )
    assert _plan.dead_relations(state) == []
    await world.send(0, commit("db/0", 2, scope={REGULAR: "leave"}))
    snapshot = await store.snapshot(world.uuid)
    state = _plan.RelationState(
        snapshot.relations, snapshot.endpoints, snapshot.scopes, snapshot.databags
    )
    assert _plan.dead_relations(state) == [REGULAR]
    async with store.write("m") as tx:
        await tx.relations.delete(world.uuid, [REGULAR])
    assert [r.id for r, _ in await world.relations.relations("m")] == [PEER]
    assert all(key[0] != REGULAR for key in await world.bags())


# --- leader settings ---------------------------------------------------------------------


async def test_leader_set_only_for_the_leader_and_versioned(store: Store) -> None:
    world = await make_world(store)

    async def settings() -> tuple[dict[str, str], int]:
        app = next(a for a in (await store.snapshot(world.uuid)).applications if a.name == "db")
        return app.leader_settings, app.leader_settings_version

    await world.send(1, bus.LeaderSet(unit="db/1", seq=1, settings={"k": "follower"}))
    assert await settings() == ({}, 0)
    await world.send(0, bus.LeaderSet(unit="db/0", seq=5, settings={"k": "v", "j": "w"}))
    assert await settings() == ({"k": "v", "j": "w"}, 1)
    await world.send(0, bus.LeaderSet(unit="db/0", seq=6, settings={"k": "v"}))
    assert await settings() == ({"k": "v", "j": "w"}, 1)
    await world.send(0, bus.LeaderSet(unit="db/0", seq=4, settings={"k": "stale"}))
    assert await settings() == ({"k": "v", "j": "w"}, 1)
    await world.send(0, bus.LeaderSet(unit="db/0", seq=7, settings={"j": ""}))
    assert await settings() == ({"k": "v"}, 2)


async def test_a_snapshot_built_from_the_store_shows_what_was_committed(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2, commit("web/0", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"w": "1"}))
    )
    await world.send(
        0,
        commit(
            "db/0",
            1,
            scope={REGULAR: "enter", PEER: "enter"},
            relations=writes(REGULAR, {"d": "1"}, {"pw": "s"}),
        ),
    )
    await world.send(1, commit("db/1", 1, scope={PEER: "enter"}))
    snapshot = await store.snapshot(world.uuid)
    model = snapshot.models[0]
    planned = _plan.machine_snapshots(
        model,
        snapshot.applications,
        snapshot.units,
        snapshot.machines,
        snapshot.charms,
        _plan.RelationState(
            snapshot.relations, snapshot.endpoints, snapshot.scopes, snapshot.databags
        ),
        snapshot.actions,
    )
    web0 = next(u for u in planned[2].units if u.unit == "web/0")
    assert web0.commit_seq == 1
    (view,) = web0.relations
    assert view.units == {"db/0": 2}
    assert view.app_data == {"pw": "s"}
    db1 = planned[1].units[0]
    peer = next(r for r in db1.relations if r.id == PEER)
    assert peer.units == {"db/0": 1}
    assert peer.unit_data["db/0"]["private-address"] == "10.0.0.0"


# --- clean-up ------------------------------------------------------------------------------


async def test_a_removed_unit_leaves_every_scope(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        2, commit("web/1", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"a": "1"}))
    )
    await world.models.remove_units("m", ["web/1"])
    removed = bus.UnitReport(
        unit="web/1",
        seq=1,
        workload=bus.StatusValue(status="terminated"),
        agent=bus.StatusValue(status="idle"),
        removed=True,
    )
    await world.send(2, removed)
    assert await world.scopes() == set()
    assert (REGULAR, "unit", "web/1") in await world.bags()  # readable while the relation lives


async def test_removing_an_application_kills_its_relations_but_not_peers(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.models.remove_application("m", "db")
    lives = {r.id: r.life for r, _ in await world.relations.relations("m")}
    assert lives == {PEER: "alive", REGULAR: "dying"}


async def test_deleting_a_model_deletes_its_relations_and_actions(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(2, commit("web/0", 1, scope={REGULAR: "enter"}))
    await world.actions.run("m", ["db/0"], "ping")
    await store.delete_model(world.uuid)
    async with store.engine.connect() as conn:
        for table in (t.relations, t.relation_endpoints, t.relation_scopes, t.databags, t.actions):
            count = (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
            assert count == 0, table.name


async def test_agent_batches_move_the_revision_once(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    before = await world.revision()
    await world.send(
        2,
        commit("web/0", 1, scope={REGULAR: "enter"}),
        commit("web/1", 1, scope={REGULAR: "enter"}),
        bus.UnitReport(
            unit="web/0",
            seq=time.time_ns(),
            workload=bus.StatusValue(status="active"),
            agent=bus.StatusValue(status="idle"),
        ),
    )
    assert await world.revision() == before + 1


@pytest.mark.parametrize("seed", range(6))
async def test_any_delivery_order_converges_to_in_order_application(
    store: Store, seed: int
) -> None:
    """Commits delivered shuffled, duplicated and with some lost; the agent then resends
    everything above the acknowledged seq (as the contract says) until it is caught up. The
    end state equals applying them once, in order."""
    world = await make_world(store)
    await integrated(world)
    commits = [
        commit("web/0", 1, scope={REGULAR: "enter"}, relations=writes(REGULAR, {"a": "1"})),
        commit("web/0", 2, relations=writes(REGULAR, {"a": "2", "b": "x"}, {"app": "1"})),
        commit("web/0", 3, relations=writes(REGULAR, {"b": ""}), state_set={"s": "3"}),
        commit("web/0", 4, relations=writes(REGULAR, {"a": "4"}), opened_ports=("80/tcp",)),
        commit("web/0", 5, relations=writes(REGULAR, app={"app": "5"}), state_delete=("s",)),
    ]
    rng = random.Random(seed)
    delivered = [c for c in commits for _ in range(rng.randint(0, 2))]  # lost or duplicated
    rng.shuffle(delivered)
    for start in range(0, len(delivered), 3):
        await world.send(2, *delivered[start : start + 3])
    for _ in range(len(commits)):
        acked = (await world.unit("web/0")).commit_seq
        if acked == len(commits):
            break
        await world.send(2, *commits[acked:])
    final = (
        await world.unit("web/0"),
        {k: v for k, v in (await world.bags()).items() if k[0] == REGULAR},
    )

    expected_world = await make_world_again(store)
    await expected_world.send(2, *commits)
    expected = (
        await expected_world.unit("web/0"),
        {k: v for k, v in (await expected_world.bags()).items() if k[0] == REGULAR},
    )
    assert final[0].commit_seq == expected[0].commit_seq == 5
    assert (final[0].charm_state, final[0].opened_ports) == (
        expected[0].charm_state,
        expected[0].opened_ports,
    )
    assert final[1] == expected[1]


async def make_world_again(store: Store) -> World:
    """A second model in the same store with the same content (for comparisons)."""
    async with store.write("m") as tx:
        await tx.models.update(name="m-old")
    world = await make_world(store)
    await integrated(world)
    return world
