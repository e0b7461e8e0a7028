"""Cross-model relations on a real store (SQLite and PostgreSQL): offer, consume, integrate
with the SAAS, status, remove-relation and remove-offer, and bad input that changes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runecraft import charms, errors
from runecraft.cli._status import filter_status
from runecraft.controller import services
from runecraft.controller.reconcilers import _plan
from runecraft.controller.state import Store, UserStore
from runecraft.schemas import api, bus
from runecraft.schemas import bundle as bundle_schema
from runecraft.schemas import users as user_schema
from tests.component.test_bundle_apply import APP, DB, write_charm
from tests.component.test_relations import DB_CHARM, WEB_CHARM, put_charm


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@dataclass
class Two:
    """Model `offering` with `db` (provides `db`), model `consuming` with `web` (requires)."""

    store: Store
    relations: services.RelationService
    status: services.StatusService

    async def rows(self) -> dict[str, Any]:
        """Everything cross-model relations touch, in both models (to see nothing changed)."""
        result = {}
        for name in ("offering", "consuming"):
            model = await self.store.model(name)
            snap = await self.store.snapshot(model.uuid)
            result[name] = (
                model.revision,
                snap.relations,
                snap.endpoints,
                snap.offers,
                snap.saas,
                snap.cross_model,
            )
        return result


async def two_models(store: Store) -> Two:
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    await models.add_model("offering")
    await models.add_model("consuming")
    db = await put_charm(store, DB_CHARM)
    web = await put_charm(store, WEB_CHARM)
    await models.deploy(
        "offering", api.DeployRequest(application="db", charm_sha256=db, num_units=0)
    )
    await models.deploy(
        "consuming", api.DeployRequest(application="web", charm_sha256=web, num_units=0)
    )
    status = services.StatusService(
        store,
        hub,
        controller_name="ctl",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    )
    return Two(store, services.RelationService(store, hub), status)


async def test_offer_consume_integrate_links_a_relation_in_each_model(store: Store) -> None:
    two = await two_models(store)
    view = await two.relations.offer("offering", "db", ["db"], "hosted-db")
    assert (view.url, view.charm, view.endpoints, view.connected) == (
        "admin/offering.hosted-db",
        "db",
        {"db": {"interface": "mysql", "role": "provider"}},
        0,
    )
    saas = await two.relations.consume("consuming", "admin/offering.hosted-db", "mydb")
    assert (saas.name, saas.url, saas.endpoints) == (
        "mydb",
        "admin/offering.hosted-db",
        {"db": {"interface": "mysql", "role": "provider"}},
    )
    assert saas.remote_name == f"remote-{saas.token}"

    relation, _ = await two.relations.integrate("consuming", "web", "mydb")
    assert relation.key == "web:db mydb:db"
    offered = await two.relations.relations("offering")
    twin = [(r, eps) for r, eps in offered if len(eps) == 2]
    assert len(twin) == 1
    twin_relation, twin_endpoints = twin[0]
    assert twin_relation.key == f"{saas.remote_name}:db db:db"
    assert sorted((e.application, e.endpoint, e.role) for e in twin_endpoints) == [
        ("db", "db", "provider"),
        (saas.remote_name, "db", "requirer"),
    ]
    (listed,) = await two.relations.offers("offering")
    assert listed.connected == 1
    assert listed.connections[0].offer_relation_id == twin_relation.id

    consumer = await two.status.status("consuming")
    assert consumer["application-endpoints"] == {
        "mydb": {
            "url": "admin/offering.hosted-db",
            "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
            "life": "",
            "application-status": {"current": "active"},
            "relations": {"db": ["web"]},
        }
    }
    assert "offers" not in consumer
    offerer = await two.status.status("offering")
    assert offerer["offers"] == {
        "hosted-db": {
            "application": "db",
            "charm": "db",
            "endpoints": {"db": {"interface": "mysql", "role": "provider"}},
            "total-connected-count": 1,
            "active-connected-count": 1,
        }
    }
    assert "application-endpoints" not in offerer


async def test_status_filters_narrow_saas_and_offers_to_the_applications_shown(
    store: Store,
) -> None:
    two = await two_models(store)
    models = services.ModelService(store, services.ChangeHub())
    db = await put_charm(store, DB_CHARM)
    await models.deploy(
        "consuming", api.DeployRequest(application="other", charm_sha256=db, num_units=0)
    )
    await models.deploy(
        "offering", api.DeployRequest(application="db2", charm_sha256=db, num_units=0)
    )
    await two.relations.offer("offering", "db", ["db"], "hosted-db")
    await two.relations.offer("offering", "db2", ["db"], "spare-db")
    await two.relations.consume("consuming", "admin/offering.hosted-db", "mydb")
    await two.relations.consume("consuming", "admin/offering.spare-db", "sparedb")
    await two.relations.integrate("consuming", "web", "mydb")

    consumer = await two.status.status("consuming")
    assert sorted(consumer["application-endpoints"]) == ["mydb", "sparedb"]
    web = filter_status(consumer, ["web"])
    assert sorted(web["application-endpoints"]) == ["mydb"]
    assert "web:db mydb:db" in [i["key"] for i in web["integrations"]]
    other = filter_status(consumer, ["other"])
    assert "application-endpoints" not in other
    assert [i["key"] for i in other["integrations"]] == ["other:ha"]  # its peer relation
    assert sorted(filter_status(consumer, ["sparedb"])["application-endpoints"]) == ["sparedb"]

    offerer = await two.status.status("offering")
    assert sorted(offerer["offers"]) == ["hosted-db", "spare-db"]
    assert sorted(filter_status(offerer, ["db"])["offers"]) == ["hosted-db"]
    assert sorted(filter_status(offerer, ["db2"])["offers"]) == ["spare-db"]
    assert "offers" not in filter_status(offerer, ["nope"])


async def _lives(two: Two) -> dict[str, list[str]]:
    return {
        name: sorted(r.life for r, eps in await two.relations.relations(name) if len(eps) == 2)
        for name in ("offering", "consuming")
    }


@pytest.mark.parametrize("side", ["consuming", "offering"])
async def test_remove_relation_on_either_side_ends_both(store: Store, side: str) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.consume("consuming", "offering.db", None)
    await two.relations.integrate("consuming", "web:db", "db")
    assert await _lives(two) == {"offering": ["alive"], "consuming": ["alive"]}
    (relation,) = [r for r, eps in await two.relations.relations(side) if len(eps) == 2]
    await two.relations.remove_relation(side, [str(relation.id)])
    assert await _lives(two) == {"offering": ["dying"], "consuming": ["dying"]}


async def test_removing_the_consumers_application_ends_both_sides(store: Store) -> None:
    two = await two_models(store)
    models = services.ModelService(store, two.relations.hub)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.consume("consuming", "offering.db", None)
    await two.relations.integrate("consuming", "web", "db")
    before = await two.rows()
    with pytest.raises(
        errors.ConflictError, match=r'cannot remove application "db": it is offered'
    ):
        await models.remove_application("offering", "db")
    assert await two.rows() == before
    await models.remove_application("consuming", "web")
    assert await _lives(two) == {"offering": ["dying"], "consuming": ["dying"]}


async def test_remove_offer_is_refused_while_connected_unless_forced(store: Store) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.consume("consuming", "admin/offering.db", None)
    await two.relations.integrate("consuming", "web", "db")
    before = await two.rows()
    with pytest.raises(errors.ConflictError, match=r'cannot remove offer "db": it has 1 relation'):
        await two.relations.remove_offer("offering", "db", force=False)
    assert await two.rows() == before
    await two.relations.remove_offer("offering", "db", force=True)
    assert await two.relations.offers("offering") == []
    assert await _lives(two) == {"offering": ["dying"], "consuming": ["dying"]}


async def test_remove_offer_not_connected(store: Store) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.remove_offer("offering", "db", force=False)
    assert await two.relations.offers("offering") == []
    with pytest.raises(errors.NotFoundError, match=r'offer "admin/offering\.db" not found'):
        await two.relations.remove_offer("offering", "db", force=False)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda r: r.offer("offering", "db", ["nope"], None),
            errors.NotFoundError,
            'application "db" has no "nope" relation endpoint',
        ),
        (
            lambda r: r.offer("offering", "db", ["ha"], None),
            errors.InvalidSpecError,
            "peer endpoints cannot be offered",
        ),
        (
            lambda r: r.offer("offering", "ghost", ["db"], None),
            errors.NotFoundError,
            'application "ghost" not found',
        ),
        (
            lambda r: r.offer("offering", "db", ["db"], "Bad_Name"),
            errors.InvalidSpecError,
            'invalid offer name "Bad_Name"',
        ),
        (
            lambda r: r.consume("consuming", "admin/offering.unknown", None),
            errors.NotFoundError,
            'offer "admin/offering.unknown" not found',
        ),
        (
            lambda r: r.consume("consuming", "admin/missing.db", None),
            errors.NotFoundError,
            'model "missing" not found',
        ),
        (
            lambda r: r.consume("consuming", "offering", None),
            errors.InvalidSpecError,
            'invalid offer URL "offering"',
        ),
        (
            lambda r: r.consume("consuming", "bob/offering.db", None),
            errors.NotFoundError,
            'no models of user "bob"',
        ),
        (
            lambda r: r.consume("consuming", "offering.db", "web"),
            errors.ConflictError,
            "an application of that name exists",
        ),
        (
            lambda r: r.consume("offering", "offering.db", "again"),
            errors.InvalidSpecError,
            'it is in model "offering" itself',
        ),
    ],
)
async def test_bad_offer_and_consume_change_nothing(
    store: Store, call: Any, error: type[Exception], message: str
) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    before = await two.rows()
    with pytest.raises(error, match=message):
        await call(two.relations)
    assert await two.rows() == before


async def test_integrate_with_a_saas_checks_the_endpoint(store: Store) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.consume("consuming", "offering.db", "thedb")
    before = await two.rows()
    with pytest.raises(errors.NotFoundError, match='application "thedb" has no "nope" relation'):
        await two.relations.integrate("consuming", "web", "thedb:nope")
    with pytest.raises(errors.ConflictError, match='SAAS "thedb" already exists'):
        await two.relations.consume("consuming", "offering.db", "thedb")
    assert await two.rows() == before


# --- the other side's units, as each model's planner shows them ----------------------------


async def _placed(store: Store) -> tuple[Two, services.AgentService, dict[str, str]]:
    """db/0 in `offering` and web/0 in `consuming`, each on machine 0 and leading."""
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    uuids = {}
    for name, meta, app in (("offering", DB_CHARM, "db"), ("consuming", WEB_CHARM, "web")):
        uuids[name] = (await models.add_model(name)).uuid
        sha = await put_charm(store, meta)
        await models.deploy(name, api.DeployRequest(application=app, charm_sha256=sha))
        async with store.write(name) as tx:
            await tx.machines.update(await tx.machines.get(0), address=f"10.0.{len(uuids)}.1")
            await tx.applications.update(await tx.applications.get(app), leader=f"{app}/0")
    status = services.StatusService(
        store,
        hub,
        controller_name="ctl",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    )
    agents = services.AgentService(store, hub, lease_seconds=60.0)
    return Two(store, services.RelationService(store, hub), status), agents, uuids


def _views(snapshot: Any, unit: str) -> Any:
    planned = _plan.machine_snapshots(
        snapshot.models[0],
        snapshot.applications,
        snapshot.units,
        snapshot.machines,
        snapshot.charms,
        _plan.RelationState(
            snapshot.relations, snapshot.endpoints, snapshot.scopes, snapshot.databags
        ),
    )
    return next(u for u in planned[0].units if u.unit == unit).relations


async def test_each_side_sees_the_other_sides_units_and_data(store: Store) -> None:
    two, agents, uuids = await _placed(store)
    await two.relations.offer("offering", "db", ["db"], None)
    saas = await two.relations.consume("consuming", "offering.db", "mydb")
    relation, _ = await two.relations.integrate("consuming", "web", "mydb")
    ((twin, _),) = [(r, e) for r, e in await two.relations.relations("offering") if len(e) == 2]
    remote = saas.remote_name

    async def send(model: str, message: Any) -> None:
        await agents.apply([(f"machine-0.{uuids[model]}", message)])

    consumer_revision = (await store.model("consuming")).revision
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
    assert (await store.model("consuming")).revision > consumer_revision
    await send(
        "consuming",
        bus.HookCommit(
            unit="web/0",
            seq=1,
            hook="db-relation-created",
            scope={relation.id: "enter"},
            relations={relation.id: bus.RelationWrite(unit={"user": "web0"}, app={"db": "w"})},
        ),
    )

    consumer = await store.snapshot(uuids["consuming"])
    (view,) = [v for v in _views(consumer, "web/0") if v.id == relation.id]
    assert (view.remote_application, view.role, view.interface) == ("mydb", "requirer", "mysql")
    assert list(view.units) == ["mydb/0"]
    assert view.app_data == {"password": "s"}
    assert view.unit_data["mydb/0"]["host"] == "db0"
    assert view.local_app_data == {"db": "w"}

    (info,) = [
        r
        for r in services.build_unit_info(consumer, "web/0")["web/0"]["relation-info"]
        if r["relation-id"] == relation.id
    ]
    assert info["cross-model"] is True
    assert info["related-units"]["mydb/0"]["data"]["host"] == "db0"
    assert info["application-data"] == {"password": "s"}

    offerer = await store.snapshot(uuids["offering"])
    (view,) = [v for v in _views(offerer, "db/0") if v.id == twin.id]
    assert (view.remote_application, view.role) == (remote, "provider")
    assert list(view.units) == [f"{remote}/0"]
    assert view.app_data == {"db": "w"}
    assert view.unit_data[f"{remote}/0"]["user"] == "web0"
    # nothing else of the other model: no other relation, unit or bag of it is seen
    assert {b.owner for b in offerer.databags} <= {"db", "db/0", remote, f"{remote}/0"}
    assert {u.name for u in offerer.units} == {"db/0"}

    # the consumer's units leave: its relation can go although the offerer's are still in
    await two.relations.remove_relation("consuming", ["web", "mydb"])
    await send(
        "consuming",
        bus.HookCommit(
            unit="web/0", seq=2, hook="db-relation-broken", scope={relation.id: "leave"}
        ),
    )
    consumer = await store.snapshot(uuids["consuming"])
    state = _plan.RelationState(
        consumer.relations, consumer.endpoints, consumer.scopes, consumer.databags
    )
    assert relation.id in _plan.dead_relations(state)
    offerer = await store.snapshot(uuids["offering"])
    (view,) = [v for v in _views(offerer, "db/0") if v.id == twin.id]
    assert (view.life, view.units) == ("dying", {})


# --- bundles: saas and offers, planned, applied and exported ---------------------------------

OFFERING_BUNDLE = """
applications:
  db: {charm: ./db, num_units: 1}
