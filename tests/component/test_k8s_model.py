"""A k8s model (type "caas") on the real store and services, with no provider and no
agents: unit numbers are pod ordinals, each unit gets a hidden machine of its own, what
Kubernetes cannot do is refused by name with nothing changed, and status has Juju's k8s
shape (no machines; each unit's address, provider-id and pod state from its machine)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jubilant import statustypes
from rich.console import Console

from runecraft import errors
from runecraft.cli import _output
from runecraft.controller import services
from runecraft.controller.state import ModelSnapshot, Store
from runecraft.schemas import api

WEB = "a" * 64
SUB = "b" * 64


@dataclass
class K8s:
    """A store with a k8s model `k8s` and an iaas model `vm`, and the services on it."""

    store: Store
    models: services.ModelService
    status: services.StatusService

    async def snapshot(self, model: str = "k8s") -> ModelSnapshot:
        return await self.store.snapshot((await self.store.model(model)).uuid)

    async def units(self, model: str = "k8s") -> dict[str, tuple[str, int | None]]:
        """Unit -> (life, machine)."""
        return {u.name: (u.life, u.machine_number) for u in (await self.snapshot(model)).units}

    async def gone(self, model: str = "k8s") -> None:
        """The dying units finish leaving, and their machines go (as agent and reconciler
        would do it)."""
        async with self.store.write(model) as tx:
            for unit in (await tx.snapshot()).units:
                if unit.life == "dying":
                    await tx.units.delete(unit)
                    if unit.machine_number is not None:
                        await tx.machines.delete(await tx.machines.get(unit.machine_number))

    async def pod(self, unit: str, **values: Any) -> None:
        """What the provider writes on a unit's hidden machine (pod IP, name, state)."""
        async with self.store.write("k8s") as tx:
            record = await tx.units.get(unit)
            assert record.machine_number is not None
            await tx.machines.update(await tx.machines.get(record.machine_number), **values)


async def _open(path: Path) -> K8s:
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    hub = services.ChangeHub()
    config = dict(services.DEFAULT_MODEL_CONFIG)
    await store.create_model("k8s", "00000000-0000-0000-0000-00000000c0a5", "fake", config, "caas")
    await store.create_model("vm", "00000000-0000-0000-0000-0000000000a5", "fake", config)
    await store.put_charm(
        sha256=WEB, name="web", meta={"name": "web"}, config={}, actions={}, data=b""
    )
    sub_meta = {
        "name": "sub",
        "subordinate": True,
        "requires": {"host": {"interface": "juju-info", "scope": "container"}},
    }
    await store.put_charm(sha256=SUB, name="sub", meta=sub_meta, config={}, actions={}, data=b"")
    status = services.StatusService(
        store,
        hub,
        controller_name="ctl",
        published_revision=lambda _: None,
        reconciled=lambda: True,
    )
    return K8s(store, services.ModelService(store, hub), status)


@pytest.fixture
async def k8s(tmp_path: Path) -> AsyncIterator[K8s]:
    world = await _open(tmp_path / "state.db")
    yield world
    await world.store.close()


def _deploy(units: int, *, to: list[str] | None = None, charm: str = WEB) -> api.DeployRequest:
    return api.DeployRequest(application="web", charm_sha256=charm, num_units=units, to=to or [])


# --- numbering ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "after"),
    [
        ("k8s", ["web/0", "web/1", "web/2"]),  # pod ordinals come back
        ("vm", ["web/0", "web/3", "web/4"]),  # machine models never reuse a number
    ],
)
async def test_k8s_unit_numbers_after_scale_down_and_up(
    k8s: K8s, model: str, after: list[str]
) -> None:
    await k8s.models.deploy(model, _deploy(3))
    scaled = await k8s.models.scale(model, "web", scale=1)
    assert (scaled.scale, scaled.removed) == (1, ["web/2", "web/1"])
    await k8s.gone(model)
    back = await k8s.models.scale(model, "web", scale=3)
    assert sorted(back.added) == after[1:]
    units = await k8s.units(model)
    assert sorted(units) == after
    machines = [machine for _, machine in units.values()]
    assert None not in machines and len(set(machines)) == 3  # a machine each, never shared


async def test_k8s_units_each_get_a_new_machine_made_with_them(k8s: K8s) -> None:
    placed = await k8s.models.deploy("k8s", _deploy(2))
    added = await k8s.models.add_units("k8s", "web", api.AddUnitsRequest(num_units=2))
    machines = [*placed.values(), *added.values()]
    assert len(set(machines)) == 4
    snapshot = await k8s.snapshot()
    assert sorted(m.number for m in snapshot.machines) == sorted(machines)


