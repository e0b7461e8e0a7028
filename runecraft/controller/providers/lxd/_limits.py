"""Juju constraints as LXD limits: a pure translation, checked before any container exists.

Sizes follow Juju: a bare number is MiB, suffixes M, G, T, P are powers of 1024. LXD
takes `limits.memory` and the root disk `size` in MiB here, so every value is exact.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runecraft import errors

__all__ = ["ContainerLimits", "container_limits", "size_mib"]

_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([MGTP]?)(?:i?B)?\Z")
_MIB_PER = {"": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}
_HOST_ARCHES = frozenset({"amd64"})
_IGNORED = frozenset({"allocate-public-ip", "cpu-power", "instance-role", "spaces", "tags"})
"""Meaningless for containers on one host; Juju's LXD provider ignores them too."""


@dataclass(frozen=True)
class ContainerLimits:
    """What an LXD container gets from its machine's constraints."""

    config: dict[str, str] = field(default_factory=dict)
    """Instance config keys (`limits.*`)."""
    root_size: str | None = None
    """Root disk size, or None for the pool's default."""


def size_mib(key: str, value: str) -> int:
    """A Juju size (`512M`, `2G`, `1.5T`, `1024`) in whole MiB, rounded up."""
    match = _SIZE.match(value)
    if match is None:
        raise errors.InvalidSpecError(f'constraint {key} must be a size such as 4G, not "{value}"')
    mib = math.ceil(float(match.group(1)) * _MIB_PER[match.group(2)])
    if mib <= 0:
        raise errors.InvalidSpecError(f"constraint {key} must be more than zero")
    return mib


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def container_limits(constraints: Mapping[str, object]) -> ContainerLimits:
    """Translate constraints (as typed, or as stored: sizes in MiB, counts as ints); one
    that LXD cannot honour is an error naming it."""
    config: dict[str, str] = {}
    root_size: str | None = None
    for key, raw in sorted(constraints.items()):
        value = _text(raw)
        if not value or key in _IGNORED:
            continue
        if key == "mem":
            config["limits.memory"] = f"{size_mib(key, value)}MiB"
        elif key in {"cores", "cpu-cores"}:
            if not (value.isascii() and value.isdigit()) or int(value) == 0:
                raise errors.InvalidSpecError(
                    f'constraint cores must be a whole number above zero, not "{value}"'
                )
            config["limits.cpu"] = str(int(value))
        elif key == "root-disk":
            root_size = f"{size_mib(key, value)}MiB"
        elif key == "arch":
            if value not in _HOST_ARCHES:
                raise errors.InvalidSpecError(
                    f"constraint arch={value} cannot be met: LXD containers here are amd64"
                )
        elif key == "virt-type":
            if value != "container":
                raise errors.InvalidSpecError(
                    f"constraint virt-type={value} cannot be met: this LXD runs containers only"
                )
        elif key == "container":
            if value not in {"lxd", "none"}:
                raise errors.InvalidSpecError(
                    f"constraint container={value} cannot be met on the LXD substrate"
                )
        else:
            raise errors.InvalidSpecError(
                f'constraint "{key}" is not supported on the LXD substrate '
                "(supported: mem, cores, root-disk, arch, virt-type)"
            )
    return ContainerLimits(config=config, root_size=root_size)