--- # offers travel in an overlay, as Juju's
applications:
  db:
    offers:
      hosted-db: {endpoints: [db]}
"""
CONSUMING_BUNDLE = """
applications:
  app: {charm: ./app, num_units: 1}
saas:
  thedb: {url: offering.hosted-db}
relations:
  - [app:db, thedb:db]
"""


async def test_a_bundle_offers_consumes_and_relates_and_exports_the_same(
    store: Store, tmp_path: Path
) -> None:
    hub = services.ChangeHub()

    async def ready(_: str) -> None:
        return None

    models = services.ModelService(store, hub, substrate_ready=ready)
    bundles = services.BundleService(store, hub, models.check_substrates)
    found = {}
    for name, files in (("db", DB), ("app", APP)):
        packed = charms.pack(write_charm(tmp_path / name, files), tmp_path / "cache")
        record = await models.upload_charm(packed.data)
        found[name] = api.BundleCharm(name=name, path=f"./{name}", sha256=record.sha256)
    relations = services.RelationService(store, hub)

    async def apply(model: str, text: str, **extra: Any) -> Any:
        merged = bundle_schema.dump(bundle_schema.loads(text))
        request = api.BundleRequest(bundle=merged, charms=found, **extra)
        return await bundles.apply(model, request)

    for model in ("offering", "consuming"):
        await models.add_model(model)
    # Consuming an offer that is not there yet: refused, nothing made.
    with pytest.raises(errors.NotFoundError, match=r'offer "admin/offering\.hosted-db" not found'):
        await apply("consuming", CONSUMING_BUNDLE)
    assert (await store.snapshot((await store.model("consuming")).uuid)).applications == []

    await apply("offering", OFFERING_BUNDLE)
    (offer,) = await relations.offers("offering")
    assert (offer.offer.name, offer.offer.endpoints) == ("hosted-db", ["db"])
    await apply("consuming", CONSUMING_BUNDLE)
    (saas,) = await relations.saas("consuming")
    assert (saas.name, saas.url) == ("thedb", "admin/offering.hosted-db")
    ((_, endpoints),) = [(r, e) for r, e in await relations.relations("consuming") if len(e) == 2]
    assert sorted(str(e) for e in endpoints) == ["app:db", "thedb:db"]
    assert (await relations.offers("offering"))[0].connected == 1

    for model, text in (("offering", OFFERING_BUNDLE), ("consuming", CONSUMING_BUNDLE)):
        again = await apply(model, text, dry_run=True)
        assert again.plan.changes == (), again.plan.changes
        exported = await bundles.export(model)
        replanned = await apply(model, bundle_schema.dump(exported), dry_run=True)
        assert replanned.plan.changes == (), replanned.plan.changes
    exported = await bundles.export("consuming")
    assert exported.saas == {"thedb": bundle_schema.SaasSpec(url="admin/offering.hosted-db")}
    assert [str(r) for r in exported.relations] == ["app:db thedb:db"]
    offered = await bundles.export("offering")
    assert offered.applications["db"].offers == {
        "hosted-db": bundle_schema.OfferSpec(endpoints=("db",))
    }


async def test_remove_saas_ends_its_relations_and_forgets_it(store: Store) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], None)
    await two.relations.consume("consuming", "offering.db", "thedb")
    await two.relations.integrate("consuming", "web", "thedb")
    with pytest.raises(errors.NotFoundError, match='SAAS "nope" not found in model "consuming"'):
        await two.relations.remove_saas("consuming", "nope")
    await two.relations.remove_saas("consuming", "thedb")
    assert await two.relations.saas("consuming") == []
    assert await _lives(two) == {"offering": ["dying"], "consuming": ["dying"]}
    with pytest.raises(errors.NotFoundError, match='application "thedb" not found'):
        await two.relations.integrate("consuming", "web", "thedb")


async def test_find_offers_narrows_by_model_offer_name_interface_and_access(
    store: Store,
) -> None:
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], "hosted-db")
    await two.relations.offer("offering", "db", ["db"], "backup")
    await two.relations.offer("consuming", "web", ["db"], "front")
    find = two.relations.find_offers

    async def urls(**narrowed: Any) -> list[str]:
        return [view.url for view in await find(**narrowed)]

    assert await urls() == [
        "admin/consuming.front",
        "admin/offering.backup",
        "admin/offering.hosted-db",
    ]
    assert await urls(model="offering") == ["admin/offering.backup", "admin/offering.hosted-db"]
    assert await urls(offer="db") == ["admin/offering.hosted-db"]
    assert await urls(model="consuming", offer="db") == []
    assert await urls(interface="mysql", offer="ron") == ["admin/consuming.front"]
    assert await urls(interface="pgsql") == []
    offering = await store.model("offering")
    assert await urls(visible={offering.uuid}) == [
        "admin/offering.backup",
        "admin/offering.hosted-db",
    ]
    (front,) = await find(model="consuming")
    assert (front.charm, front.endpoints) == (
        "web",
        {"db": {"interface": "mysql", "role": "requirer"}},
    )

    before = await two.rows()
    with pytest.raises(errors.NotFoundError, match='model "admin/nope" not found'):
        await find(model="nope")
    assert await two.rows() == before


async def test_offer_access_granted_alone_lets_a_user_find_and_consume_the_offer(
    store: Store,
) -> None:
    """Juju's offer ACLs on a real store: consume access on the offer (none on its model)
    finds and consumes it; revoked, it is read and consuming is refused; removing the
    offer forgets the access given to it."""
    two = await two_models(store)
    await two.relations.offer("offering", "db", ["db"], "hosted-db")
    users = services.UserService(store, "admin-token")
    admin = services.Principal("user", "admin", access="superuser")
    bob = services.Principal("user", "bob")
    await users.add_user(user_schema.AddUserRequest(name="bob", password="secret-1"))
    url = "admin/offering.hosted-db"
    with pytest.raises(
        errors.NotFoundError, match=re.escape(f'application offer "{url}" not found')
    ):
        await users.check_offer(bob, url, "consume")
    with pytest.raises(
        errors.NotFoundError, match=re.escape(f'application offer "{url}" not found')
    ):
        await users.grant(bob, "bob", "consume", [], [url])  # bob is not its admin

    await users.grant(admin, "bob", "consume", [], ["offering.hosted-db"])
    assert await users.check_offer(bob, url, "consume") == ("offering", "hosted-db")
    found = await users.offer_levels(bob)
    assert found is not None
    offering = await store.model("offering")
    assert found == ({}, {(offering.uuid, "hosted-db"): "consume"})
    assert services.offer_level(*found, offering.uuid, "hosted-db") == "consume"
    listed = await users.offer_users(admin, offering.uuid, "hosted-db", "admin")
    assert listed == {"admin": "admin", "bob": "consume"}
    assert await users.offer_users(bob, offering.uuid, "hosted-db", "consume") == {"bob": "consume"}
    with pytest.raises(errors.ConflictError, match='already has "consume" access'):
        await users.grant(admin, "bob", "read", [], [url])
    with pytest.raises(
        errors.NotFoundError, match=re.escape('offer "admin/offering.nope" not found')
    ):
        await users.grant(admin, "bob", "consume", [], ["offering.nope"])

    await users.revoke(admin, "bob", "consume", [], [url])
    assert (await users.offer_levels(bob)) == ({}, {(offering.uuid, "hosted-db"): "read"})
    before = await two.rows()
    with pytest.raises(errors.PermissionDeniedError, match="consume access to offer"):
        await users.check_offer(bob, url, "consume")
    assert await two.rows() == before

    await users.grant(admin, "bob", "admin", [], [url])
    await two.relations.remove_offer("offering", "hosted-db", force=False)
    await two.relations.offer("offering", "db", ["db"], "hosted-db")
    assert (await users.offer_levels(bob)) == ({}, {})
    await users.grant(admin, "bob", "read", [], [url])
    await users.remove_user("bob")  # a user removed takes its offer access along
    assert await UserStore(store).offer_grants("bob") == {}
