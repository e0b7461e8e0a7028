"""Resource arguments and checks against the charm's `resources:`."""

from __future__ import annotations

import pytest

from runecraft import errors
from runecraft.schemas import charm as charm_schema
from runecraft.schemas import resources as res

META = charm_schema.CharmMeta.model_validate(
    {
        "name": "app",
        "resources": {
            "motd": {"type": "file", "filename": "motd.txt"},
            "image": {"type": "oci-image"},
        },
    }
)
SHA = "a" * 64


def test_parse_resource_args() -> None:
    assert res.parse_resource_args(["motd=./m.txt", "b=/x=y"]) == {"motd": "./m.txt", "b": "/x=y"}


@pytest.mark.parametrize(
    ("items", "named"),
    [
        (["motd"], "NAME=PATH"),
        (["=x"], "NAME=PATH"),
        (["motd="], "NAME=PATH"),
        (["a=1", "a=2"], "more than once"),
    ],
)
def test_bad_resource_args(items: list[str], named: str) -> None:
    with pytest.raises(errors.UsageError, match=named):
        res.parse_resource_args(items)


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"nope": SHA}, 'has no resource "nope" \\(it declares: image, motd\\)'),
        ({"motd": "xyz"}, "invalid sha256"),
    ],
)
def test_check_resources_refuses(given: dict[str, str], named: str) -> None:
    with pytest.raises(errors.InvalidSpecError, match=named):
        res.check_resources(META, given)


def test_check_resources_accepts_file_and_oci_image_resources() -> None:
    res.check_resources(META, {"motd": SHA})
    res.check_resources(META, {"image": SHA})  # a Kubernetes workload's image document
    res.check_resources(META, {})


@pytest.mark.parametrize(
    ("document", "image"),
    [
        (b"registrypath: registry.example/web:2\nusername: ''\n", "registry.example/web:2"),
        (b'{"registrypath": "registry.example/web:2", "password": ""}', "registry.example/web:2"),
        (b"image-name: nginx:1.27\n", "nginx:1.27"),
        (b"nginx:1.27\n", "nginx:1.27"),
        (b"username: me\n", ""),
        (b"[1, 2]", ""),
        (b"key: [unclosed", ""),
        (b"\xff\xfe", ""),
    ],
    ids=["yaml", "json", "image-name", "bare", "no-image", "list", "bad-yaml", "not-text"],
)
def test_image_name_reads_what_an_oci_image_document_names(document: bytes, image: str) -> None:
    assert res.image_name(document) == image
