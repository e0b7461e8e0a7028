"""Charm secrets on a real store (SQLite and PostgreSQL): secret ops in hook commits, what
each unit is sent, tracking, obsolete revisions, and ops the controller refuses."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from runecraft.controller.reconcilers import _plan
from runecraft.controller.state import Store
from runecraft.controller.state import _tables as t
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec

from .test_relations import REGULAR, World, commit, integrated, make_world, store

__all__ = ["store"]

SID = "c0ffee00000000000001"


def op(kind: str, **fields: Any) -> sec.SecretOp:
    return sec.SecretOp(op=kind, id=fields.pop("id", SID), **fields)  # type: ignore[arg-type]


async def machine_snapshots(world: World) -> dict[int, bus.MachineSnapshot]:
    """Every machine's snapshot of the model, as the reconciler would send it."""
    snap = (await world.store.snapshot(world.uuid)).for_model(world.uuid)
    relations = _plan.RelationState(snap.relations, snap.endpoints, snap.scopes, snap.databags)
    return _plan.machine_snapshots(
        snap.models[0],
        snap.applications,
        snap.units,
        snap.machines,
        snap.charms,
        relations,
        snap.actions,
        snap.secrets,
    )


async def views(world: World) -> dict[str, dict[str, sec.SecretRemote]]:
    """Every unit's secrets as the reconciler would send them."""
    return {
        unit.unit: {s.id: s for s in unit.secrets}
        for machine in (await machine_snapshots(world)).values()
        for unit in machine.units
    }


async def rows(store: Store, table: sa.Table) -> list[dict[str, Any]]:
    async with store.write() as tx:
        return [dict(r._mapping) for r in await tx.conn.execute(sa.select(table))]


