"""Bad names and oversized config at the API: a name with a newline, carriage return or NUL
is refused (400, naming it) whatever it names, a config value or option set larger than the
bus carries is refused naming the option and the limit, and neither changes anything."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from runecraft import charms, errors
from runecraft.controller import services
from runecraft.controller.services._service import check_config_size
from runecraft.controller.state import Store
from runecraft.schemas import bus
from tests.component._api import api_client

EXAMPLES = Path(__file__).parents[2] / "examples" / "charms"
BAD = ["evil\n", "a\r", "a\x00"]
"""Each name refused, with its control character at its end (`$` would let `\\n` through)."""


@pytest.fixture
async def client(store: Store, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of a model `default` with `hello` (hello-bash, one unit) deployed."""
    hub = services.ChangeHub()
    await services.ModelService(store, hub).add_model("default")
    async with api_client(store, hub, published_revision=None) as http:
        packed = charms.pack(EXAMPLES / "hello-bash", tmp_path / "cache")
        sha = (await http.post("/v1/charms", content=packed.data)).json()["sha256"]
        body = {"application": "hello", "charm_sha256": sha, "num_units": 1}
        deployed = await http.post("/v1/models/default/applications", json=body)
        assert deployed.status_code == 201, deployed.text
        yield http


def _requests(bad: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """What each kind of name is refused in: method, path and JSON body."""
    tail = bad[-1]
    apps = "/v1/models/default/applications"
    return {
        "model": ("POST", "/v1/models", {"name": bad}),
        "application": ("POST", apps, {"application": bad, "charm_sha256": "a" * 64}),
        "unit": ("POST", "/v1/models/default/units/remove", {"units": [f"hello/0{tail}"]}),
        "endpoint": (
            "POST",
            "/v1/models/default/relations",
            {"endpoints": [f"hello:greeting{tail}", "hello"]},
        ),
        "relation": (
            "POST",
            "/v1/models/default/relations/remove",
            {"endpoints": ["hello", f"hello:greeting{tail}"]},
        ),
        "secret name": (
            "POST",
            "/v1/models/default/secrets",
            {"name": bad, "content": {"password": "x"}},
        ),
        "action": ("POST", "/v1/models/default/actions", {"units": ["hello/0"], "action": bad}),
        "config key": ("PATCH", f"{apps}/hello/config", {"values": {bad: "x"}}),
        "model config key": ("PATCH", "/v1/models/default/config", {"values": {bad: "1m"}}),
    }


KINDS = list(_requests("x"))


@pytest.mark.parametrize("bad", BAD, ids=["newline", "carriage-return", "nul"])
@pytest.mark.parametrize("kind", KINDS)
async def test_a_name_with_a_control_character_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, store: Store, kind: str, bad: str
) -> None:
    method, path, body = _requests(bad)[kind]
    before = await store.snapshot()
    response = await client.request(method, path, json=body)
    assert response.status_code == 400, (kind, response.text)
    assert response.json()["error"]["code"] == "invalid"
    assert await store.snapshot() == before


def test_a_secret_label_with_a_control_character_is_refused_in_a_hook_commit() -> None:
    body = bus.HookCommit(unit="hello/0", seq=1, hook="install").model_dump(mode="json")
    for bad in BAD:
        body["secrets"] = [{"op": "add", "id": "c0ffee00000000000001", "label": bad}]
        payload = json.dumps({"v": 1, "body": body}).encode()
        with pytest.raises(ValueError, match="control character"):
            bus.decode_agent_message(payload)
        body["secrets"][0]["label"] = "fine label"
        assert bus.decode_agent_message(json.dumps({"v": 1, "body": body}).encode())


async def test_config_larger_than_the_bus_carries_is_refused_naming_the_option(
    client: httpx.AsyncClient, store: Store
) -> None:
    path = "/v1/models/default/applications/hello/config"
    before = await store.snapshot()
    response = await client.patch(path, json={"values": {"message": "x" * bus.MAX_CONFIG_BYTES}})
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert '"message"' in message and str(bus.MAX_CONFIG_BYTES) in message
    assert await store.snapshot() == before
    # Just under the limit is fine, and is what the agents are sent.
    fits = "x" * (bus.MAX_CONFIG_BYTES - 100)
    assert (await client.patch(path, json={"values": {"message": fits}})).status_code == 200


def test_an_option_set_larger_than_the_bus_carries_names_its_largest_option() -> None:
    half = "x" * (bus.MAX_CONFIG_BYTES // 2)
    with pytest.raises(errors.InvalidSpecError, match=r'takes \d+ bytes.*largest option is "b"'):
        check_config_size("app", {"a": half[:-10], "b": half})
    check_config_size("app", {"a": half[: len(half) // 2], "b": half})
