"""The controller API on a real store: requests, bad input, and that bad input changes
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runecraft import charms
from runecraft.controller import api, services
from runecraft.controller.state import Store

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"
TOKEN = "admin-token"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}")
    hub = services.ChangeHub()
    models = services.ModelService(store, hub)
    await models.add_model("default")

    async def status(model: str) -> dict[str, Any]:
        record = await store.model(model)
        return services.build_status(
            await store.snapshot(record.uuid),
            controller_name="test",
            published_revision=lambda _: None,
            reconciled=True,
        )

    async def no_agent(_: str, __: str) -> bool:
        return False

    async def no_shutdown(_: bool) -> None:
        return None

    app = api.create_app(
        api.ApiContext(
            name="test",
            uuid="u",
            admin_token=TOKEN,
            broker="none",
            store=store,
            models=models,
            hub=hub,
            status=status,
            verify_agent=no_agent,
            shutdown=no_shutdown,
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {TOKEN}"}
    ) as http:
        yield http
    await store.close()


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
    assert response.json() == {"units": ["hello/0", "hello/1"]}
    status = (await client.get("/v1/models/default/status")).json()
    app = status["applications"]["hello"]
    assert app["charm-name"] == "hello-bash"
    assert sorted(app["units"]) == ["hello/0", "hello/1"]
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
        ({"to": ["lxd:0"]}, 400, 'invalid placement "lxd:0"'),
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
