"""The controller API on a real store: requests, bad input, and that bad input changes
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import TypeAdapter

from runecraft import charms
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import bus
from runecraft.schemas.api import ApplicationConfig, ModelConfigEntry
from runecraft.schemas.secrets import SecretDocument
from runecraft.schemas.status import StatusDocument, UnitInfo
from tests.component._api import api_client

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    await models.add_model("default")
    async with api_client(store, hub, published_revision=None) as http:
        yield http


async def _upload_bash_charm(client: httpx.AsyncClient, tmp_path: Path) -> str:
    packed = charms.pack(EXAMPLES / "hello-bash", tmp_path / "cache")
    response = await client.post("/v1/charms", content=packed.data)
    assert response.status_code == 201, response.text
    return str(response.json()["sha256"])


async def _deploy(client: httpx.AsyncClient, sha: str, **extra: Any) -> httpx.Response:
    body = {"application": "hello", "charm_sha256": sha, "num_units": 2, **extra}
    return await client.post("/v1/models/default/applications", json=body)


def _error(response: httpx.Response) -> tuple[int, str, str]:
    detail = response.json()["error"]
    return response.status_code, detail["code"], detail["message"]


async def test_deploy_and_status(client: httpx.AsyncClient, tmp_path: Path) -> None:
    sha = await _upload_bash_charm(client, tmp_path)
    response = await _deploy(client, sha, config={"message": "hi"})
    # Placement is decided in the deploy: the answer names each unit's machine.
    assert response.json() == {
        "units": ["hello/0", "hello/1"],
        "machines": {"hello/0": "0", "hello/1": "1"},
    }
    status = (await client.get("/v1/models/default/status")).json()
    app = status["applications"]["hello"]
    assert app["charm-name"] == "hello-bash"
    assert {name: unit["machine"] for name, unit in app["units"].items()} == {
        "hello/0": "0",
        "hello/1": "1",
    }
    assert sorted(status["machines"]) == ["0", "1"]
    added = await client.post(
        "/v1/models/default/applications/hello/units", json={"num_units": 2, "to": ["1"]}
    )
    assert added.json() == {
        "units": ["hello/2", "hello/3"],
        "machines": {"hello/2": "1", "hello/3": "2"},
    }
    config = (await client.get("/v1/models/default/applications/hello/config")).json()
    assert config["settings"]["message"]["value"] == "hi"
    assert config["settings"]["message"]["source"] == "user"


async def test_missing_or_wrong_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert _error(response) == (403, "permission-denied", "invalid credentials")
    response = await client.get("/v1/models", headers={"Authorization": ""})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("extra", "status_code", "fragment"),
    [
        ({"config": {"nope": "x"}}, 400, 'unknown option "nope"'),
        ({"application": "Bad_Name"}, 400, 'invalid application name "Bad_Name"'),
        ({"num_units": -1}, 400, "num_units"),
        ({"to": ["7"]}, 404, 'machine "7" not found'),
        ({"to": ["kvm:0"]}, 400, 'invalid placement "kvm:0"'),
        ({"charm_sha256": "b" * 64}, 404, "not found"),
        ({"surprise": 1}, 400, "surprise"),
    ],
)
async def test_bad_deploy_changes_nothing(
    client: httpx.AsyncClient,
    tmp_path: Path,
    extra: dict[str, Any],
    status_code: int,
    fragment: str,
) -> None:
    sha = await _upload_bash_charm(client, tmp_path)
    before = (await client.get("/v1/models/default")).json()
    response = await _deploy(client, sha, **extra)
    code, _, message = _error(response)
    assert code == status_code
    assert fragment in message
    after = (await client.get("/v1/models/default")).json()
    assert after["revision"] == before["revision"]
    assert (await client.get("/v1/models/default/status")).json()["applications"] == {}


async def test_config_wrong_type_is_refused_and_keeps_settings(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    packed = charms.pack(EXAMPLES / "hello", tmp_path / "cache")
    sha = (await client.post("/v1/charms", content=packed.data)).json()["sha256"]
    assert (await _deploy(client, sha, config={"greeting": "hey"})).status_code == 201
    url = "/v1/models/default/applications/hello/config"
    response = await client.patch(url, json={"values": {"greeting": "bonjour", "nope": "1"}})
    assert _error(response)[0] == 400
    config = (await client.get(url)).json()
    assert config["settings"]["greeting"]["value"] == "hey"


async def test_unknown_entities_are_not_found(client: httpx.AsyncClient) -> None:
    assert _error(await client.get("/v1/models/nope/status"))[:2] == (404, "not-found")
    response = await client.post("/v1/models/default/units/remove", json={"units": ["x/0"]})
    assert _error(response) == (404, "not-found", 'unit "x/0" not found in model "default"')
    response = await client.get("/v1/models/default/applications/ghost/config")
    assert 'application "ghost" not found' in _error(response)[2]


async def test_not_a_charm_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/charms", content=b"not a zip")
    assert _error(response)[:2] == (400, "invalid")


async def test_duplicate_model_and_bad_model_name(client: httpx.AsyncClient) -> None:
    assert _error(await client.post("/v1/models", json={"name": "default"}))[:2] == (
        409,
        "conflict",
    )
    assert _error(await client.post("/v1/models", json={"name": "Bad Name"}))[0] == 400
    assert [m["name"] for m in (await client.get("/v1/models")).json()] == ["default"]


async def test_openapi_document_lists_the_routes(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "/v1/models/{model}/applications" in document["paths"]


# --- the charm runtime: relations, actions, refresh, resolve, model config -----------------


def _charm(
    tmp_path: Path,
    name: str,
    metadata: dict[str, Any],
    *,
    options: dict[str, Any] | None = None,
    actions: dict[str, Any] | None = None,
    tag: str = "",
) -> bytes:
    """A packed-form bash charm built on the fly."""
    root = tmp_path / f"{name}{tag}"
    (root / "hooks").mkdir(parents=True)
    (root / "metadata.yaml").write_text(yaml.safe_dump({"name": name, **metadata}))
    (root / "config.yaml").write_text(yaml.safe_dump({"options": options or {}}))
    (root / "actions.yaml").write_text(yaml.safe_dump(actions or {}))
    install = root / "hooks" / "install"
    install.write_text("#!/bin/sh\n")
    install.chmod(0o755)
    return charms.pack(root, tmp_path / "cache").data


DB_META = {"provides": {"db": "mysql"}, "peers": {"ha": "db-peers"}}
WEB_META = {"requires": {"db": {"interface": "mysql", "limit": 1}}}
DB_ACTIONS = {
    "backup": {
        "params": {"target": {"type": "string"}, "level": {"type": "integer", "default": 6}},
        "required": ["target"],
    }
}


async def _upload(client: httpx.AsyncClient, data: bytes) -> str:
    response = await client.post("/v1/charms", content=data)
    assert response.status_code == 201, response.text
    return str(response.json()["sha256"])


async def _two_apps(client: httpx.AsyncClient, tmp_path: Path, units: int = 1) -> None:
    db = await _upload(
        client,
        _charm(tmp_path, "db", DB_META, options={"a": {"type": "string"}}, actions=DB_ACTIONS),
    )
    web = await _upload(client, _charm(tmp_path, "web", WEB_META))
    for app, sha in (("db", db), ("web", web)):
        body = {"application": app, "charm_sha256": sha, "num_units": units}
        response = await client.post("/v1/models/default/applications", json=body)
        assert response.status_code == 201, response.text


async def test_status_document_is_what_the_openapi_document_declares(
    client: httpx.AsyncClient, tmp_path: Path, store: Store
) -> None:
    """The status route declares `StatusDocument` but sends its own JSON unvalidated: a
    real document (units, machines, relations, a leader, the broker) reads through the
    model with no key lost and none missing."""
    await _two_apps(client, tmp_path, units=2)
    response = await client.post("/v1/models/default/relations", json={"endpoints": ["db", "web"]})
    assert response.status_code == 201, response.text
    async with store.write("default") as tx:
        await tx.applications.update(await tx.applications.get("db"), leader="db/0")
    document = (await client.get("/v1/models/default/status")).json()
    read = StatusDocument.model_validate(document)
    assert read.model_dump(mode="json", by_alias=True, exclude_unset=True) == document
    assert read.applications["db"].units["db/0"].leader
    assert set(read.applications["db"].relations) == {"db", "ha"}
    assert read.controller is not None


def _reads_back(declared: Any, document: Any) -> None:
    """`document` reads through the model its route declares with no key lost or added."""
    adapter: TypeAdapter[Any] = TypeAdapter(declared)
    read = adapter.validate_python(document)
    assert adapter.dump_python(read, mode="json", by_alias=True, exclude_unset=True) == document


async def test_juju_shaped_answers_are_what_the_openapi_document_declares(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`show-unit`, `config` and `model-config` are built as plain JSON and only declared
    (like status): real ones read through their models unchanged."""
    await _two_apps(client, tmp_path)
    response = await client.post("/v1/models/default/relations", json={"endpoints": ["db", "web"]})
    assert response.status_code == 201, response.text
    url = "/v1/models/default/applications/db/config"
    assert (await client.patch(url, json={"values": {"a": "x"}})).status_code == 200
    unit = (await client.get("/v1/models/default/units/db/0")).json()
    _reads_back(dict[str, UnitInfo], unit)
    assert [r["endpoint"] for r in unit["db/0"]["relation-info"]] == ["ha", "db"]
    config = (await client.get(url)).json()
    _reads_back(ApplicationConfig, config)
    assert config["settings"]["a"]["value"] == "x"
    _reads_back(dict[str, ModelConfigEntry], (await client.get("/v1/models/default/config")).json())
    secrets = "/v1/models/default/secrets"
    body = {"name": "s", "content": {"key": "v"}, "description": "d"}
    response = await client.post(secrets, json=body)
    assert response.status_code == 201, response.text
    response = await client.post(f"{secrets}/s/grant", json={"applications": ["web"]})
    assert response.status_code == 204, response.text
    shown = [
        (await client.get(f"{secrets}/s", params=query)).json()
        for query in ({"reveal": True}, {"revisions": True})
    ]
    for document in shown:
        _reads_back(dict[str, SecretDocument], document)
    (revealed,), (listed,) = (document.values() for document in shown)
    assert (revealed["content"], revealed["access"][0]["target"]) == (
        {"Data": {"key": "v"}},
        "application-web",
    )
    assert [r["revision"] for r in listed["revisions"]] == [1]
    _reads_back(dict[str, SecretDocument], (await client.get(secrets)).json())


