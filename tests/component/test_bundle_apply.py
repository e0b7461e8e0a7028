"""Bundles applied by the controller in one transaction, on a real store: a failure at any
write leaves the model exactly as it was; `--expect-revision` is checked inside the
transaction; an exported model applies to a second model with the controller's own charms.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import event

from runecraft import charms, errors
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import api
from tests.component._api import api_client

DB = {
    "metadata.yaml": {
        "name": "db",
        "provides": {"db": {"interface": "sql"}},
        "peers": {"cluster": {"interface": "db-cluster"}},
        "storage": {"data": {"type": "filesystem"}},
    },
    "config.yaml": {"options": {"engine": {"type": "string", "default": "fast"}}},
}
APP = {
    "metadata.yaml": {"name": "app", "requires": {"db": {"interface": "sql"}}},
    "config.yaml": {
        "options": {
            "greeting": {"type": "string", "default": "hello"},
            "workers": {"type": "int", "default": 1},
        }
    },
}

FIRST = """
applications:
  db:
    charm: ./db
    num_units: 2
    to: ["0", "1"]
    options: {engine: safe}
    storage: {data: 1G}
  app:
    charm: ./app
    num_units: 3
    to: ["db/0", "lxd:1", "new"]
    constraints: mem=256M
    trust: true
    options: {greeting: hi}
  spare:
    charm: ./app
    num_units: 1
machines:
  "0": {}
  "1": {}
relations:
  - [app:db, db:db]
"""
"""Every kind of write a first apply makes: applications with config, storage, constraints
and trust; bundle machines, colocation and an lxd container; peer and regular relations."""

SECOND = """
applications:
  db:
    charm: ./db
    num_units: 1
    to: ["0"]
    options: {engine: fast}
  app:
    charm: ./app
    num_units: 4
    to: ["db/0", "lxd:1", "new", "new"]
    options: {greeting: yo, workers: 3}
machines:
  "0": {}
  "1": {}
"""
"""With --prune against FIRST: config set and reset, constraints and trust reset, a unit
added and one removed, a relation and an application removed."""


def write_charm(directory: Path, files: dict[str, Any]) -> Path:
    directory.mkdir(parents=True)
    for name, document in files.items():
        (directory / name).write_text(yaml.safe_dump(document))
    (directory / "hooks").mkdir()
    return directory


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@dataclasses.dataclass
class World:
    store: Store
    models: services.ModelService
    bundles: services.BundleService
    charms: dict[str, api.BundleCharm]

    def request(self, text: str, **extra: Any) -> api.BundleRequest:
        return api.BundleRequest(bundle=text, charms=self.charms, **extra)

    async def state(self, model: str) -> tuple[Any, ...]:
        """Everything a bundle could have changed: the model's rows, its export, status."""
        record = await self.store.model(model)
        snapshot = await self.store.snapshot(record.uuid)
        status = services.build_status(
            snapshot, controller_name="test", published_revision=lambda _: None, reconciled=True
        )
        return record, snapshot, await self.bundles.export(model), status


@pytest.fixture
async def world(store: Store, tmp_path: Path) -> World:
    hub = services.ChangeHub()

    async def ready(_: str) -> None:
        return None

    models = services.ModelService(store, hub, substrate_ready=ready)
    await models.add_model("m")
    found = {}
    for name, files in (("db", DB), ("app", APP)):
        packed = charms.pack(write_charm(tmp_path / name, files), tmp_path / "cache")
        record = await models.upload_charm(packed.data)
        found[name] = api.BundleCharm(name=name, path=f"./{name}", sha256=record.sha256)
    return World(
        store=store,
        models=models,
        bundles=services.BundleService(store, hub, models.check_substrates),
        charms={"db": found["db"], "app": found["app"], "spare": found["app"]},
    )


class InjectedFaultError(Exception):
    """Raised by the test in place of the n-th write statement."""


class Faults:
    """Makes the n-th INSERT/UPDATE/DELETE after `arm(n)` raise instead of running."""

    def __init__(self) -> None:
        self.at: int | None = None
        self.seen = 0

    def arm(self, n: int | None) -> None:
        self.at, self.seen = n, 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.at is None or not statement.lstrip().upper().startswith(_WRITES):
            return
        self.seen += 1
        if self.seen == self.at:
            raise InjectedFaultError(f"write {self.seen}: {statement[:60]}")


_WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def faults(store: Store) -> Iterator[Faults]:
    injected = Faults()
    event.listen(store.engine.sync_engine, "before_cursor_execute", injected)
    yield injected
    event.remove(store.engine.sync_engine, "before_cursor_execute", injected)


async def apply_failing_at_every_write(
    world: World, faults: Faults, request: api.BundleRequest
) -> int:
    """Apply `request` with its n-th write failing, for n = 1, 2, … until it succeeds;
    after each failure the model is exactly as before. Returns how many writes it made."""
    before = await world.state("m")
    n = 0
    while True:
        n += 1
        faults.arm(n)
        try:
            await world.bundles.apply("m", request)
        except InjectedFaultError:
            faults.arm(None)
            assert await world.state("m") == before, f"write {n} left a change behind"
            continue
        finally:
            faults.arm(None)
        return n - 1


async def test_a_failure_at_any_write_leaves_the_model_as_it_was(
    world: World, faults: Faults
) -> None:
    writes = await apply_failing_at_every_write(world, faults, world.request(FIRST))
    assert writes > 20  # the apply really wrote, so every step above was really tested
    assert (await world.bundles.apply("m", world.request(FIRST, dry_run=True))).plan.empty
    pruning = await apply_failing_at_every_write(world, faults, world.request(SECOND, prune=True))
    assert pruning > 5
    again = await world.bundles.apply("m", world.request(SECOND, prune=True, dry_run=True))
    assert again.plan.empty