async def test_owner_grants_consumer_tracks_and_obsolete_revisions(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    await world.send(
        0,
        commit(
            "db/0",
            1,
            secrets=(
                op("add", owner="application", label="creds", content={"password": "one"}),
                op("grant", relation_id=REGULAR, app="web"),
            ),
        ),
    )
    seen = await views(world)
    owner = seen["db/0"][SID]
    assert (owner.owned, owner.manage, owner.label, owner.revision) == (True, True, "creds", 1)
    assert owner.content == {"password": "one"}
    assert [a.model_dump() for a in owner.access] == [
        {"target": "application-web", "scope": f"relation-{REGULAR}", "role": "view"}
    ]
    follower = seen["db/1"][SID]
    assert (follower.owned, follower.manage, follower.access) == (True, False, ())
    consumer = seen["web/0"][SID]
    assert (consumer.owned, consumer.tracked, consumer.label, consumer.revision) == (
        False,
        0,
        "",
        1,
    )
    assert consumer.description == "" and consumer.access == ()

    # The consumer reads (tracks revision 1, labels it); the owner publishes revision 2.
    await world.send(2, commit("web/0", 1, secrets=(op("track", revision=1, label="db"),)))
    await world.send(0, commit("db/0", 2, secrets=(op("set", content={"password": "two"}),)))
    # Same content again: no new revision (Juju 3.6).
    await world.send(0, commit("db/0", 3, secrets=(op("set", content={"password": "two"}),)))
    seen = await views(world)
    consumer = seen["web/0"][SID]
    assert (consumer.revision, consumer.tracked, consumer.label) == (2, 1, "db")
    assert consumer.content == {"password": "two"}
    assert consumer.tracked_content == {"password": "one"}
    assert seen["db/0"][SID].obsolete == ()  # web/0 still tracks revision 1
    assert seen["web/1"][SID].tracked == 0

    # The consumer refreshes: revision 1 is obsolete for the owner, which removes it.
    await world.send(2, commit("web/0", 2, secrets=(op("track", revision=2),)))
    assert (await views(world))["db/0"][SID].obsolete == (1,)
    await world.send(0, commit("db/0", 4, secrets=(op("remove", revision=1),)))
    assert (await views(world))["db/0"][SID].obsolete == ()
    revisions = (await store.snapshot()).secrets.revisions  # content unsealed
    assert [(r.revision, r.content) for r in revisions] == [(2, {"password": "two"})]

    # Revoking the relation grant hides it from the consumer; removing deletes every row.
    await world.send(0, commit("db/0", 5, secrets=(op("revoke", relation_id=REGULAR),)))
    assert SID not in (await views(world))["web/0"]
    await world.send(0, commit("db/0", 6, secrets=(op("remove"),)))
    for table in (t.secrets, t.secret_revisions, t.secret_consumers, t.secret_grants):
        assert await rows(store, table) == []


async def test_controller_refuses_ops_the_unit_may_not_make(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    # A non-leader adds an app secret; a unit of another application changes one.
    await world.send(1, commit("db/1", 1, secrets=(op("add", content={"key": "v"}),)))
    assert await rows(store, t.secrets) == []
    await world.send(0, commit("db/0", 1, secrets=(op("add", content={"key": "v"}),)))
    await world.send(
        2,
        commit(
            "web/0",
            1,
            secrets=(
                op("set", content={"key": "stolen"}),
                op("grant", relation_id=REGULAR, app="web"),
                op("track", revision=1),
                op("remove"),
            ),
        ),
    )
    # A grant to an application not on the relation is dropped too.
    await world.send(0, commit("db/0", 2, secrets=(op("grant", relation_id=0, app="web"),)))
    (secret,) = await rows(store, t.secrets)
    assert (secret["revision"], secret["owner_kind"], secret["owner"]) == (1, "application", "db")
    assert await rows(store, t.secret_grants) == []
    assert await rows(store, t.secret_consumers) == []
    assert SID not in (await views(world))["web/0"]
    # The unit's commits still applied (their other effects and commit seq).
    assert (await world.unit("web/0")).commit_seq == 1


async def test_unit_secrets_are_private_to_their_unit(store: Store) -> None:
    world = await make_world(store)
    await world.send(1, commit("db/1", 1, secrets=(op("add", owner="unit", content={"key": "v"}),)))
    seen = await views(world)
    assert seen["db/1"][SID].manage and seen["db/1"][SID].owner == "unit"
    assert SID not in seen["db/0"]


async def test_secrets_go_with_their_owner(store: Store) -> None:
    world = await make_world(store)
    await integrated(world)
    unit_secret = "c0ffee00000000000002"
    await world.send(
        0,
        commit(
            "db/0",
            1,
            secrets=(
                op("add", content={"key": "v"}),
                op("grant", relation_id=REGULAR, app="web"),
            ),
        ),
    )
    await world.send(
        1,
        commit("db/1", 1, secrets=(op("add", id=unit_secret, owner="unit", content={"key": "u"}),)),
    )
    await world.send(2, commit("web/0", 1, secrets=(op("track", revision=1),)))
    async with store.write("m") as tx:
        await tx.units.delete(await tx.units.get("db/1"))
        await tx.units.delete(await tx.units.get("web/0"))
    assert [r["id"] for r in await rows(store, t.secrets)] == [SID]
    assert await rows(store, t.secret_consumers) == []
    async with store.write("m") as tx:
        await tx.units.delete(await tx.units.get("db/0"))
        await tx.applications.delete(await tx.applications.get("db"))
    for table in (t.secrets, t.secret_revisions, t.secret_grants):
        assert await rows(store, table) == []


async def test_rotation_is_scheduled_and_moves_after_the_hook(store: Store) -> None:
    world = await make_world(store)
    before = time.time()
    await world.send(
        0, commit("db/0", 1, secrets=(op("add", rotate="hourly", content={"key": "v"}),))
    )
    (first,) = await rows(store, t.secrets)
    assert before + 3600 <= first["rotates"] <= time.time() + 3600
    owner = (await views(world))["db/0"][SID]
    assert owner.rotate == "hourly" and owner.rotates == sec.format_time(first["rotates"])
    # A follower's `rotated` is refused; the leader's moves the schedule on.
    await world.send(1, commit("db/1", 1, secrets=(op("rotated"),)))
    assert (await rows(store, t.secrets))[0]["rotates"] == first["rotates"]
    await world.send(0, commit("db/0", 2, secrets=(op("rotated"),)))
    assert (await rows(store, t.secrets))[0]["rotates"] > first["rotates"]
    assert (await rows(store, t.secrets))[0]["revision"] == 1
