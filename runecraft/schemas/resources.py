"""Charm resources (charm-contract §4.3): files the operator attaches to an application.

A charm declares `resources: <name>: {type: file, filename}`; `deploy --resource
name=PATH` or `attach-resource APP name=PATH` uploads the file, which the controller keeps
content-addressed (like charm archives) and records as the application's current revision
of that resource. Units are told each resource's hash (`ResourceRemote`); `resource-get`
downloads it once into the unit's `resources/<name>/<filename>` and prints that path.

An `oci-image` resource is a Kubernetes workload container's image: attached as a document
naming it (`image_name` reads it), or else the charm's `upstream-source`. `rune resources`
lists every resource a charm declares with where it comes from (`ApplicationResources`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from runecraft import errors

if TYPE_CHECKING:  # the client loads this module; charm metadata models stay unloaded
    from runecraft.schemas import charm as charm_schema

__all__ = [
    "MAX_RESOURCE_BYTES",
    "ApplicationResource",
    "ApplicationResources",
    "AttachResourceRequest",
    "ResourceInfo",
    "ResourceRemote",
    "check_resources",
    "image_name",
    "parse_resource_args",
]

MAX_RESOURCE_BYTES = 512 * 1024 * 1024
"""Largest resource file the controller accepts (as for charm archives)."""
SHA256 = r"^[0-9a-f]{64}$"


class ResourceRemote(BaseModel):
    """A resource a unit can fetch with `resource-get`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    filename: str
    """The file name from the charm's metadata (what `resource-get` prints the path of)."""
    sha256: str
    revision: int = Field(ge=1)


class ResourceInfo(BaseModel):
    """An uploaded blob, or an application's resource once attached."""

    sha256: str
    size: int
    name: str = ""
    revision: int = 0


class ApplicationResource(BaseModel):
    """One resource the application's charm declares, and what the application has of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: Literal["file", "oci-image"]
    description: str = ""
    origin: Literal["upload", "upstream", "none"]
    """`upload`: attached; `upstream`: an oci-image's `upstream-source`; `none`: neither."""
    revision: int = Field(default=0, ge=0)
    """The attached revision (0: none attached)."""
    fingerprint: str = ""
    """The attached file's sha256 ("" when none is attached)."""
    size: int = Field(default=0, ge=0)
    image: str | None = None
    """An oci-image's image: the attached document's, else the upstream source."""
    filename: str | None = None
    """A file resource's file name (what `resource-get` prints the path of)."""


class ApplicationResources(BaseModel):
    """`rune resources APP`: every resource the charm declares, sorted by name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resources: list[ApplicationResource]


class AttachResourceRequest(BaseModel):
    """`attach-resource`: resource name → the sha256 of an uploaded blob."""

    model_config = ConfigDict(extra="forbid")

    resources: dict[str, str] = Field(min_length=1)


def parse_resource_args(items: Sequence[str]) -> dict[str, str]:
    """`name=PATH` arguments (`--resource` or `attach-resource`) as name → path."""
    parsed: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise errors.UsageError(f'invalid resource "{item}": expected NAME=PATH')
        if name in parsed:
            raise errors.UsageError(f'resource "{name}" specified more than once')
        parsed[name] = path
    return parsed


def check_resources(meta: charm_schema.CharmMeta, given: Mapping[str, str]) -> None:
    """Every given resource is a resource the charm declares, given as a sha256: a file,
    or an `oci-image` document (Juju's `registrypath` YAML/JSON) for a Kubernetes
    workload container.

    Raises:
        InvalidSpecError: naming the resource that is not declared or whose hash is
            malformed.
    """
    for name, sha256 in given.items():
        spec = meta.resources.get(name)
        if spec is None:
            known = ", ".join(sorted(meta.resources)) or "none"
            raise errors.InvalidSpecError(
                f'charm "{meta.name}" has no resource "{name}" (it declares: {known})'
            )
        if not re.fullmatch(SHA256, sha256):
            raise errors.InvalidSpecError(f'resource "{name}": invalid sha256 "{sha256}"')


def image_name(document: bytes) -> str:
    """The image an attached `oci-image` resource names: Juju's document (YAML or JSON,
    `registrypath` or `image-name`) or a bare image name; "" when it names none."""
    import yaml  # noqa: PLC0415  (the client loads this module; most commands need no YAML)

    try:
        loaded = yaml.safe_load(document.decode())
    except (UnicodeDecodeError, yaml.YAMLError):
        return ""
    if isinstance(loaded, dict):
        return str(loaded.get("registrypath") or loaded.get("image-name") or "")
    return loaded.strip() if isinstance(loaded, str) else ""
