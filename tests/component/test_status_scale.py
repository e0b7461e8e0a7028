"""`status` sized for a fleet, on a real store through the API: as many SQL statements for
1,000 units as for 10, none for a status asked again with nothing changed, and a new
document as soon as anything it shows moved (a unit's report through the agents' apply
path, a setting, the revision sent to a machine, the reconcilers catching up); a second
read remakes only the records of the units that changed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import bus
from runecraft.schemas.constraints import SetApplicationSettings
from tests.component._api import controller_app
from tests.component.test_juju_api import CHARM, Statements, _grow

STATUS_STATEMENTS = 10
"""The model, its applications, units, machines, charms, relations and endpoints; its
offers, consumed offers (SAAS) and cross-model links."""


@dataclass
class Fleet:
    store: Store
    hub: services.ChangeHub
    http: httpx.AsyncClient
    statements: Statements
    published: dict[str, int] = field(default_factory=dict)
    reconciled: list[bool] = field(default_factory=lambda: [True])

    async def status(self) -> tuple[int, dict[str, Any]]:
        """The statements one status ran, and the document."""
        self.statements.count = 0
        response = await self.http.get("/v1/models/big/status")
        assert response.status_code == 200, response.text
        return self.statements.count, response.json()


@pytest.fixture
def store(store_on_each: Store) -> Store:
    """On SQLite, then on PostgreSQL."""
    return store_on_each


@pytest.fixture
async def fleet(store: Store) -> AsyncIterator[Fleet]:
    hub = services.ChangeHub()
    await services.ModelService(store, hub).add_model("big")
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    app = controller_app(store, hub, published_revision=None)
    published: dict[str, int] = {}
    reconciled = [True]
    app.state.context.status = services.StatusService(
        store,
        hub,
        controller_name="test",
        published_revision=published.get,
        reconciled=lambda: reconciled[0],
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://controller.test",
        headers={"Authorization": "Bearer admin-token"},
    ) as http:
        yield Fleet(store, hub, http, Statements(store), published, reconciled)


async def test_status_of_1000_units_takes_as_many_statements_as_10(fleet: Fleet) -> None:
    await _grow(fleet.store, 10)
    few, small = await fleet.status()
    await _grow(fleet.store, 990)
    many, big = await fleet.status()
    assert sum(len(a["units"]) for a in small["applications"].values()) == 10
    assert sum(len(a["units"]) for a in big["applications"].values()) == 1_000
    assert few == many == STATUS_STATEMENTS


def _unit(document: dict[str, Any], name: str) -> dict[str, Any]:
    unit: dict[str, Any] = document["applications"][name.partition("/")[0]]["units"][name]
    return unit


async def test_status_asked_again_runs_no_statement_until_a_report_is_stored(
    fleet: Fleet,
) -> None:
    await _grow(fleet.store, 10)
    first, before = await fleet.status()
    again, same = await fleet.status()
    assert (first, again) == (STATUS_STATEMENTS, 0)
    assert same == before
    model = await fleet.store.model("big")
    agents = services.AgentService(fleet.store, fleet.hub, lease_seconds=60.0)
    report = bus.UnitReport(
        unit="db/0",
        seq=1,
        workload=bus.StatusValue(status="active", message="serving"),
        agent=bus.StatusValue(status="idle"),
        snapshot_revision=5,
    )
    generation = fleet.hub.generation
    assert await agents.apply([(f"machine-0.{model.uuid}", report)])
    assert fleet.hub.generation == generation  # only the agents' worker wakes the hub
    assert (await fleet.store.model("big")).revision == model.revision  # not a revision
    count, after = await fleet.status()
    assert count == STATUS_STATEMENTS
    assert _unit(after, "db/0")["workload-status"]["message"] == "serving"
    assert _unit(after, "db/0")["juju-status"]["current"] == "idle"
    assert "open-ports" not in _unit(after, "db/0")
    opened = bus.HookCommit(unit="db/0", seq=1, hook="start", opened_ports=["80/tcp", "53/udp"])
    assert await agents.apply([(f"machine-0.{model.uuid}", opened)])
    count, ports = await fleet.status()
    assert count == STATUS_STATEMENTS
    assert _unit(ports, "db/0")["open-ports"] == ["53/udp", "80/tcp"]


async def test_a_setting_or_what_was_sent_to_a_machine_makes_a_new_status(fleet: Fleet) -> None:
    await _grow(fleet.store, 10)
    _, before = await fleet.status()
    assert before["applications"]["web"]["base"] == {"name": "ubuntu", "channel": "24.04"}
    settings = services.SettingsService(fleet.store, fleet.hub)
    await settings.change("big", "web", SetApplicationSettings(base="ubuntu@22.04"))
    count, changed = await fleet.status()
    assert count == STATUS_STATEMENTS
    assert changed["applications"]["web"]["base"] == {"name": "ubuntu", "channel": "22.04"}
    assert _unit(changed, "db/0")["observed"] is False
    model = await fleet.store.model("big")
    fleet.published[f"machine-0.{model.uuid}"] = 0  # no write: the reconciler sent a snapshot
    count, observed = await fleet.status()
    assert count == STATUS_STATEMENTS
    assert _unit(observed, "db/0")["observed"] is True
    assert _unit(observed, "db/1")["observed"] is False  # on machine 1
    fleet.reconciled[0] = False
    count, pending = await fleet.status()
    assert (count, pending["model"]["reconciled"]) == (STATUS_STATEMENTS, False)


async def test_status_of_two_models_is_each_its_own(fleet: Fleet) -> None:
    await _grow(fleet.store, 10)
    await services.ModelService(fleet.store, fleet.hub).add_model("small")
    _, big = await fleet.status()
    response = await fleet.http.get("/v1/models/small/status")
    assert response.json()["applications"] == {}
    assert (await fleet.status())[1] == big
    assert (await fleet.http.get("/v1/models/nope/status")).status_code == 404


async def test_a_second_read_remakes_only_the_records_of_units_that_changed(
    fleet: Fleet,
) -> None:
    await _grow(fleet.store, 10)
    first = await fleet.store.status_snapshot("big")
    model = await fleet.store.model("big")
    agents = services.AgentService(fleet.store, fleet.hub, lease_seconds=60.0)
    report = bus.UnitReport(
        unit="web/1",
        seq=1,
        workload=bus.StatusValue(status="active", message="serving"),
        agent=bus.StatusValue(status="idle"),
    )
    assert await agents.apply([(f"machine-1.{model.uuid}", report)])
    second = await fleet.store.status_snapshot("big")
    remade = [b.name for a, b in zip(first.units, second.units, strict=True) if a is not b]
    assert remade == ["web/1"]
    assert next(u for u in second.units if u.name == "web/1").workload_message == "serving"
