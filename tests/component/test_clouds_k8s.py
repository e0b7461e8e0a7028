"""Clouds on a real store, through the API: Kubernetes clouds an operator adds (checked,
stored narrowed to one context, never shown with their credential), models on them
("caas"), and the controller's provider for each cloud."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runecraft import errors
from runecraft.controller import _process, services
from runecraft.controller.providers import CloudSpec, FakeProvider
from runecraft.controller.state import CloudRecord, Store
from runecraft.schemas.clouds import builtin_clouds
from runecraft.schemas.controller import BrokerSettings, ControllerConfig
from tests._kubeconfigs import kubeconfig
from tests.component._api import api_client


@pytest.fixture
async def http(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(store, services.ChangeHub(), published_revision=None) as client:
        yield client


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


async def _add(http: httpx.AsyncClient, name: str = "k8s-dev", **extra: Any) -> httpx.Response:
    return await http.post("/v1/clouds", json={"name": name, "kubeconfig": kubeconfig(), **extra})


async def test_k8s_cloud_is_added_stored_narrowed_and_shown_without_its_credential(
    http: httpx.AsyncClient, store: Store
) -> None:
    response = await _add(http, context="prod")
    assert response.status_code == 201, response.text
    shown = {
        "name": "k8s-dev",
        "type": "kubernetes",
        "endpoint": "https://10.9.9.9:6443",
        "defined": "added",
        "auth_type": "clientcertificate",
        "credential": "prod-user",  # its kubeconfig user's name, never its secrets
    }
    assert response.json() == shown
    assert (await http.get("/v1/clouds/k8s-dev")).json() == shown
    listed = (await http.get("/v1/clouds")).json()
    assert shown in listed
    assert {c["name"] for c in listed if c["defined"] == "built-in"} == set(builtin_clouds())
    assert "kubernetes" not in {c["name"] for c in listed}
    record = await store.cloud("k8s-dev")
    assert record is not None
    assert record.config["current-context"] == "prod"
    assert [c["name"] for c in record.config["clusters"]] == ["prod-cluster"]
    assert [u["name"] for u in record.config["users"]] == ["prod-user"]
    assert "client-key-data" not in str(listed)


async def test_k8s_juju_type_k8s_is_accepted(http: httpx.AsyncClient) -> None:
    response = await _add(http, type="k8s")
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "kubernetes"
    assert response.json()["auth_type"] == "oauth2"


def _without_server(doc: dict[str, Any]) -> dict[str, Any]:
    doc["clusters"][0]["cluster"].pop("server")
    return doc


def _without_user(doc: dict[str, Any]) -> dict[str, Any]:
    doc["users"] = doc["users"][1:]
    return doc


def _no_credential(doc: dict[str, Any]) -> dict[str, Any]:
    doc["users"][0]["user"] = {"username": "only-a-name"}
    return doc


BAD = [
    (
        "unknown context",
        {"kubeconfig": kubeconfig(), "context": "staging"},
        400,
        r'context "staging" not found in the kubeconfig \(known contexts: dev, prod\)',
    ),
    (
        "missing user",
        {"kubeconfig": _without_user(kubeconfig())},
        400,
        r'context "dev" names user "dev-user", which the kubeconfig does not define',
    ),
    (
        "cluster without server",
        {"kubeconfig": _without_server(kubeconfig())},
        400,
        r'cluster "dev-cluster" has no server',
    ),
    (
        "user without credential",
        {"kubeconfig": _no_credential(kubeconfig())},
        400,
        r'user "dev-user" has no credential',
    ),
    ("invalid name", {"name": "bad name"}, 400, r'invalid cloud name "bad name"'),
    ("built-in name", {"name": "local"}, 409, r'cloud "local" is a built-in cloud'),
    ("type not addable", {"type": "lxd"}, 400, r"type"),
    ("kubeconfig not a mapping", {"kubeconfig": ["x"]}, 400, r"kubeconfig"),
    ("no kubeconfig", {"kubeconfig": None}, 400, r"kubeconfig"),
]


@pytest.mark.parametrize(
    ("body", "status", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
async def test_k8s_bad_cloud_is_refused_naming_what_is_wrong_and_nothing_is_stored(
    http: httpx.AsyncClient, store: Store, body: dict[str, Any], status: int, message: str
) -> None:
    request = {"name": "k8s-bad", "kubeconfig": kubeconfig(), **body}
    response = await http.post("/v1/clouds", json=request)
    code, text = _error(response)
    assert code == status
    assert re.search(message, text), text
    assert await store.clouds() == []
    assert {c["defined"] for c in (await http.get("/v1/clouds")).json()} == {"built-in"}


async def test_k8s_a_cloud_name_is_added_once(http: httpx.AsyncClient) -> None:
    assert (await _add(http)).status_code == 201
    assert _error(await _add(http, context="prod")) == (409, 'cloud "k8s-dev" already exists')


async def test_k8s_model_on_an_added_cloud_is_caas_and_holds_the_cloud(
    http: httpx.AsyncClient,
) -> None:
    await _add(http)
    response = await http.post("/v1/models", json={"name": "pods", "cloud": "k8s-dev"})
    assert response.status_code == 201, response.text
    assert (response.json()["cloud"], response.json()["type"]) == ("k8s-dev", "caas")
    shown = (await http.get("/v1/models/pods")).json()
    assert (shown["cloud"], shown["type"]) == ("k8s-dev", "caas")
    local = (await http.post("/v1/models", json={"name": "machines", "cloud": "local"})).json()
    assert local["type"] == "iaas"
    refused = _error(await http.delete("/v1/clouds/k8s-dev"))
    assert refused == (409, 'cloud "k8s-dev" is in use by model "pods"')
    assert (await http.get("/v1/clouds/k8s-dev")).status_code == 200


async def test_k8s_unknown_cloud_for_a_model_lists_every_known_cloud(
    http: httpx.AsyncClient,
) -> None:
    await _add(http)
    code, message = _error(await http.post("/v1/models", json={"name": "m", "cloud": "nope"}))
    assert code == 404
    known = ", ".join(sorted([*builtin_clouds(), "k8s-dev"]))
    assert message == f'unknown cloud "nope": known clouds are: {known}'


async def test_k8s_removed_cloud_is_gone_and_can_be_added_again(
    http: httpx.AsyncClient, store: Store
) -> None:
    await _add(http)
    assert (await http.delete("/v1/clouds/k8s-dev")).status_code == 200
    assert await store.clouds() == []
    assert _error(await http.get("/v1/clouds/k8s-dev"))[0] == 404
    assert _error(await http.delete("/v1/clouds/k8s-dev"))[0] == 404
    assert (await _add(http, context="prod")).status_code == 201


async def test_k8s_a_built_in_cloud_cannot_be_removed(http: httpx.AsyncClient) -> None:
    assert _error(await http.delete("/v1/clouds/local")) == (
        409,
        'cloud "local" is a built-in cloud: it cannot be removed',
    )


# --- the controller's provider of each cloud ---------------------------------------------


def _controller(tmp_path: Path) -> _process.Controller:
    config = ControllerConfig(
        name="c",
        uuid="controller-uuid",
        api_port=1,
        database_url="sqlite+aiosqlite://",
        admin_token="t",
        broker=BrokerSettings(port=1),
    )
    return _process.Controller(tmp_path, config)


async def test_k8s_providers_get_the_cloud_spec_of_an_added_cloud(
    tmp_path: Path, store: Store
) -> None:
    """An added cloud loaded at start resolves, by name, to its spec; the provider of its
    type is made with it (the `fake` type stands in for `kubernetes`)."""
    config = {"current-context": "dev"}
    await store.add_cloud(CloudRecord("k8s-dev", "fake", "https://10.0.0.1:6443", config, 0.0))
    controller = _controller(tmp_path)
    await services.CloudService(store, controller.clouds).load()
    provider = controller.provider("k8s-dev")
    assert isinstance(provider, FakeProvider)
    assert provider.context is not None
    assert provider.context.cloud == CloudSpec("k8s-dev", "fake", "https://10.0.0.1:6443", config)
    assert provider.context.controller_uuid == "controller-uuid"
    assert controller.provider("k8s-dev") is provider  # one instance per cloud
    builtin = controller.provider("fake")
    assert builtin is not provider
    assert isinstance(builtin, FakeProvider) and builtin.context is not None
    assert builtin.context.cloud == CloudSpec("fake", "fake")


async def test_k8s_a_cloud_added_again_gets_a_new_provider(tmp_path: Path) -> None:
    controller = _controller(tmp_path)
    first_spec = CloudSpec("k8s-dev", "fake", "https://one:6443")
    controller.clouds.put(first_spec)
    first = controller.provider("k8s-dev")
    controller.clouds.discard("k8s-dev")
    with pytest.raises(errors.NotFoundError, match='unknown cloud "k8s-dev": known clouds are: '):
        controller.provider("k8s-dev")
    controller.clouds.put(CloudSpec("k8s-dev", "fake", "https://two:6443"))
    second = controller.provider("k8s-dev")
    assert second is not first
    assert isinstance(second, FakeProvider) and second.context is not None
    assert second.context.cloud is not None and second.context.cloud.endpoint == "https://two:6443"