async def test_k8s_remove_by_count_takes_the_highest_alive_units(k8s: K8s) -> None:
    await k8s.models.deploy("k8s", _deploy(4))
    await k8s.models.remove_units("k8s", ["web/3"])  # the highest, by name: allowed
    scaled = await k8s.models.scale("k8s", "web", change=-2)
    assert (scaled.scale, scaled.removed) == (1, ["web/2", "web/1"])
    assert {n: life for n, (life, _) in (await k8s.units()).items()} == {
        "web/0": "alive",
        "web/1": "dying",
        "web/2": "dying",
        "web/3": "dying",
    }


# --- refusals: named, and nothing changes ------------------------------------------------


async def _deployed(k8s: K8s) -> None:
    await k8s.models.deploy("k8s", _deploy(3))


async def _dying(k8s: K8s) -> None:
    await _deployed(k8s)
    await k8s.models.scale("k8s", "web", scale=2)


def _machines_service(k8s: K8s) -> services.MachineService:
    def no_enlister() -> services.Enlister:
        raise AssertionError("a k8s model must not reach the enlister")

    async def nothing() -> None:
        return None

    return services.MachineService(
        k8s.store,
        services.ChangeHub(),
        enlister=no_enlister,
        credentials_changed=nothing,
        broker_for_agents=lambda *_: pytest.fail("no broker on a k8s model"),
        api_url="http://controller.test",
    )


async def _as_made(k: K8s) -> None:
    """No setup: the refusal is tried on the model as the fixture made it."""


Refusal = tuple[
    str,
    Callable[[K8s], Awaitable[None]],
    Callable[[K8s], Awaitable[object]],
    type[errors.RunecraftError],
    list[str],
]

REFUSALS: list[Refusal] = [
    (
        "deploy --to",
        _as_made,
        lambda k: k.models.deploy("k8s", _deploy(1, to=["0"])),
        errors.InvalidSpecError,
        ["k8s models only support --num-units", "--to 0"],
    ),
    (
        "deploy a subordinate",
        _as_made,
        lambda k: k.models.deploy("k8s", _deploy(0, charm=SUB)),
        errors.InvalidSpecError,
        ['"web"', "subordinate charms are not supported on k8s models"],
    ),
    (
        "add-unit --to",
        _deployed,
        lambda k: k.models.add_units("k8s", "web", api.AddUnitsRequest(to=["lxd"])),
        errors.InvalidSpecError,
        ["k8s models only support --num-units", "--to lxd"],
    ),
    (
        "add-unit while a unit is dying",
        _dying,
        lambda k: k.models.add_units("k8s", "web", api.AddUnitsRequest(num_units=1)),
        errors.ConflictError,
        ["web/2 is still being removed", "try again once they are gone"],
    ),
    (
        "scale up while a unit is dying",
        _dying,
        lambda k: k.models.scale("k8s", "web", scale=3),
        errors.ConflictError,
        ["web/2 is still being removed"],
    ),
    (
        "remove a unit below the highest",
        _deployed,
        lambda k: k.models.remove_units("k8s", ["web/0"]),
        errors.ConflictError,
        ["cannot remove web/0", "web/2", "--num-units 1"],
    ),
    (
        "remove two units leaving a gap",
        _deployed,
        lambda k: k.models.remove_units("k8s", ["web/2", "web/0"]),
        errors.ConflictError,
        ["cannot remove web/0", "web/2, web/1"],
    ),
    (
        "remove more units than there are",
        _deployed,
        lambda k: k.models.scale("k8s", "web", change=-4),
        errors.InvalidSpecError,
        ['cannot remove 4 units of "web": it has 3'],
    ),
    (
        "add-machine",
        _as_made,
        lambda k: _machines_service(k).add_machine("k8s", "ssh:ubuntu@10.0.0.9"),
        errors.InvalidSpecError,
        ['Juju command "add-machine" not supported on container models', '"k8s"'],
    ),
    (
        "remove-machine of a unit's pod",
        _deployed,
        lambda k: _machines_service(k).remove_machine("k8s", 0, force=True),
        errors.InvalidSpecError,
        ['Juju command "remove-machine" not supported on container models'],
    ),
]


