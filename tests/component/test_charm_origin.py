"""An application's charm origin on a real store (SQLite and PostgreSQL): a Charmhub charm
is shown as Juju 3.6 shows it (name, `charm-origin: charmhub`, Charmhub revision and
channel, base), a refresh moves it, export writes it back as `charm`, `channel` and
`revision` (and planning the export against the model changes nothing), and a local charm
stays `local:NAME-REV`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jubilant
import pydantic
import pytest

from runecraft import bundles, errors
from runecraft.charms import host_architecture
from runecraft.cli._inspect import application_document
from runecraft.controller import services
from runecraft.controller.services._bundles import export_bundle, view_of
from runecraft.controller.state import Store
from runecraft.schemas import api, status
from runecraft.schemas import bundle as bundle_schema
from tests.component.test_relations import DB_CHARM, WEB_CHARM, put_charm

EDGE = api.CharmOrigin(source="charmhub", name="db", channel="latest/edge", revision=7)


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@dataclass
class Model:
    store: Store
    models: services.ModelService
    status: services.StatusService
    db: str
    web: str

    async def apps(self) -> dict[str, Any]:
        document = await self.status.status("m")
        status.StatusDocument.model_validate(document)  # the API's declared shape
        apps: dict[str, Any] = document["applications"]
        return apps

    async def export(self) -> bundle_schema.Bundle:
        model = await self.store.model("m")
        return export_bundle(model, await self.store.snapshot(model.uuid))


@pytest.fixture
async def model(store: Store) -> Model:
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    await models.add_model("m")
    status_service = services.StatusService(
        store,
        hub,
        controller_name="ctl",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    )
    db = await put_charm(store, DB_CHARM)
    web = await put_charm(store, WEB_CHARM)
    return Model(store, models, status_service, db, web)


async def test_a_charmhub_application_shows_its_origin_and_a_local_one_stays_local(
    model: Model,
) -> None:
    await model.models.deploy(
        "m",
        api.DeployRequest(
            application="db", charm_sha256=model.db, num_units=0, base="ubuntu@22.04", origin=EDGE
        ),
    )
    await model.models.deploy(
        "m", api.DeployRequest(application="web", charm_sha256=model.web, num_units=0)
    )
    apps = await model.apps()
    db = apps["db"]
    assert {k: db[k] for k in ("charm", "charm-origin", "charm-name", "charm-rev")} == {
        "charm": "db",
        "charm-origin": "charmhub",
        "charm-name": "db",
        "charm-rev": 7,
    }
    assert db["charm-channel"] == "latest/edge"
    assert db["base"] == {"name": "ubuntu", "channel": "22.04"}
    parsed = jubilant.statustypes.AppStatus._from_dict(db)
    assert (parsed.charm_origin, parsed.charm_channel, parsed.charm_rev) == (
        "charmhub",
        "latest/edge",
        7,
    )
    assert parsed.base is not None and parsed.base.channel == "22.04"
    web = apps["web"]
    assert (web["charm"], web["charm-origin"], web["charm-rev"]) == ("local:web-0", "local", 0)
    assert "charm-channel" not in web


async def test_show_unit_and_show_application_name_a_charmhub_charm_as_juju(
    model: Model,
) -> None:
    await model.models.deploy(
        "m",
        api.DeployRequest(
            application="db",
            charm_sha256=model.db,
            num_units=1,
            origin=EDGE,
            constraints=["arch=arm64"],
        ),
    )
    await model.models.deploy(
        "m", api.DeployRequest(application="web", charm_sha256=model.web, num_units=1)
    )
    db_unit = (await model.status.show_unit("m", "db/0"))["db/0"]
    assert db_unit["charm"] == "ch:arm64/db-7"
    web_unit = (await model.status.show_unit("m", "web/0"))["web/0"]
    assert web_unit["charm"] == "local:web-0"
    await model.models.deploy(
        "m",
        api.DeployRequest(application="db2", charm_sha256=model.db, num_units=1, origin=EDGE),
    )
    db2_unit = (await model.status.show_unit("m", "db2/0"))["db2/0"]
    assert db2_unit["charm"] == f"ch:{host_architecture()}/db-7"  # no arch asked: the host's

    apps = await model.apps()
    shown = application_document(apps["db"], {}, subordinate=False)
    assert (shown["charm"], shown["channel"]) == ("db", "latest/edge")
    local = application_document(apps["web"], {}, subordinate=False)
    assert local["charm"] == "web" and "channel" not in local


async def test_refresh_moves_the_origin_and_a_local_refresh_makes_it_local(model: Model) -> None:
    await model.models.deploy(
        "m", api.DeployRequest(application="db", charm_sha256=model.db, num_units=0, origin=EDGE)
    )
    stable = api.CharmOrigin(source="charmhub", name="db", channel="latest/stable", revision=5)
    await model.models.refresh("m", "db", model.db, stable)
    db = (await model.apps())["db"]
    assert (db["charm-channel"], db["charm-rev"], db["charm-origin"]) == (
        "latest/stable",
        5,
        "charmhub",
    )

    await model.models.refresh("m", "db", model.db)  # `refresh --path`: a local charm now
    db = (await model.apps())["db"]
    assert (db["charm"], db["charm-origin"], db["charm-rev"]) == ("local:db-2", "local", 2)
    assert "charm-channel" not in db


async def test_export_writes_name_channel_and_revision_and_plans_nothing(model: Model) -> None:
    await model.models.deploy(
        "m", api.DeployRequest(application="db", charm_sha256=model.db, num_units=0, origin=EDGE)
    )
    await model.models.deploy(
        "m", api.DeployRequest(application="web", charm_sha256=model.web, num_units=0)
    )
    text = bundle_schema.dump(await model.export())
    exported = bundle_schema.loads(text, name="export")
    db, web = exported.applications["db"], exported.applications["web"]
    assert (db.charm, db.channel, db.revision) == ("db", "latest/edge", 7)
    assert db.charm_ref.source == "charmhub"
    assert (web.channel, web.revision) == (None, None)

    mrec = await model.store.model("m")
    view = view_of(mrec, await model.store.snapshot(mrec.uuid))
    assert bundles.plan(exported, view).changes == ()


async def test_a_bundle_refresh_moves_the_origin_and_one_not_fetched_is_refused(
    model: Model,
) -> None:
    await model.models.deploy(
        "m", api.DeployRequest(application="db", charm_sha256=model.db, num_units=0, origin=EDGE)
    )
    service = services.BundleService(
        model.store, services.ChangeHub(), model.models.check_substrates
    )
    text = "applications: {db: {charm: db, channel: stable, revision: 5}}"
    planned = await service.apply("m", api.BundleRequest(bundle=text, dry_run=True))
    assert [c.kind for c in planned.plan.changes] == ["refresh-charm"]
    before = await model.apps()
    with pytest.raises(errors.InvalidSpecError, match="not fetched from Charmhub"):
        await service.apply("m", api.BundleRequest(bundle=text))
    assert await model.apps() == before

    stable = api.CharmOrigin(source="charmhub", name="db", channel="latest/stable", revision=5)
    fetched = {"db": api.BundleCharm(name="db", path="db_r5.charm", sha256=model.db, origin=stable)}
    outcome = await service.apply("m", api.BundleRequest(bundle=text, charms=fetched))
    assert outcome.applied
    db = (await model.apps())["db"]
    assert (db["charm-origin"], db["charm-channel"], db["charm-rev"]) == (
        "charmhub",
        "latest/stable",
        5,
    )
    again = await service.apply("m", api.BundleRequest(bundle=text, dry_run=True))
    assert again.plan.changes == ()
    same = "applications: {db: {charm: db, channel: latest/stable}}"
    assert (await service.apply("m", api.BundleRequest(bundle=same, dry_run=True))).plan.empty


@pytest.mark.parametrize(
    "origin",
    [
        {"source": "charmhub", "name": "db"},
        {"source": "charmhub", "name": "db", "channel": "edge"},
        {"source": "charmhub", "name": "db", "channel": "latest/nightly"},
        {"source": "charmhub", "name": "DB!", "channel": "latest/edge"},
        {"source": "charmhub", "name": "db", "channel": "latest/edge", "revision": -1},
        {"source": "charmhub", "name": "db", "channel": "latest/edge"},
        {"source": "local", "channel": "latest/edge"},
        {"source": "store"},
    ],
)
async def test_a_bad_origin_is_refused_and_deploys_nothing(
    model: Model, origin: dict[str, Any]
) -> None:
    body = {"application": "db", "charm_sha256": model.db, "num_units": 0, "origin": origin}
    with pytest.raises(pydantic.ValidationError, match="origin"):
        api.DeployRequest.model_validate(body)
    with pytest.raises(pydantic.ValidationError, match="origin"):
        api.RefreshRequest.model_validate({"charm_sha256": model.db, "origin": origin})
    assert await model.apps() == {}
