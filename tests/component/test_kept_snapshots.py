"""Kept snapshots: a model's snapshot read part by part, each part read again only when one
of its tables was written since. After every kind of write (deploy, config, leadership,
offers, consuming, relating, scopes and bags of both sides of a cross-model relation,
secrets, a unit's report), what is kept equals a fresh whole read; and a read after a write
reads only the parts it touched. Real store on SQLite."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.controller.state._snapshot import KeptSnapshots
from runecraft.schemas import bus
from runecraft.schemas import secrets as sec
from tests.component.test_offers import _placed


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    try:
        yield store
    finally:
        await store.close()


def statements(store: Store) -> list[str]:
    """Every SQL statement the store runs from now on."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(store.engine.sync_engine, "before_cursor_execute", note)
    return seen


async def same_as_read_whole(store: Store, kept: KeptSnapshots) -> Counter[str]:
    """Assert each model's kept snapshot is the one a whole read gives; the parts read."""
    before = Counter(part for _, part in kept.parts_read)
    for model in await store.models():
        assert await store.kept_snapshot(model, kept) == await store.snapshot(model.uuid)
    return Counter(part for _, part in kept.parts_read) - before


async def test_what_is_kept_is_what_a_whole_read_gives_after_every_kind_of_write(
    store: Store,
) -> None:
    two, agents, uuids = await _placed(store)
    kept = store.kept_snapshots()
    first = await same_as_read_whole(store, kept)
    assert set(first) == {
        "applications",
        "units",
        "machines",
        "cross-model",
        "relations",
        "actions",
        "secrets",
        "storage",
        "resources",
    }
    assert await same_as_read_whole(store, kept) == Counter()  # nothing written: nothing read

    await two.relations.offer("offering", "db", ["db"], None)
    assert set(await same_as_read_whole(store, kept)) == {"cross-model"}
    saas = await two.relations.consume("consuming", "offering.db", "mydb")
    assert set(await same_as_read_whole(store, kept)) >= {"cross-model"}
    relation, _ = await two.relations.integrate("consuming", "web", "mydb")
    assert set(await same_as_read_whole(store, kept)) >= {"relations", "cross-model"}
    ((twin, _),) = [(r, e) for r, e in await two.relations.relations("offering") if len(e) == 2]

    async def send(model: str, message: Any) -> None:
        await agents.apply([(f"machine-0.{uuids[model]}", message)])

    await send(
        "offering",
        bus.HookCommit(
            unit="db/0",
            seq=1,
            hook="db-relation-created",
            scope={twin.id: "enter"},
            relations={twin.id: bus.RelationWrite(unit={"host": "db0"}, app={"password": "s"})},
        ),
    )
    assert "relations" in await same_as_read_whole(store, kept)
    consumer = await store.snapshot(uuids["consuming"])
    assert "mydb/0" in {s.unit for s in consumer.scopes if s.remote}
    await send(
        "consuming",
        bus.HookCommit(
            unit="web/0",
            seq=1,
            hook="db-relation-changed",
            scope={relation.id: "enter"},
            relations={relation.id: bus.RelationWrite(unit={"user": "web0"})},
        ),
    )
    assert "relations" in await same_as_read_whole(store, kept)
    offerer = await store.snapshot(uuids["offering"])
    assert f"{saas.remote_name}/0" in {s.unit for s in offerer.scopes if s.remote}

    # Only a bag changes (no scope): the other side sees it too.
    await send(
        "offering",
        bus.HookCommit(
            unit="db/0",
            seq=2,
            hook="db-relation-changed",
            relations={twin.id: bus.RelationWrite(unit={"host": "db0-moved"})},
        ),
    )
    assert "relations" in await same_as_read_whole(store, kept)
    consumer = await store.snapshot(uuids["consuming"])
    assert {"host": "db0-moved"}.items() <= next(
        b.data for b in consumer.databags if b.owner == "mydb/0"
    ).items()

    await send("offering", bus.Heartbeat(agent=f"machine-0.{uuids['offering']}", units=("db/0",)))
    assert set(await same_as_read_whole(store, kept)) <= {"applications", "machines"}

    models = services.ModelService(store, two.relations.hub)
    await models.set_config("consuming", "web", {"greeting": "hello"})
    assert set(await same_as_read_whole(store, kept)) == {"applications"}

    secrets = services.SecretService(store, two.relations.hub)
    uri = await secrets.add("offering", sec.AddSecretRequest(name="pw", content={"password": "x"}))
    await secrets.grant("offering", uri, ["db"])
    assert set(await same_as_read_whole(store, kept)) == {"secrets"}

    await two.relations.remove_relation("consuming", ["web", "mydb"])
    await send(
        "consuming",
        bus.HookCommit(
            unit="web/0", seq=2, hook="db-relation-broken", scope={relation.id: "leave"}
        ),
    )
    assert "relations" in await same_as_read_whole(store, kept)


async def test_a_pass_on_a_model_without_offers_reads_no_cross_model_table(
    store: Store,
) -> None:
    _, _, uuids = await _placed(store)
    kept = store.kept_snapshots()
    model = await store.model("consuming")
    await store.kept_snapshot(model, kept)
    seen = statements(store)
    models = services.ModelService(store, services.ChangeHub())
    await models.set_config("consuming", "web", {"greeting": "hello"})
    model = await store.model("consuming")
    seen.clear()
    snap = await store.kept_snapshot(model, kept)
    read = list(seen)
    assert snap == await store.snapshot(uuids["consuming"])
    assert len(read) == 1 and "FROM applications" in read[0]
    assert not [s for s in read if "offers" in s or "saas" in s or "cross_model" in s]


async def test_a_transaction_that_only_reads_moves_no_commit(store: Store) -> None:
    """Listing offers (a read in a write transaction) keeps cached status documents valid;
    a write moves the count."""
    two, _, _ = await _placed(store)
    await two.relations.offer("offering", "db", ["db"], None)
    before = store.commits
    assert [view.offer.name for view in await two.relations.offers("offering")] == ["db"]
    assert len(await two.relations.find_offers()) == 1
    assert store.commits == before
    await two.relations.remove_offer("offering", "db", force=False)
    assert store.commits == before + 1
