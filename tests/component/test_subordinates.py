"""Subordinates on a real store: deploy without units, the refusals (units, placement,
add-unit, remove-unit of a subordinate unit, two subordinates, a k8s model), and the
planner's subordinate units written through the store and read back by status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from runecraft import charms, errors
from runecraft.controller import services
from runecraft.controller.reconcilers import _planners
from runecraft.controller.reconcilers._actions import (
    AddSubordinates,
    DeleteRelations,
    KillUnit,
    ModelState,
)
from runecraft.controller.state import Store
from runecraft.schemas import api
from tests.component.test_juju_api import Statements
from tests.component.test_relations import WEB_CHARM, put_charm

LOG_CHARM = {
    "name": "log",
    "subordinate": True,
    "requires": {"juju-info": {"interface": "juju-info", "scope": "container"}},
}
MON_CHARM = {
    "name": "mon",
    "subordinate": True,
    "requires": {"host": {"interface": "juju-info", "scope": "container"}},
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    try:
        yield store
    finally:
        await store.close()


async def _world(store: Store) -> tuple[services.ModelService, services.RelationService]:
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    await models.add_model("m")
    web = await put_charm(store, WEB_CHARM)
    await models.deploy("m", api.DeployRequest(application="web", charm_sha256=web, num_units=3))
    for meta in (LOG_CHARM, MON_CHARM):
        sha = await put_charm(store, meta)
        await models.deploy(
            "m", api.DeployRequest(application=str(meta["name"]), charm_sha256=sha, num_units=0)
        )
    return models, services.RelationService(store, hub)


async def _settle(store: Store) -> list[str]:
    """Run the write planners until they have nothing left; the kinds of action applied."""
    done = []
    for _ in range(10):
        model = await store.model("m")
        state = ModelState.of(await store.snapshot(model.uuid))
        actions = _planners.plan_lifecycle(state, 0.0) or _planners.plan_subordinates(state, 0.0)
        if not actions:
            return done
        async with store.write("m") as tx:
            for action in actions:
                done.append(type(action).__name__)
                match action:
                    case AddSubordinates(app, principals):
                        await tx.units.add(
                            await tx.applications.get(app.name),
                            len(principals),
                            [p.machine_number for p in principals],
                            principals=[p.name for p in principals],
                        )
                    case KillUnit(unit):
                        await tx.units.update(unit, life="dying")
                    case DeleteRelations(ids):
                        await tx.relations.delete(model.uuid, set(ids))
    raise AssertionError(f"the planners never settled: {done}")


async def _units(store: Store) -> dict[str, tuple[int | None, str | None, str]]:
    model = await store.model("m")
    snapshot = await store.snapshot(model.uuid)
    return {u.name: (u.machine_number, u.principal, u.life) for u in snapshot.units}


async def test_refusals_name_the_problem_and_change_nothing(store: Store) -> None:
    models, relations = await _world(store)
    before = await _units(store)
    sha = await put_charm(store, LOG_CHARM)
    with pytest.raises(errors.InvalidSpecError, match="must be deployed without units"):
        await models.deploy(
            "m", api.DeployRequest(application="log2", charm_sha256=sha, num_units=2)
        )
    with pytest.raises(errors.InvalidSpecError, match="without placement"):
        await models.deploy(
            "m", api.DeployRequest(application="log2", charm_sha256=sha, num_units=0, to=["0"])
        )
    with pytest.raises(errors.InvalidSpecError, match="cannot directly add units to subordinate"):
        await models.add_units("m", "log", api.AddUnitsRequest(num_units=1))
    with pytest.raises(errors.InvalidSpecError, match=r"both .* are subordinate"):
        await relations.integrate("m", "mon", "log")
    assert await _units(store) == before
    model = await store.model("m")
    snapshot = await store.snapshot(model.uuid)
    assert {a.name for a in snapshot.applications} == {"web", "log", "mon"}
    assert snapshot.relations == []


async def test_subordinate_units_follow_their_principals(store: Store) -> None:
    models, relations = await _world(store)
    await relations.integrate("m", "log", "web")
    assert await _settle(store) == ["AddSubordinates"]
    units = await _units(store)
    assert {n: u for n, u in units.items() if n.startswith("log/")} == {
        "log/0": (0, "web/0", "alive"),
        "log/1": (1, "web/1", "alive"),
        "log/2": (2, "web/2", "alive"),
    }

    # Status: under their principals, none on the subordinate application.
    status = await services.StatusService(
        store,
        services.ChangeHub(),
        controller_name="c",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    ).status("m")
    apps = status["applications"]
    assert apps["log"]["units"] == {} and apps["log"]["subordinate-to"] == ["web"]
    assert {
        name: sorted(unit.get("subordinates", {})) for name, unit in apps["web"]["units"].items()
    } == {"web/0": ["log/0"], "web/1": ["log/1"], "web/2": ["log/2"]}

    # show-unit: a container-scoped relation shows a unit only its partner, though every
    # unit of both applications is in its scope.
    uuid = (await store.model("m")).uuid
    async with store.write("m") as tx:
        for name in ("web/0", "web/1", "web/2", "log/0", "log/1", "log/2"):
            await tx.relations.enter_scope(uuid, 0, name)
    snapshot = await store.snapshot(uuid)
    log_info = services.build_unit_info(snapshot, "log/1")["log/1"]
    assert log_info["principal"] == "web/1"
    assert [list(r["related-units"]) for r in log_info["relation-info"]] == [["web/1"]]
    web_info = services.build_unit_info(snapshot, "web/2")["web/2"]
    assert "principal" not in web_info
    related = [r for r in web_info["relation-info"] if r["related-endpoint"] == "juju-info"]
    assert [list(r["related-units"]) for r in related] == [["log/2"]]
    sub_doc = status["applications"]["web"]["units"]["web/1"]["subordinates"]["log/1"]
    assert "machine" not in sub_doc

    with pytest.raises(errors.InvalidSpecError, match="is a subordinate"):
        await models.remove_units("m", ["log/1"])

    await models.add_units("m", "web", api.AddUnitsRequest(num_units=1))
    await _settle(store)
    assert (await _units(store))["log/3"] == (3, "web/3", "alive")

    await models.remove_units("m", ["web/1"])
    assert await _settle(store) == ["KillUnit"]
    assert (await _units(store))["log/1"][2] == "dying"

    await relations.remove_relation("m", ["log", "web"])
    assert (await _settle(store)).count("KillUnit") == 3
    assert {n: u[2] for n, u in (await _units(store)).items() if n.startswith("log/")} == {
        f"log/{n}": "dying" for n in range(4)
    }


async def test_a_bundle_places_a_subordinate_by_its_relations_only(
    store: Store, tmp_path: Path
) -> None:
    hub = services.ChangeHub()

    async def ready(_: str) -> None:
        return None

    models = services.ModelService(store, hub, substrate_ready=ready)
    await models.add_model("m")
    found = {}
    for meta in (WEB_CHARM, LOG_CHARM):
        name = str(meta["name"])
        source = tmp_path / name
        (source / "hooks").mkdir(parents=True)
        (source / "metadata.yaml").write_text(yaml.safe_dump({**meta, "summary": name}))
        record = await models.upload_charm(charms.pack(source, tmp_path / "cache").data)
        found[name] = api.BundleCharm(name=name, path=f"./{name}", sha256=record.sha256)
    bundles = services.BundleService(store, hub, models.check_substrates)
    text = (
        "applications:\n"
        "  web: {charm: ./web, num_units: 2}\n"
        "  log: {charm: ./log, num_units: 1}\n"
        "relations:\n"
        "  - [log:juju-info, web:juju-info]\n"
    )
    uuid = (await store.model("m")).uuid
    with pytest.raises(errors.InvalidSpecError, match="subordinate application"):
        await bundles.apply("m", api.BundleRequest(bundle=text, charms=found))
    assert (await store.snapshot(uuid)).applications == []

    placed = text.replace("log: {charm: ./log, num_units: 1}", "log: {charm: ./log}")
    await bundles.apply("m", api.BundleRequest(bundle=placed, charms=found))
    assert await _settle(store) == ["AddSubordinates"]
    assert sorted(n for n in await _units(store) if n.startswith("log/")) == ["log/0", "log/1"]
    exported = await bundles.export("m")
    assert "num_units" not in exported.applications["log"].model_dump(exclude_defaults=True)
    assert exported.applications["web"].num_units == 2
    again = await bundles.apply("m", api.BundleRequest(bundle=placed, charms=found, dry_run=True))
    assert not again.plan.changes


async def test_status_with_subordinates_takes_as_many_statements_for_40_as_for_3(
    store: Store,
) -> None:
    models, relations = await _world(store)
    await relations.integrate("m", "log", "web")
    await _settle(store)
    service = services.StatusService(
        store,
        services.ChangeHub(),
        controller_name="c",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    )
    statements = Statements(store)

    async def status() -> tuple[int, int]:
        statements.count = 0
        document = await service.status("m")
        units = document["applications"]["web"]["units"].values()
        return statements.count, sum(len(u.get("subordinates", {})) for u in units)

    few, small = await status()
    await models.add_units("m", "web", api.AddUnitsRequest(num_units=37))
    await _settle(store)
    many, big = await status()
    assert (small, big) == (3, 40)
    assert few == many