@pytest.mark.parametrize(
    ("given", "attempt", "error", "words"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_k8s_refusals_name_the_problem_and_change_nothing(
    k8s: K8s,
    given: Callable[[K8s], Awaitable[None]],
    attempt: Callable[[K8s], Awaitable[object]],
    error: type[errors.RunecraftError],
    words: list[str],
) -> None:
    await given(k8s)
    before = await k8s.snapshot()
    with pytest.raises(error) as caught:
        await attempt(k8s)
    for word in words:
        assert word in caught.value.message
    assert await k8s.snapshot() == before


async def test_caas_rules_leave_machine_models_alone(k8s: K8s) -> None:
    await k8s.models.deploy("vm", _deploy(3))
    await k8s.models.remove_units("vm", ["web/0"])  # any unit, by name
    await k8s.models.add_units("vm", "web", api.AddUnitsRequest(num_units=1))  # while dying
    assert sorted(await k8s.units("vm")) == ["web/0", "web/1", "web/2", "web/3"]


# --- the property: contiguous pod ordinals -----------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("scale"), st.integers(0, 5)),
        st.tuples(st.just("remove"), st.integers(1, 3)),
        st.tuples(st.just("remove-name"), st.integers(0, 5)),
        st.tuples(st.just("gone"), st.just(0)),
    ),
    max_size=10,
)


async def _run_operations(world: K8s, operations: list[tuple[str, int]]) -> None:
    await world.models.deploy("k8s", _deploy(1))
    for kind, value in operations:
        try:
            if kind == "scale":
                await world.models.scale("k8s", "web", scale=value)
            elif kind == "remove":
                await world.models.scale("k8s", "web", change=-value)
            elif kind == "remove-name":
                await world.models.remove_units("k8s", [f"web/{value}"])
            else:
                await world.gone()
        except errors.RunecraftError:
            pass  # refused: nothing changed (checked by the refusal table)
        units = await world.units()
        alive = sorted(int(n.split("/")[1]) for n, (life, _) in units.items() if life == "alive")
        assert alive == list(range(len(alive))), units
    await world.gone()
    numbers = sorted(int(n.split("/")[1]) for n in await world.units())
    assert numbers == list(range(len(numbers)))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_k8s_scaling_keeps_unit_numbers_contiguous_from_zero(
    operations: list[tuple[str, int]],
) -> None:
    async def scenario() -> None:
        with tempfile.TemporaryDirectory() as directory:
            world = await _open(Path(directory) / "state.db")
            try:
                await _run_operations(world, operations)
            finally:
                await world.store.close()

    asyncio.run(scenario())


# --- status ------------------------------------------------------------------------------


async def test_k8s_status_has_no_machines_and_shows_each_pod(k8s: K8s) -> None:
    await k8s.models.deploy("k8s", _deploy(4))
    now = time.time()
    await k8s.pod("web/0", status="started", address="10.1.0.7", hostname="web-0")
    await k8s.pod("web/1", status="pending", status_message="")
    unschedulable = "pod pending: Unschedulable: 0/1 nodes are available"
    await k8s.pod("web/2", status="provisioning", status_message=unschedulable, status_since=now)
    crash = "crash loop backoff: back-off 5m0s restarting failed container=charm"
    await k8s.pod("web/3", status="error", status_message=crash, hostname="web-3")
    await k8s.models.scale("k8s", "web", scale=3)  # web/3 is leaving

    document = await k8s.status.status("k8s")
    assert document["model"]["type"] == "caas"
    assert document["machines"] == {}
    app = document["applications"]["web"]
    assert app["scale"] == 3
    units = app["units"]
    assert all("machine" not in unit for unit in units.values())
    assert (units["web/0"]["address"], units["web/0"]["provider-id"]) == ("10.1.0.7", "web-0")
    assert "address" not in units["web/1"] and "provider-id" not in units["web/1"]
    shown = {
        name: (
            unit["juju-status"]["current"],
            unit["workload-status"]["current"],
            unit["workload-status"]["message"],
        )
        for name, unit in units.items()
    }
    assert shown == {
        "web/0": ("allocating", "waiting", "waiting for machine"),  # the unit's own status
        "web/1": ("allocating", "waiting", "installing agent"),
        "web/2": ("allocating", "waiting", unschedulable),
        "web/3": ("allocating", "error", crash),
    }
    assert app["application-status"]["current"] == "error"  # the most severe unit
    parsed = statustypes.Status._from_dict(document)
    assert parsed.model.type == "caas"
    assert parsed.apps["web"].units["web/0"].address == "10.1.0.7"
    assert parsed.apps["web"].units["web/0"].provider_id == "web-0"


