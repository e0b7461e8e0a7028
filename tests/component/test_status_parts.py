"""Status rendered in parts (each unit's text kept from one status to the next) is byte
for byte the document rendered whole from a fresh read, over sequences of random changes
(unit reports, opened ports, leadership, machines, revisions sent, units added, dying and
removed, subordinates, settings), on SQLite and PostgreSQL; one model's kept texts never
show in another model's status."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.controller.state._snapshot import read_status_snapshot
from runecraft.schemas import bus
from runecraft.schemas.constraints import SetApplicationSettings
from runecraft.schemas.controller import BrokerHealth

CHARM = "a" * 64
SUBORDINATE = "c" * 64
STEPS = 60


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@dataclass
class Model:
    """A model with two applications of three units on three machines, and a subordinate
    application whose one unit runs beside `db/0`, with status rendered in parts."""

    store: Store
    hub: services.ChangeHub
    name: str
    status: services.StatusService
    published: dict[str, int] = field(default_factory=dict)
    reconciled: list[bool] = field(default_factory=lambda: [True])
    seq: int = 0

    async def whole(self) -> bytes:
        """The document rendered whole from a fresh read, as status did before parts."""
        async with self.store.engine.connect() as conn:
            snapshot = await read_status_snapshot(conn, self.name)
        assert snapshot is not None
        document = services.build_status(
            snapshot,
            controller_name="test",
            published_revision=self.published.get,
            reconciled=self.reconciled[0],
            broker=BrokerHealth(),
        )
        document["model"]["generation"] = self.hub.generation
        return json.dumps(
            document, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()

    async def apply(self, unit: str, message: bus.AgentMessage) -> None:
        """A message of the unit's machine agent, through the agents' apply path."""
        uuid = (await self.store.model(self.name)).uuid
        found = next(u for u in (await self.store.snapshot(uuid)).units if u.name == unit)
        agent = f"machine-{found.machine_number}.{uuid}"
        agents = services.AgentService(self.store, self.hub, lease_seconds=60.0)
        await agents.apply([(agent, message)])

    async def units(self) -> list[str]:
        uuid = (await self.store.model(self.name)).uuid
        return [u.name for u in (await self.store.snapshot(uuid)).units]


async def _model(store: Store, hub: services.ChangeHub, name: str) -> Model:
    await services.ModelService(store, hub).add_model(name)
    async with store.write(name) as tx:
        machines = [(await tx.machines.insert()).number for _ in range(3)]
        for app_name in ("db", "web"):
            app = await tx.applications.insert(name=app_name, charm_sha256=CHARM, config={})
            await tx.units.add(app, 3, machines)
        logger = await tx.applications.insert(name="logger", charm_sha256=SUBORDINATE, config={})
        await tx.units.add(logger, 1, [machines[0]], principals=["db/0"])
    published: dict[str, int] = {}
    reconciled = [True]
    status = services.StatusService(
        store,
        hub,
        controller_name="test",
        published_revision=published.get,
        reconciled=lambda: reconciled[0],
    )
    return Model(store, hub, name, status, published, reconciled)


@pytest.fixture
async def hub(store: Store) -> services.ChangeHub:
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    await store.put_charm(
        sha256=SUBORDINATE,
        name="logger",
        meta={"name": "logger", "subordinate": True},
        config={},
        actions={},
        data=b"zip",
    )
    return services.ChangeHub()


WORDS = ("", "serving", "ready ✓", 'quote " and \\ slash', "ünïcode", "tab\tnew\nline")


async def _report(model: Model, rng: random.Random) -> None:
    unit = rng.choice(await model.units())
    model.seq += 1
    await model.apply(
        unit,
        bus.UnitReport(
            unit=unit,
            seq=model.seq,
            workload=bus.StatusValue(
                status=rng.choice(("active", "blocked", "waiting", "error", "maintenance")),
                message=rng.choice(WORDS),
            ),
            agent=bus.StatusValue(status=rng.choice(("idle", "executing")), message=""),
            workload_version=rng.choice(("", "1.0", "2.1")),
            snapshot_revision=rng.randrange(4),
        ),
    )


async def _ports(model: Model, rng: random.Random) -> None:
    unit = rng.choice(await model.units())
    model.seq += 1
    ports = ("80/tcp", "443/tcp", "53/udp")
    opened = tuple(rng.sample(ports, rng.randrange(3)))
    closed = tuple(p for p in ports if p not in opened and rng.random() < 0.5)
    await model.apply(
        unit,
        bus.HookCommit(
            unit=unit, seq=model.seq, hook="start", opened_ports=opened, closed_ports=closed
        ),
    )


async def _published(model: Model, rng: random.Random) -> None:
    uuid = (await model.store.model(model.name)).uuid
    model.published[f"machine-{rng.randrange(3)}.{uuid}"] = rng.randrange(4)


async def _reconciled(model: Model, rng: random.Random) -> None:
    model.reconciled[0] = not model.reconciled[0]


async def _leader(model: Model, rng: random.Random) -> None:
    names = await model.units()
    async with model.store.write(model.name) as tx:
        app = await tx.applications.get(rng.choice(("db", "web")))
        mine = [n for n in names if n.startswith(f"{app.name}/")] + [None]
        await tx.applications.update(app, leader=rng.choice(mine))


async def _machine(model: Model, rng: random.Random) -> None:
    async with model.store.write(model.name) as tx:
        machine = await tx.machines.get(rng.randrange(3))
        await tx.machines.update(
            machine,
            status=rng.choice(("pending", "started", "down")),
            address=rng.choice(("", "10.0.0.7", "10.0.0.8")),
            instance_id=rng.choice(("", "juju-1")),
        )


async def _add(model: Model, rng: random.Random) -> None:
    async with model.store.write(model.name) as tx:
        app = await tx.applications.get(rng.choice(("db", "web")))
        await tx.units.add(app, 1, [rng.randrange(3)])


async def _subordinate(model: Model, rng: random.Random) -> None:
    principals = [n for n in await model.units() if not n.startswith("logger/")]
    principal = rng.choice(principals)
    async with model.store.write(model.name) as tx:
        machine = (await tx.units.get(principal)).machine_number
        app = await tx.applications.get("logger")
        await tx.units.add(app, 1, [machine], principals=[principal])


async def _dying(model: Model, rng: random.Random) -> None:
    unit = rng.choice(await model.units())
    async with model.store.write(model.name) as tx:
        await tx.units.update(await tx.units.get(unit), life="dying")


async def _remove(model: Model, rng: random.Random) -> None:
    names = await model.units()
    if len(names) <= 2:
        return
    async with model.store.write(model.name) as tx:
        await tx.units.delete(await tx.units.get(rng.choice(names)))


async def _base(model: Model, rng: random.Random) -> None:
    settings = services.SettingsService(model.store, model.hub)
    base = rng.choice(("ubuntu@22.04", "ubuntu@24.04"))
    await settings.change(model.name, rng.choice(("db", "web")), SetApplicationSettings(base=base))


CHANGES: tuple[Callable[[Model, random.Random], Awaitable[None]], ...] = (
    _report,
    _report,
    _report,
    _ports,
    _published,
    _reconciled,
    _leader,
    _machine,
    _add,
    _subordinate,
    _dying,
    _remove,
    _base,
)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_status_in_parts_is_the_whole_render_after_each_random_change(
    store: Store, hub: services.ChangeHub, seed: int
) -> None:
    rng = random.Random(seed)
    model = await _model(store, hub, "big")
    assert await model.status.status_json("big") == await model.whole()
    kept = 0
    for _ in range(STEPS):
        change = rng.choice(CHANGES)
        await change(model, rng)
        parts = await model.status.status_json("big")
        assert parts == await model.whole(), change.__name__
        kept += model.status.units_rendered < len(await model.units())
    assert kept > STEPS // 2  # most statuses kept most units' texts


async def test_after_one_report_only_that_unit_is_rendered_again(
    store: Store, hub: services.ChangeHub
) -> None:
    model = await _model(store, hub, "big")
    await model.status.status_json("big")
    assert model.status.units_rendered == 5  # 7 units; the subordinate and db/0 whole
    await model.apply(
        "web/1",
        bus.UnitReport(
            unit="web/1",
            seq=1,
            workload=bus.StatusValue(status="active", message="serving"),
            agent=bus.StatusValue(status="idle"),
        ),
    )
    document = json.loads(await model.status.status_json("big"))
    assert model.status.units_rendered == 1
    assert document["applications"]["web"]["units"]["web/1"]["workload-status"]["message"] == (
        "serving"
    )


async def test_one_models_kept_texts_never_show_in_another(
    store: Store, hub: services.ChangeHub
) -> None:
    big = await _model(store, hub, "big")
    small = await _model(store, hub, "small")
    status = big.status  # one service for both models, as the controller has
    status_of = {"big": big, "small": small}
    for seq, (name, message) in enumerate(
        [("big", "in big"), ("small", "in small"), ("big", "big again"), ("small", "")], 1
    ):
        model = status_of[name]
        await model.apply(
            "db/1",
            bus.UnitReport(
                unit="db/1",
                seq=seq,
                workload=bus.StatusValue(status="active", message=message),
                agent=bus.StatusValue(status="idle"),
            ),
        )
        for other in status_of.values():
            body = await status.status_json(other.name)
            assert body == await other.whole()
    big_doc = json.loads(await status.status_json("big"))
    small_doc = json.loads(await status.status_json("small"))
    assert big_doc["applications"]["db"]["units"]["db/1"]["workload-status"]["message"] == (
        "big again"
    )
    assert small_doc["applications"]["db"]["units"]["db/1"]["workload-status"]["message"] == ""
