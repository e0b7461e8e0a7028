"""The Python client in process against the controller's real API app (real services, a real
SQLite store) over httpx's ASGI transport: each server error comes back as the same
`RunecraftError` class with its message, and the secret and resource routes answer the
client's calls."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from runecraft import charms, errors
from runecraft.client import Client
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import api, secrets
from tests.component._api import URL, controller_app, rune_client

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    hub = services.ChangeHub()
    await services.ModelService(store, hub).add_model("default")
    async with rune_client(store, hub, published_revision=None) as client:
        yield client


async def test_server_errors_come_back_as_their_class(client: Client, store: Store) -> None:
    with pytest.raises(errors.NotFoundError, match='model "nope" not found'):
        await client.show_model("nope")
    with pytest.raises(errors.ConflictError):
        await client.add_model("default")
    with pytest.raises(errors.InvalidSpecError, match="Bad Name"):
        await client.add_model("Bad Name")
    with pytest.raises(errors.InvalidSpecError, match="num_units"):
        await client.deploy(
            "default",
            api.DeployRequest.model_construct(application="a", charm_sha256="0" * 64, num_units=-1),
        )
    app = controller_app(store, services.ChangeHub(), published_revision=None)
    async with Client(URL, "wrong", transport=httpx.ASGITransport(app=app)) as stranger:
        with pytest.raises(errors.PermissionDeniedError, match="invalid credentials"):
            await stranger.models()
    assert [m.name for m in await client.models()] == ["default"]


async def test_deploy_and_refresh_name_the_charm(client: Client, tmp_path: Path) -> None:
    packed = charms.pack(EXAMPLES / "hello-bash", tmp_path / "cache")
    charm = await client.upload_charm(packed.data)
    request = api.DeployRequest(application="hello", charm_sha256=charm.sha256, num_units=1)
    assert await client.deploy("default", request) == ["hello/0"]
    newer = tmp_path / "hello-bash"
    shutil.copytree(EXAMPLES / "hello-bash", newer)
    (newer / "version").write_text("2\n")
    upgrade = await client.upload_charm(charms.pack(newer, tmp_path / "cache").data)
    refreshed = await client.refresh("default", "hello", upgrade.sha256)
    assert (refreshed.application, refreshed.charm) == ("hello", "hello-bash")
    unit = await client.show_unit("default", "hello/0")
    assert unit["hello/0"]["charm"].endswith(f"hello-bash-{refreshed.revision}")


async def test_user_secret_round_trip(client: Client) -> None:
    uri = await client.add_secret(
        "default", secrets.AddSecretRequest(name="db-pass", content={"password": "s3cret"})
    )
    bare = uri.removeprefix("secret:")
    listed = await client.secrets("default")
    assert listed[bare]["name"] == "db-pass"
    shown = await client.show_secret("default", "db-pass", secrets.SecretQuery(reveal=True))
    assert shown[bare]["content"]["Data"] == {"password": "s3cret"}
    with pytest.raises(errors.NotFoundError, match='"nope"'):
        await client.grant_secret("default", "db-pass", ["nope"])
    await client.remove_secret("default", uri)
    assert await client.secrets("default") == {}


async def test_resource_upload_and_attach_to_a_missing_application(client: Client) -> None:
    uploaded = await client.upload_resource(b"payload")
    assert uploaded.size == len(b"payload")
    with pytest.raises(errors.NotFoundError, match='"nope"'):
        await client.attach_resources("default", "nope", {"data": uploaded.sha256})
