"""Charm resources (charm-contract §4.3): files the operator attaches to an application.

A charm declares `resources: <name>: {type: file, filename}`; `deploy --resource
name=PATH` or `attach-resource APP name=PATH` uploads the file, which the controller keeps
content-addressed (like charm archives) and records as the application's current revision
of that resource. Units are told each resource's hash (`ResourceRemote`); `resource-get`
downloads it once into the unit's `resources/<name>/<filename>` and prints that path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from runecraft import errors

if TYPE_CHECKING:  # the client loads this module; charm metadata models stay unloaded
    from runecraft.schemas import charm as charm_schema

__all__ = [
    "MAX_RESOURCE_BYTES",
    "AttachResourceRequest",
    "ResourceInfo",
    "ResourceRemote",
    "check_resources",
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