async def test_expect_revision_is_checked_in_the_transaction(world: World) -> None:
    planned = await world.bundles.apply("m", world.request(FIRST, dry_run=True))
    revision = planned.plan.revision
    await world.models.add_model("other")  # another model moving changes nothing here
    await world.bundles.apply("other", world.request(FIRST))
    async with world.store.write("m") as tx:  # this one does: someone changed the model
        await tx.models.update(config={"automatically-retry-hooks": False})
    before = await world.state("m")
    with pytest.raises(errors.ConflictError) as caught:
        await world.bundles.apply("m", world.request(FIRST, expect_revision=revision))
    assert f"not {revision}" in caught.value.message
    assert "changed since the plan" in caught.value.message
    assert await world.state("m") == before
    # At the revision it names, it applies, and the model moves by exactly one revision.
    current = before[0].revision
    applied = await world.bundles.apply("m", world.request(FIRST, expect_revision=current))
    assert applied.applied
    assert (await world.store.model("m")).revision == current + 1


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "applications: {db: {charm: ./db, num_units: 1, options: {engine: 3, nope: 1}}}",
            ["nothing was changed", "applications.db.options:"],
        ),
        (
            "applications: {app: {charm: ./app, storage: {data: 1G}}}",
            ['applications.app.storage.data: charm "app" has no such storage'],
        ),
        (
            "applications: {sql: {charm: mysql-nowhere, num_units: 1}}",
            ["nothing was changed", '"mysql-nowhere"', "charm store"],
        ),
        (
            "applications: {db: {charm: ./db, num_units: 1}, app: {charm: ./app}}\n"
            "relations: [[app:nowhere, db:db]]",
            ["failed at change 6 of 6: add relation app:nowhere - db:db", "nothing was changed"],
        ),
    ],
)
async def test_a_refused_bundle_changes_nothing(
    world: World, text: str, fragments: list[str]
) -> None:
    before = await world.state("m")
    with pytest.raises(errors.RunecraftError) as caught:
        await world.bundles.apply("m", world.request(text))
    for fragment in fragments:
        assert fragment in caught.value.message
    assert await world.state("m") == before


ROUND_TRIP = FIRST.replace('"lxd:1"', '"1"')
"""FIRST without the lxd container, which the API test setup has no substrate for."""


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(world.store, services.ChangeHub(), published_revision=None) as client:
        yield client


async def test_export_applies_to_a_second_model_with_the_controllers_charms(
    world: World, http: httpx.AsyncClient
) -> None:
    request = world.request(ROUND_TRIP)
    response = await http.post("/v1/models/m/bundle", json=request.model_dump())
    assert response.status_code == 200, response.text
    body = api.BundleResponse.model_validate(response.json())
    assert body.applied
    # Every unit is placed in the transaction: the answer names all their machines.
    assert sorted(body.machines) == ["app/0", "app/1", "app/2", "db/0", "db/1", "spare/0"]
    assert body.machines["app/0"] == body.machines["db/0"]
    exported = api.BundleExport.model_validate(
        (await http.get("/v1/models/m/bundle")).json()
    ).bundle
    assert "charm: db" in exported and "./db" not in exported

    # The exported bundle names charms only by name: no charm from the client at all.
    await world.models.add_model("second")
    plain = api.BundleRequest(bundle=exported)
    planned = await http.post(
        "/v1/models/second/bundle", json={**plain.model_dump(), "dry_run": True}
    )
    kinds = [c["kind"] for c in planned.json()["plan"]["changes"]]
    assert kinds.count("add-charm") == 2  # db and app, from the controller's charm store
    response = await http.post("/v1/models/second/bundle", json=plain.model_dump())
    assert response.status_code == 200, response.text
    again = api.BundleExport.model_validate(
        (await http.get("/v1/models/second/bundle")).json()
    ).bundle
    assert again == exported
    # And the first model already matches its own export.
    planned = await http.post("/v1/models/m/bundle", json={**plain.model_dump(), "dry_run": True})
    assert planned.json()["plan"]["changes"] == []


async def test_a_charm_revision_picks_that_upload_from_the_charm_store(
    world: World, tmp_path: Path
) -> None:
    newer = {**DB, "config.yaml": {"options": {"engine": {"type": "string"}, "x": {"type": "int"}}}}
    packed = charms.pack(write_charm(tmp_path / "db2", newer), tmp_path / "cache")
    second = await world.models.upload_charm(packed.data)
    text = "applications: {db: {charm: db, channel: stable, revision: REV, num_units: 0}}"
    for revision, sha256 in (
        (1, world.charms["db"].sha256),
        (2, second.sha256),
        (None, second.sha256),
    ):
        bundle = text.replace(
            "revision: REV, ", "" if revision is None else f"revision: {revision}, "
        )
        outcome = await world.bundles.apply("m", api.BundleRequest(bundle=bundle, dry_run=True))
        (charm,) = [c for c in outcome.plan.changes if c.kind == "add-charm"]
        assert charm.sha256 == sha256, revision
    missing = text.replace("REV", "3")
    with pytest.raises(errors.InvalidSpecError, match="charm store"):
        await world.bundles.apply("m", api.BundleRequest(bundle=missing))


async def test_a_charm_the_controller_does_not_hold_is_refused_naming_the_application(
    world: World,
) -> None:
    before = await world.state("m")
    charms = {
        name: charm.model_copy(update={"sha256": "f" * 64}) if name == "db" else charm
        for name, charm in world.charms.items()
    }
    request = api.BundleRequest(bundle=FIRST, charms=charms)
    with pytest.raises(errors.InvalidSpecError) as caught:
        await world.bundles.apply("m", request)
    assert "applications.db: its charm" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert await world.state("m") == before
