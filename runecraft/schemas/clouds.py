"""Clouds: the built-in ones (one per installed provider that needs no settings) and the
rules for the ones an operator adds (`rune add-k8s`), shared by the client and the
controller."""

from __future__ import annotations

import functools
import re
from importlib import metadata

from runecraft import errors

__all__ = [
    "ADDED_ONLY",
    "KUBERNETES",
    "builtin_clouds",
    "check_cloud_name",
    "cloud_type",
    "display_type",
    "model_type",
]

KUBERNETES = "kubernetes"

ADDED_ONLY = frozenset({KUBERNETES})
"""Provider types that need settings (a kubeconfig): their clouds are added, never built in."""

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]*\Z")
_TYPES = {KUBERNETES: KUBERNETES, "k8s": KUBERNETES}
"""Cloud types an operator can add, in Juju's spellings."""


@functools.cache
def builtin_clouds() -> tuple[str, ...]:
    """The built-in clouds, read from the installed packages' provider entry points
    (metadata only: no provider is loaded)."""
    names = {ep.name for ep in metadata.entry_points(group="runecraft.providers")}
    return tuple(sorted(names - ADDED_ONLY))


def check_cloud_name(name: str) -> str:
    """Juju's cloud name rule; a built-in cloud's name is taken."""
    if not _NAME.match(name) or len(name) > 64:
        raise errors.InvalidSpecError(
            f'invalid cloud name "{name}": use letters, digits, dots and hyphens, starting '
            "with a letter or digit (at most 64)"
        )
    if name in builtin_clouds():
        raise errors.ConflictError(f'cloud "{name}" is a built-in cloud: choose another name')
    return name


def cloud_type(given: str) -> str:
    """The provider type of a cloud an operator adds (Juju's `k8s` is `kubernetes`)."""
    found = _TYPES.get(given)
    if found is None:
        raise errors.InvalidSpecError(
            f'cloud type "{given}" cannot be added (supported: {", ".join(sorted(_TYPES))})'
        )
    return found


def display_type(provider_type: str) -> str:
    """A cloud's type as Juju shows it (`k8s` for Kubernetes)."""
    return "k8s" if provider_type == KUBERNETES else provider_type


def model_type(provider_type: str) -> str:
    """Juju's model type on a cloud of this type: units are pods (caas) or on machines."""
    return "caas" if provider_type == KUBERNETES else "iaas"
