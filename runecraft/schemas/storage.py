"""Charm storage (charm-contract §3.1, §4.3): directives, instances and their bus form.

A charm declares storage in `metadata.yaml` (`StorageSpec`); `deploy --storage
name=[pool,]size,count` overrides how many instances each unit gets (within the declared
`multiple.range`) and their size. Each instance is named `<name>/<N>` with N unique per
model; the controller records which unit it is attached to and sends the unit its
instances (`StorageRemote`); the unit agent gives each one a directory under its machine
dir and runs `<name>-storage-attached` for it before `install`. `storage-add` in a hook
asks for more (`HookCommit.storage_add`). Pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from runecraft import errors
from runecraft.schemas import charm as charm_schema

__all__ = [
    "StorageDirective",
    "StorageRemote",
    "allocation",
    "check_add",
    "parse_directive",
    "parse_directives",
    "parse_size_mib",
    "storage_dir_name",
]

_COUNT = re.compile(r"[0-9]+")
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([MGTPEZY])(?:i?B)?")
_UNITS = {"M": 0, "G": 1, "T": 2, "P": 3, "E": 4, "Z": 5, "Y": 6}
DEFAULT_SIZE_MIB = 1024
"""Size of an instance when neither the directive nor `minimum-size` says (Juju: 1 GiB)."""


class StorageRemote(BaseModel):
    """One storage instance attached to a unit, as the controller sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    """`<name>/<N>`: `JUJU_STORAGE_ID`, what `storage-list` prints."""
    kind: Literal["filesystem", "block"] = "filesystem"
    size_mib: int = DEFAULT_SIZE_MIB

    @property
    def name(self) -> str:
        """The storage name from the charm's metadata."""
        return self.id.partition("/")[0]


@dataclass(frozen=True, kw_only=True)
class StorageDirective:
    """`--storage name=[pool,]size,count`: any part may be left out."""

    pool: str = ""
    size_mib: int | None = None
    count: int | None = None


def storage_dir_name(storage_id: str) -> str:
    """`data/0` → `data-0`: the instance's directory name under the machine's storage dir."""
    return storage_id.replace("/", "-")


def parse_size_mib(text: str) -> int:
    """`10G` → 10240 (Juju sizes: a number with an M/G/T/… suffix, optionally `iB`/`B`)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise errors.InvalidSpecError(f'invalid storage size "{text}": expected e.g. 512M or 10G')
    scale: int = 1024 ** _UNITS[match.group(2)]
    return max(1, round(float(match.group(1)) * scale))


def parse_directive(text: str) -> tuple[str, StorageDirective]:
    """`data=10G,2` → ("data", size 10240 MiB, count 2), as Juju's storage constraints."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise errors.UsageError(f'invalid storage "{text}": expected NAME=[POOL,]SIZE,COUNT')
    pool, size, count = "", None, None
    for part in spec.split(","):
        if _COUNT.fullmatch(part):
            if count is not None:
                raise errors.InvalidSpecError(f'invalid storage "{text}": count given twice')
            count = int(part)
        elif _SIZE.fullmatch(part):
            if size is not None:
                raise errors.InvalidSpecError(f'invalid storage "{text}": size given twice')
            size = parse_size_mib(part)
        elif part and not pool and re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]*", part):
            pool = part
        else:
            raise errors.InvalidSpecError(f'invalid storage "{text}": cannot parse "{part}"')
    return name, StorageDirective(pool=pool, size_mib=size, count=count)


def parse_directives(items: Sequence[str]) -> dict[str, StorageDirective]:
    """Every `--storage` flag; a name given twice is an error."""
    parsed: dict[str, StorageDirective] = {}
    for item in items:
        name, directive = parse_directive(item)
        if name in parsed:
            raise errors.UsageError(f'storage "{name}" specified more than once')
        parsed[name] = directive
    return parsed


def _minimum_mib(spec: charm_schema.StorageSpec) -> int | None:
    value = spec.minimum_size
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return parse_size_mib(value if value[-1:].isalpha() else f"{value}M")


def allocation(
    declared: Mapping[str, charm_schema.StorageSpec],
    directives: Mapping[str, StorageDirective],
) -> dict[str, tuple[int, int]]:
    """Storage name → (instances per unit, size MiB), directives checked against the charm.

    Without a directive a storage gets its minimum count (a singleton: 1) at its
    `minimum-size` (or 1 GiB).

    Raises:
        InvalidSpecError: an unknown storage name, a count outside `multiple.range`, a size
            below `minimum-size`, or block storage (not offered by the local substrate).
    """
    for name in directives:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise errors.InvalidSpecError(f'charm has no storage "{name}" (it declares: {known})')
    result: dict[str, tuple[int, int]] = {}
    for name, spec in sorted(declared.items()):
        directive = directives.get(name, StorageDirective())
        low, high = spec.count_range
        count = low if directive.count is None else directive.count
        if count < low or (high is not None and count > high):
            bound = f"{low}-{high}" if high != low else str(low)
            if high is None:
                bound = f"{low}-"
            raise errors.InvalidSpecError(
                f'storage "{name}": count {count} is outside the charm\'s range {bound}'
            )
        minimum = _minimum_mib(spec)
        size = directive.size_mib or minimum or DEFAULT_SIZE_MIB
        if minimum is not None and size < minimum:
            raise errors.InvalidSpecError(
                f'storage "{name}": size {size}M is below the charm\'s minimum-size {minimum}M'
            )
        if count and spec.type != "filesystem":
            raise errors.InvalidSpecError(
                f'storage "{name}": {spec.type} storage is not supported on this substrate'
            )
        result[name] = (count, size)
    return result


def check_add(
    declared: Mapping[str, charm_schema.StorageSpec], name: str, have: int, more: int
) -> None:
    """`storage-add name=more` for a unit that has `have` instances of `name`.

    Raises:
        InvalidSpecError: unknown storage, or the total would leave `multiple.range`.
    """
    spec = declared.get(name)
    if spec is None:
        raise errors.InvalidSpecError(f'charm storage "{name}" not found')
    _, high = spec.count_range
    if more < 1 or (high is not None and have + more > high):
        raise errors.InvalidSpecError(
            f'cannot add {more} "{name}" storage: the charm allows at most {high}'
        )