async def _revision(client: httpx.AsyncClient) -> int:
    return int((await client.get("/v1/models/default")).json()["revision"])


async def test_integrate_remove_and_status_relations(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _two_apps(client, tmp_path)
    response = await client.post("/v1/models/default/relations", json={"endpoints": ["db", "web"]})
    assert response.status_code == 201, response.text
    relation = response.json()
    assert (relation["id"], relation["key"], relation["interface"]) == (1, "web:db db:db", "mysql")
    assert [(e["application"], e["role"], e["limit"]) for e in relation["endpoints"]] == [
        ("web", "requirer", 1),
        ("db", "provider", None),
    ]
    status = (await client.get("/v1/models/default/status")).json()
    assert status["applications"]["db"]["relations"] == {
        "db": [{"related-application": "web", "interface": "mysql", "scope": "global"}],
        "ha": [{"related-application": "db", "interface": "db-peers", "scope": "global"}],
    }
    assert status["applications"]["web"]["relations"] == {
        "db": [{"related-application": "db", "interface": "mysql", "scope": "global"}]
    }
    assert [(i["provider"], i["requirer"], i["type"]) for i in status["integrations"]] == [
        ("db:ha", "db:ha", "peer"),
        ("db:db", "web:db", "regular"),
    ]
    response = await client.post(
        "/v1/models/default/relations/remove", json={"endpoints": ["web:db", "db"]}
    )
    assert response.json() == {"id": 1, "key": "web:db db:db", "life": "dying"}
    listed = (await client.get("/v1/models/default/relations")).json()
    assert [(r["id"], r["life"]) for r in listed] == [(0, "alive"), (1, "dying")]


@pytest.mark.parametrize(
    ("path", "body", "status_code", "fragment"),
    [
        ("relations", {"endpoints": ["web:nope", "db"]}, 404, 'has no "nope" relation'),
        ("relations", {"endpoints": ["ghost", "db"]}, 404, 'application "ghost" not found'),
        ("relations", {"endpoints": ["db:ha", "web"]}, 400, "is a peer relation"),
        ("relations", {"endpoints": ["db"]}, 400, "endpoints"),
        ("relations/remove", {"endpoints": ["web", "db"]}, 404, 'relation matching "web db"'),
        ("relations/remove", {"endpoints": ["9"]}, 404, "relation 9 not found"),
        ("actions", {"units": ["db/0"], "action": "nope"}, 404, 'action "nope" not defined'),
        ("actions", {"units": ["db/0"], "action": "backup"}, 400, "'target' is a required"),
        (
            "actions",
            {"units": ["db/0"], "action": "backup", "params": {"target": 1}},
            400,
            "target: 1 is not of type 'string'",
        ),
        ("actions", {"units": ["db/5"], "action": "backup"}, 404, 'unit "db/5" not found'),
        ("actions", {"units": [], "action": "backup"}, 400, "units"),
        ("actions", {"units": ["db/0"], "action": "backup", "x": 1}, 400, "x"),
        ("units/resolve", {"units": ["db/0"]}, 409, 'unit "db/0" is not in an error state'),
        ("units/resolve", {"units": ["db/9"]}, 404, 'unit "db/9" not found'),
    ],
)
async def test_bad_runtime_requests_change_nothing(
    client: httpx.AsyncClient,
    tmp_path: Path,
    path: str,
    body: dict[str, Any],
    status_code: int,
    fragment: str,
) -> None:
    await _two_apps(client, tmp_path)
    before = await _revision(client)
    response = await client.post(f"/v1/models/default/{path}", json=body)
    code, _, message = _error(response)
    assert code == status_code, message
    assert fragment in message
    assert await _revision(client) == before


async def test_run_action_and_read_it_back(
    client: httpx.AsyncClient, tmp_path: Path, store: Store
) -> None:
    await _two_apps(client, tmp_path, units=2)
    body = {"units": ["db/0", "db/1"], "action": "backup", "params": {"target": "/srv"}}
    response = await client.post("/v1/models/default/actions", json=body)
    assert response.status_code == 201, response.text
    queued = response.json()["actions"]
    assert [(a["id"], a["unit"], a["status"]) for a in queued] == [
        ("1", "db/0", "pending"),
        ("2", "db/1", "pending"),
    ]
    assert queued[0]["params"] == {"target": "/srv", "level": 6}
    shown = (await client.get("/v1/models/default/actions/2")).json()
    assert (shown["unit"], shown["status"], shown["completed"]) == ("db/1", "pending", None)
    assert _error(await client.get("/v1/models/default/actions/77"))[:2] == (404, "not-found")


async def test_refresh_moves_the_charm_and_drops_removed_options(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _two_apps(client, tmp_path)
    url = "/v1/models/default/applications/db/config"
    assert (await client.patch(url, json={"values": {"a": "x"}})).status_code == 200
    new = await _upload(
        client,
        _charm(tmp_path, "db", {**DB_META, "peers": {"ha": "db-peers", "extra": "more"}}, tag="2"),
    )
    response = await client.post(
        "/v1/models/default/applications/db/refresh", json={"charm_sha256": new}
    )
    assert response.json() == {"application": "db", "charm": "db", "revision": 1}
    config = (await client.get(url)).json()
    assert "a" not in config["settings"]
    status = (await client.get("/v1/models/default/status")).json()
    assert status["applications"]["db"]["charm-rev"] == 1
    assert set(status["applications"]["db"]["relations"]) == {"ha", "extra"}

    # The same charm again is a new revision, as Juju's `refresh --path`.
    again = await client.post(
        "/v1/models/default/applications/db/refresh", json={"charm_sha256": new}
    )
    assert again.json() == {"application": "db", "charm": "db", "revision": 2}
    status = (await client.get("/v1/models/default/status")).json()
    assert status["applications"]["db"]["charm-rev"] == 2
    before = await _revision(client)
    web = (await client.get("/v1/models/default/status")).json()
    assert web["applications"]["web"]["charm-name"] == "web"
    other = await _upload(client, _charm(tmp_path, "web", WEB_META, tag="3"))
    renamed = await client.post(
        "/v1/models/default/applications/db/refresh", json={"charm_sha256": other}
    )
    assert "the charm name must stay the same" in _error(renamed)[2]
    assert await _revision(client) == before


async def test_refresh_refuses_to_break_a_relation(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _two_apps(client, tmp_path)
    await client.post("/v1/models/default/relations", json={"endpoints": ["db", "web"]})
    new = await _upload(client, _charm(tmp_path, "db", {"peers": DB_META["peers"]}, tag="2"))
    response = await client.post(
        "/v1/models/default/applications/db/refresh", json={"charm_sha256": new}
    )
    code, _, message = _error(response)
    assert code == 409
    assert 'relation "web:db db:db" uses endpoint "db:db"' in message


async def test_resolve_a_unit_in_error(
    client: httpx.AsyncClient, tmp_path: Path, store: Store
) -> None:
    await _two_apps(client, tmp_path)
    async with store.write("default") as tx:
        await tx.units.update(
            await tx.units.get("db/0"), workload_status="error", workload_message='hook failed: "x"'
        )
    response = await client.post(
        "/v1/models/default/units/resolve", json={"units": ["db/0"], "no_retry": True}
    )
    assert response.status_code == 200, response.text
    unit = next(u for u in (await store.snapshot()).units if u.name == "db/0")
    assert (unit.resolved, unit.resolved_seq) == ("no-retry", 1)


async def test_model_config_get_set_and_refuse(client: httpx.AsyncClient) -> None:
    url = "/v1/models/default/config"
    assert (await client.get(url)).json() == {
        "agent-image": {"Value": "", "Source": "default"},
        "automatically-retry-hooks": {"Value": True, "Source": "default"},
        "hook-fork-server": {"Value": True, "Source": "default"},
        "logging-config": {"Value": "<root>=INFO", "Source": "default"},
        "update-status-hook-interval": {"Value": "5m", "Source": "default"},
    }
    changed = await client.patch(
        url,
        json={
            "values": {"automatically-retry-hooks": "false", "update-status-hook-interval": "10s"}
        },
    )
    assert changed.json()["automatically-retry-hooks"] == {"Value": False, "Source": "model"}
    assert changed.json()["update-status-hook-interval"]["Value"] == "10s"
    before = await _revision(client)
    for values in (
        {"nope": 1},
        {"automatically-retry-hooks": "perhaps"},
        {"hook-fork-server": "sometimes"},
        {"update-status-hook-interval": "soon"},
        {"agent-image": "Not An Image!"},
        {"agent-image": 3},
        {"logging-config": "<root>=LOUD"},
        {"logging-config": "unit..x=DEBUG"},
    ):
        assert _error(await client.patch(url, json={"values": values}))[0] == 400
    assert await _revision(client) == before
    reset = await client.patch(url, json={"reset": ["automatically-retry-hooks"]})
    assert reset.json()["automatically-retry-hooks"]["Source"] == "default"


async def test_status_stays_at_a_constant_number_of_queries(
    client: httpx.AsyncClient, tmp_path: Path, store: Store
) -> None:
    await _two_apps(client, tmp_path, units=1)
    await client.post("/v1/models/default/relations", json={"endpoints": ["db", "web"]})

    async def busy(units: list[str]) -> None:
        """Every unit enters scope, writes, and gets an action."""
        async with store.write("default") as tx:
            for name in units:
                machine = await tx.machines.insert()
                await tx.units.update(await tx.units.get(name), machine_number=machine.number)
        snapshot = await store.snapshot()
        agents = services.AgentService(store, services.ChangeHub(), lease_seconds=60.0)
        machines = {m.number: m.agent for m in snapshot.machines}
        batch: list[tuple[str, bus.AgentMessage]] = []
        for unit in (u for u in snapshot.units if u.name in units):
            assert unit.machine_number is not None
            batch.append(
                (
                    machines[unit.machine_number],
                    bus.HookCommit(
                        unit=unit.name,
                        seq=unit.commit_seq + 1,
                        hook="x",
                        scope={0 if unit.name.startswith("db") else 1: "enter", 1: "enter"},
                        relations={1: bus.RelationWrite(unit={"k": "v"})},
                        opened_ports=("80/tcp",),
                    ),
                )
            )
        await agents.apply(batch)
        db_units = [u for u in units if u.startswith("db/")]
        if db_units:
            body = {"units": db_units, "action": "backup", "params": {"target": "/"}}
            assert (await client.post("/v1/models/default/actions", json=body)).status_code == 201

    await busy(["db/0", "web/0"])
    counter = store.count_queries()
    small = (await client.get("/v1/models/default/status")).json()
    few = counter.count
    assert small["applications"]["db"]["units"]["db/0"]["open-ports"] == ["80/tcp"]

    added: list[str] = []
    for app in ("db", "web"):
        response = await client.post(
            f"/v1/models/default/applications/{app}/units", json={"num_units": 30}
        )
        added += response.json()["units"]
    await busy(added)
    counter.count = 0
    big = (await client.get("/v1/models/default/status")).json()
    assert counter.count == few
    assert len(big["applications"]["db"]["units"]) == 31
    assert len(big["applications"]["web"]["units"]) == 31


async def test_charm_actions_as_json_schemas(client: httpx.AsyncClient, tmp_path: Path) -> None:
    await _two_apps(client, tmp_path)
    shown = (await client.get("/v1/models/default/applications/db/actions")).json()
    assert shown == {
        "backup": {
            "type": "object",
            "title": "backup",
            "description": "",
            "properties": {
                "target": {"type": "string"},
                "level": {"type": "integer", "default": 6},
            },
            "required": ["target"],
            "additionalProperties": True,
        }
    }
    assert (await client.get("/v1/models/default/applications/web/actions")).json() == {}
    missing = await client.get("/v1/models/default/applications/nope/actions")
    assert _error(missing)[:2] == (404, "not-found")


async def test_a_missing_task_target_has_its_own_code_and_the_model_not(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """`run`/`exec` exit 0 for a missing unit or action (Juju 3.6), not for a missing model."""
    await _two_apps(client, tmp_path)
    for body in (
        {"units": ["db/5"], "action": "backup"},
        {"units": ["db/0"], "action": "nope"},
        {"units": ["nope/leader"], "action": "backup"},
    ):
        response = await client.post("/v1/models/default/actions", json=body)
        assert _error(response)[:2] == (404, "task-target-not-found"), body
    elsewhere = await client.post(
        "/v1/models/nope/actions", json={"units": ["db/0"], "action": "backup"}
    )
    assert _error(elsewhere)[:2] == (404, "not-found")


async def test_expose_is_stored_and_shown_in_status(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await _two_apps(client, tmp_path)
    url = "/v1/models/default/applications/db/settings"
    assert (await client.get(url)).json()["exposed"] is False
    exposed = await client.patch(url, json={"exposed": True})
    assert exposed.status_code == 200 and exposed.json()["exposed"] is True
    status = (await client.get("/v1/models/default/status")).json()
    assert (status["applications"]["db"]["exposed"], status["applications"]["web"]["exposed"]) == (
        True,
        False,
    )
    assert (await client.patch(url, json={"exposed": False})).json()["exposed"] is False
    before = await _revision(client)
    bad = await client.patch(url, json={"exposed": "sometimes"})
    assert bad.status_code == 400 and "exposed" in _error(bad)[2]
    assert await _revision(client) == before
