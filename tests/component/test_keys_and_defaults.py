"""A model's authorized SSH keys and the controller's model defaults, over the API: bad
keys, duplicates and unknown names are refused whole and change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas.ssh_keys import parse_key
from tests.component._api import api_client

KEYS = "/v1/models/default/ssh-keys"


def public_key(comment: str) -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    data = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return f"{data.decode()} {comment}"


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    await store.create_model("default", "u-default", "local", dict(services.DEFAULT_MODEL_CONFIG))
    async with api_client(store, services.ChangeHub(), published_revision=None) as http:
        yield http


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["message"]


async def test_keys_are_added_listed_and_removed_by_fingerprint_or_comment(
    client: httpx.AsyncClient,
) -> None:
    one, two = public_key("me@laptop"), public_key("ci")
    added = await client.post(KEYS, json={"keys": [one, two]})
    assert added.status_code == 201, added.text
    listed = (await client.get(KEYS)).json()
    assert [(k["comment"], k["key"]) for k in listed] == [("me@laptop", one), ("ci", two)]
    assert listed[0]["fingerprint"] == parse_key(one).fingerprint
    assert len(listed[0]["fingerprint"].split(":")) == 16  # MD5, as Juju shows it
    config = (await client.get("/v1/models/default/config")).json()
    assert config["authorized-keys"]["Value"] == f"{one}\n{two}"
    removed = await client.post(f"{KEYS}/remove", json={"ids": [listed[0]["fingerprint"]]})
    assert [k["comment"] for k in removed.json()] == ["ci"]
    await client.post(f"{KEYS}/remove", json={"ids": ["ci"]})
    assert (await client.get(KEYS)).json() == []
    await client.post(KEYS, json={"keys": [one]})
    await client.post(f"{KEYS}/remove", json={"ids": [one]})  # the whole key names it too
    assert (await client.get(KEYS)).json() == []


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("", {"keys": ["ssh-rsa"]}, 400, 'expected "TYPE BASE64-KEY [COMMENT]"'),
        ("", {"keys": ["ssh-foo AAAA x"]}, 400, 'unknown key type "ssh-foo"'),
        ("", {"keys": ["ssh-ed25519 !!!! x"]}, 400, "the key is not base64"),
        ("", {"keys": ["ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA== x"]}, 400, 'not a "ssh-rsa" key'),
        ("", {"keys": []}, 400, "keys"),
        ("/remove", {"ids": ["nope"]}, 404, 'ssh key "nope" not found'),
    ],
)
async def test_bad_key_changes_change_nothing(
    client: httpx.AsyncClient, path: str, body: dict[str, list[str]], status: int, message: str
) -> None:
    kept = public_key("kept")
    assert (await client.post(KEYS, json={"keys": [kept]})).status_code == 201
    code, text = _error(await client.post(f"{KEYS}{path}", json=body))
    assert code == status and message in text, text
    assert [k["key"] for k in (await client.get(KEYS)).json()] == [kept]


async def test_a_duplicate_key_refuses_the_whole_request(client: httpx.AsyncClient) -> None:
    one, two = public_key("one"), public_key("two")
    await client.post(KEYS, json={"keys": [one]})
    code, text = _error(await client.post(KEYS, json={"keys": [two, one]}))
    assert (code, text) == (409, "duplicate ssh key: one")
    assert [k["comment"] for k in (await client.get(KEYS)).json()] == ["one"]


async def test_model_defaults_apply_to_new_models_only(client: httpx.AsyncClient) -> None:
    url = "/v1/controller/model-defaults"
    shown = (await client.get(url)).json()
    assert shown["update-status-hook-interval"] == {"default": "5m"}
    changed = await client.patch(url, json={"values": {"update-status-hook-interval": "10m"}})
    assert changed.json()["update-status-hook-interval"] == {"default": "5m", "controller": "10m"}
    old = (await client.get("/v1/models/default/config")).json()
    assert old["update-status-hook-interval"] == {"Value": "5m", "Source": "default"}
    assert (await client.post("/v1/models", json={"name": "fresh"})).status_code == 201
    new = (await client.get("/v1/models/fresh/config")).json()
    assert new["update-status-hook-interval"] == {"Value": "10m", "Source": "controller"}
    for body, message in (
        ({"values": {"nope": 1}}, 'unknown model config key "nope"'),
        ({"values": {"update-status-hook-interval": "soon"}}, "update-status-hook-interval"),
        ({"reset": ["nope"]}, 'unknown model config key "nope"'),
        (
            {
                "values": {"update-status-hook-interval": "1m"},
                "reset": ["update-status-hook-interval"],
            },
            "cannot be both set and reset",
        ),
    ):
        code, text = _error(await client.patch(url, json=body))
        assert code == 400 and message in text, text
    assert (await client.get(url)).json() == changed.json()
    reset = await client.patch(url, json={"reset": ["update-status-hook-interval"]})
    assert reset.json()["update-status-hook-interval"] == {"default": "5m"}
