"""The controller API behind the Juju-compatible commands, on a real store: `status` of
10,000 units in as many SQL statements as of 10, `show-unit` as jubilant parses it, and
application settings and model constraints (bad input changes nothing)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from jubilant import unittypes
from sqlalchemy import event

from runecraft.controller import services
from runecraft.controller.services._hook_commit import apply_hook_commit
from runecraft.controller.state import EndpointRecord, Store
from runecraft.schemas import bus
from tests.component._api import api_client

CHARM = "c" * 64


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    hub = services.ChangeHub()
    await services.ModelService(store, hub).add_model("big")
    async with api_client(store, hub, published_revision=1) as http:
        yield http


async def _grow(store: Store, units: int) -> None:
    """Add `units` units of two applications, spread over ten machines."""
    async with store.write("big") as tx:
        machines = [(await tx.machines.insert()).number for _ in range(10)]
        for name in ("db", "web"):
            app = await tx.applications.find(name) or await tx.applications.insert(
                name=name, charm_sha256=CHARM, config={}
            )
            count = units // 2
            await tx.units.add(app, count, [machines[i % 10] for i in range(count)])


class Statements:
    """Counts SQL statements as SQLAlchemy sends them to the database."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        event.listen(store.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


async def test_status_of_10000_units_takes_as_many_queries_as_10(
    store: Store, client: httpx.AsyncClient
) -> None:
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    statements = Statements(store)

    async def status_queries() -> tuple[int, dict[str, Any]]:
        statements.count = 0
        response = await client.get("/v1/models/big/status")
        assert response.status_code == 200, response.text
        return statements.count, response.json()

    await _grow(store, 10)
    few, small = await status_queries()
    await _grow(store, 9_990)
    many, big = await status_queries()

    assert sum(len(a["units"]) for a in small["applications"].values()) == 10
    assert sum(len(a["units"]) for a in big["applications"].values()) == 10_000
    assert len(big["machines"]) == 20
    assert many == few


async def _related_pair(store: Store) -> None:
    """`db/0`, `db/1` and `web/0` on machine 0, related `db:server` — `web:client`; each
    unit in scope wrote its name, each leader its application's name."""
    await store.put_charm(
        sha256=CHARM, name="hello", meta={"name": "hello"}, config={}, actions={}, data=b"zip"
    )
    async with store.write("big") as tx:
        assert tx.model is not None
        machine = await tx.machines.insert()
        for name, count in (("db", 2), ("web", 1)):
            app = await tx.applications.insert(name=name, charm_sha256=CHARM, config={})
            await tx.units.add(app, count, [machine.number] * count)
            await tx.applications.update(app, leader=f"{name}/0")
        sides = [("db", "server", "provider"), ("web", "client", "requirer")]
        relation = await tx.relations.insert(
            "db:server web:client",
            [
                EndpointRecord(tx.model.uuid, -1, app, endpoint, role, "pg", "global", None)
                for app, endpoint, role in sides
            ],
        )
        model_uuid = tx.model.uuid
    async with store.write() as tx:
        for unit in ("db/0", "db/1", "web/0"):
            app = unit.split("/")[0]
            write = bus.RelationWrite(
                unit={"unit-name": unit}, app={"app": app} if unit.endswith("/0") else {}
            )
            commit = bus.HookCommit(
                unit=unit,
                seq=1,
                hook="relation-created",
                scope={relation.id: "enter"},
                relations={relation.id: write},
            )
            assert await apply_hook_commit(tx, model_uuid, machine.number, commit, time.time())


async def test_show_unit_is_what_jubilant_reads(store: Store, client: httpx.AsyncClient) -> None:
    await _related_pair(store)
    response = await client.get("/v1/models/big/units/web/0")
    assert response.status_code == 200, response.text
    [(name, document)] = response.json().items()
    info = unittypes.UnitInfo._from_dict(document)
    assert (name, info.leader, info.charm, info.machine) == ("web/0", True, "local:hello-0", "0")
    [relation] = info.relation_info
    assert (relation.endpoint, relation.related_endpoint) == ("client", "server")
    assert relation.app_data == {"app": "db"}
    assert relation.local_unit is not None
    assert relation.local_unit.in_scope and relation.local_unit.data == {"unit-name": "web/0"}
    assert {u: (d.in_scope, d.data) for u, d in relation.related_units.items()} == {
        "db/0": (True, {"unit-name": "db/0"}),
        "db/1": (True, {"unit-name": "db/1"}),
    }
    provider = (await client.get("/v1/models/big/units/db/1")).json()["db/1"]
    assert provider["leader"] is False
    assert provider["relation-info"][0]["application-data"] == {"app": "web"}
    for path, status, message in [
        ("/v1/models/big/units/web/9", 404, 'unit "web/9" not found'),
        ("/v1/models/big/units/Web/x", 400, 'invalid unit name "Web/x"'),
        ("/v1/models/nope/units/web/0", 404, 'model "nope" not found'),
    ]:
        response = await client.get(path)
        assert (response.status_code, message in response.json()["error"]["message"]) == (
            status,
            True,
        ), path


async def test_settings_and_model_constraints_refuse_bad_input(
    store: Store, client: httpx.AsyncClient
) -> None:
    await _related_pair(store)
    path = "/v1/models/big/applications/web/settings"
    body = {"constraints": ["mem=2G", "cores=2"], "trust": True, "base": "ubuntu@22.04"}
    response = await client.patch(path, json=body)
    assert response.status_code == 200, response.text
    good = {
        "application": "web",
        "constraints": {"mem": 2048, "cores": 2},
        "trust": True,
        "exposed": False,
    }
    assert response.json() == {**good, "base": "ubuntu@22.04"}
    status = (await client.get("/v1/models/big/status")).json()
    assert status["applications"]["web"]["base"] == {"name": "ubuntu", "channel": "22.04"}
    for bad, message in [
        ({"constraints": ["mem=lots"]}, 'constraint "mem"'),
        ({"constraints": ["gpu=1"], "trust": False}, 'unknown constraint "gpu"'),
        ({"base": "jammy", "trust": False}, 'invalid base "jammy"'),
        ({"trust": "maybe"}, "trust"),
        ({"colour": "red"}, "colour"),
    ]:
        response = await client.patch(path, json=bad)
        assert (response.status_code, message in response.json()["error"]["message"]) == (
            400,
            True,
        ), bad
    assert (await client.get(path)).json() == {**good, "base": "ubuntu@22.04"}
    missing = await client.patch("/v1/models/big/applications/nope/settings", json={})
    assert missing.status_code == 404

    constraints = "/v1/models/big/constraints"
    assert (await client.get(constraints)).json() == {}
    response = await client.put(constraints, json={"constraints": ["mem=1G arch=arm64"]})
    assert response.json() == {"mem": 1024, "arch": "arm64"}
    response = await client.put(constraints, json={"constraints": ["arch=sparc"]})
    assert (response.status_code, 'constraint "arch"' in response.json()["error"]["message"]) == (
        400,
        True,
    )
    assert (await client.get(constraints)).json() == {"mem": 1024, "arch": "arm64"}
