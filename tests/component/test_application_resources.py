"""`resources APP` through the Python client and on the wire, over the real API app and
store: every resource the charm declares, what is attached of each and where an
oci-image's image comes from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runecraft import charms, errors
from runecraft.client import Client
from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.schemas import api
from tests.component._api import api_client, rune_client
from tests.component._resource_charm import IMAGE_DOCUMENT, resource_charm


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    hub = services.ChangeHub()
    await services.ModelService(store, hub).add_model("default")
    async with rune_client(store, hub, published_revision=None) as client:
        yield client


async def _deploy(client: Client, tmp_path: Path, **resources: bytes) -> dict[str, str]:
    """Deploy the resource charm as `demo` with `resources` uploaded; name → sha256."""
    packed = charms.pack(resource_charm(tmp_path / "charm"), tmp_path / "cache")
    charm = await client.upload_charm(packed.data)
    given = {name: (await client.upload_resource(data)).sha256 for name, data in resources.items()}
    request = api.DeployRequest(
        application="demo", charm_sha256=charm.sha256, num_units=0, resources=given
    )
    await client.deploy("default", request)
    return given


async def test_every_declared_resource_with_its_origin(client: Client, tmp_path: Path) -> None:
    given = await _deploy(
        client, tmp_path, motd=b"hello\n", **{"side-image": IMAGE_DOCUMENT.encode()}
    )
    listed = await client.resources("default", "demo")
    assert [r.model_dump(exclude_none=True) for r in listed.resources] == [
        {
            "name": "extra",
            "type": "file",
            "description": "",
            "origin": "none",
            "revision": 0,
            "fingerprint": "",
            "size": 0,
            "filename": "extra.bin",
        },
        {
            "name": "motd",
            "type": "file",
            "description": "The message of the day.",
            "origin": "upload",
            "revision": 1,
            "fingerprint": given["motd"],
            "size": len(b"hello\n"),
            "filename": "motd.txt",
        },
        {
            "name": "side-image",
            "type": "oci-image",
            "description": "",
            "origin": "upload",
            "revision": 1,
            "fingerprint": given["side-image"],
            "size": len(IMAGE_DOCUMENT),
            "image": "registry.example/side:2",
        },
        {
            "name": "web-image",
            "type": "oci-image",
            "description": "The web server.",
            "origin": "upstream",
            "revision": 0,
            "fingerprint": "",
            "size": 0,
            "image": "python:3.12-slim",
        },
    ]


async def test_an_attached_file_shows_its_current_revision(client: Client, tmp_path: Path) -> None:
    await _deploy(client, tmp_path, motd=b"v1")
    newer = await client.upload_resource(b"v2")
    await client.attach_resources("default", "demo", {"motd": newer.sha256})
    motd = next(
        r for r in (await client.resources("default", "demo")).resources if r.name == "motd"
    )
    assert (motd.revision, motd.fingerprint, motd.size) == (2, newer.sha256, 2)


async def test_an_attached_image_name_replaces_the_upstream_source(
    client: Client, tmp_path: Path
) -> None:
    await _deploy(client, tmp_path, **{"web-image": b"registry.example/web:3\n"})
    web = next(
        r for r in (await client.resources("default", "demo")).resources if r.name == "web-image"
    )
    assert (web.origin, web.image, web.revision) == ("upload", "registry.example/web:3", 1)


async def test_nothing_attached_on_the_wire_an_image_only_for_images_a_filename_for_files(
    store: Store, client: Client, tmp_path: Path
) -> None:
    await _deploy(client, tmp_path)
    async with api_client(store, services.ChangeHub(), published_revision=None) as http:
        response = await http.get("/v1/models/default/applications/demo/resources")
    assert response.status_code == 200, response.text
    document = response.json()
    assert list(document) == ["resources"]
    kinds = {
        r["name"]: (r["type"], r["origin"], r.get("image"), "filename" in r)
        for r in document["resources"]
    }
    assert kinds == {
        "extra": ("file", "none", None, True),
        "motd": ("file", "none", None, True),
        "side-image": ("oci-image", "none", "", False),
        "web-image": ("oci-image", "upstream", "python:3.12-slim", False),
    }


async def test_unknown_application_or_model_is_not_found(client: Client, tmp_path: Path) -> None:
    await _deploy(client, tmp_path)
    with pytest.raises(errors.NotFoundError, match='application "nope" not found'):
        await client.resources("default", "nope")
    with pytest.raises(errors.NotFoundError, match='model "elsewhere" not found'):
        await client.resources("elsewhere", "demo")
    with pytest.raises(errors.InvalidSpecError, match="Bad"):
        await client.resources("default", "Bad")