async def test_k8s_show_unit_has_the_pods_address_and_no_machine(k8s: K8s) -> None:
    await k8s.models.deploy("k8s", _deploy(1))
    await k8s.pod("web/0", status="started", address="10.1.0.7", hostname="web-0")
    document = (await k8s.status.show_unit("k8s", "web/0"))["web/0"]
    assert "machine" not in document
    assert (document["address"], document["provider-id"]) == ("10.1.0.7", "web-0")


def _rendered(document: dict[str, Any]) -> str:
    console = Console(width=200, record=True, highlight=False)
    for table in _output.status_tables(document):
        console.print(table)
    return console.export_text()


async def test_k8s_tabular_status_has_no_machine_column_nor_section(k8s: K8s) -> None:
    for model in ("k8s", "vm"):
        await k8s.models.deploy(model, _deploy(1))
    await k8s.pod("web/0", status="started", address="10.1.0.7", hostname="web-0")
    k8s_text = _rendered(await k8s.status.status("k8s"))
    vm_text = _rendered(await k8s.status.status("vm"))
    k8s_header = next(line for line in k8s_text.splitlines() if line.startswith("Unit"))
    assert k8s_header.split() == ["Unit", "Workload", "Agent", "Address", "Ports", "Message"]
    assert "10.1.0.7" in k8s_text
    assert "Machine" not in k8s_text and "Inst id" not in k8s_text
    vm_header = next(line for line in vm_text.splitlines() if line.startswith("Unit"))
    assert "Machine" in vm_header and "Inst id" in vm_text


async def test_k8s_status_stays_at_a_constant_number_of_queries(k8s: K8s) -> None:
    await k8s.models.deploy("k8s", _deploy(2))
    counter = k8s.store.count_queries()
    small = await k8s.status.status("k8s")
    few = counter.count
    await k8s.models.scale("k8s", "web", scale=60)
    counter.count = 0
    big = await k8s.status.status("k8s")
    assert counter.count == few
    assert (small["applications"]["web"]["scale"], big["applications"]["web"]["scale"]) == (2, 60)


# --- bundles -----------------------------------------------------------------------------

K8S_BUNDLE = "bundle: kubernetes\napplications:\n  web: {charm: ./web, scale: 3}\n"


def _bundle(k8s: K8s, model: str, text: str, **extra: Any) -> Awaitable[services.BundleOutcome]:
    bundles = services.BundleService(k8s.store, services.ChangeHub(), k8s.models.check_substrates)
    charm = api.BundleCharm(name="web", path="./web", sha256=WEB)
    return bundles.apply(model, api.BundleRequest(bundle=text, charms={"web": charm}, **extra))


async def test_k8s_bundle_applies_to_a_k8s_model_and_prunes_highest_first(k8s: K8s) -> None:
    outcome = await _bundle(k8s, "k8s", K8S_BUNDLE)
    assert sorted(outcome.machines) == ["web/0", "web/1", "web/2"]
    await _bundle(k8s, "k8s", K8S_BUNDLE.replace("scale: 3", "scale: 1"), prune=True)
    assert {n: life for n, (life, _) in (await k8s.units()).items()} == {
        "web/0": "alive",
        "web/1": "dying",
        "web/2": "dying",
    }


@pytest.mark.parametrize(
    ("model", "text", "words"),
    [
        ("vm", K8S_BUNDLE, ['"kubernetes" bundles deploy to k8s models', 'model "vm"']),
        ("k8s", "applications:\n  web: {charm: ./web, num_units: 1}\n", ["bundle: kubernetes"]),
        (
            "k8s",
            "applications:\n  web: {charm: ./web, num_units: 2, to: ['0', '1']}\n"
            "machines: {'0': {}, '1': {}}\n",
            ["machines: a k8s model has no machines", "machines 0, 1", "applications.web.to:"],
        ),
        (
            "k8s",
            K8S_BUNDLE.replace("scale: 3", "scale: 3, to: ['disk=ssd']"),
            ["applications.web.to: units of a k8s model cannot be placed"],
        ),
    ],
    ids=["k8s bundle, machine model", "machine bundle", "machines and to", "node selector"],
)
@pytest.mark.parametrize("dry_run", [True, False], ids=["plan", "apply"])
async def test_k8s_bundle_mismatch_is_refused_whole_and_changes_nothing(
    k8s: K8s, model: str, text: str, words: list[str], dry_run: bool
) -> None:
    before = await k8s.snapshot(model)
    with pytest.raises(errors.InvalidSpecError) as caught:
        await _bundle(k8s, model, text, dry_run=dry_run)
    for word in words:
        assert word in caught.value.message
    assert await k8s.snapshot(model) == before
