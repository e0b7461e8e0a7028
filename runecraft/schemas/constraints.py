"""Juju constraints (`mem=4G cores=2 arch=amd64`) and bases (`ubuntu@24.04`): parsed and
checked once at the edge, stored normalised (sizes in MiB, as Juju keeps them)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApplicationSettings",
    "ModelConstraints",
    "SetApplicationSettings",
    "check_base",
    "format_constraints",
    "parse_constraints",
]

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([MGTP]?)\Z")
_SIZE_MIB = {"": 1, "M": 1, "G": 1024, "T": 1024**2, "P": 1024**3}
_ARCHES = ("amd64", "arm64", "ppc64el", "riscv64", "s390x")
_BASE = re.compile(r"^([a-z][a-z0-9-]*)@(\d+(?:\.\d+)*)(?:/[a-z]+)?\Z")

_SIZES = frozenset({"mem", "root-disk"})
_COUNTS = frozenset({"cores", "cpu-power"})
_LISTS = frozenset({"tags", "spaces", "zones"})
_FLAGS = frozenset({"allocate-public-ip"})
_WORDS = frozenset(
    {
        "arch",
        "container",
        "image-id",
        "instance-role",
        "instance-type",
        "root-disk-source",
        "virt-type",
    }
)
KNOWN = _SIZES | _COUNTS | _LISTS | _FLAGS | _WORDS
"""Every constraint Juju 3.6 knows."""


def _value(key: str, text: str) -> Any:
    if key in _SIZES:
        match = _SIZE.match(text)
        if match is None:
            raise ValueError(
                f'constraint "{key}": expected a size such as 512M or 4G, got "{text}"'
            )
        return round(float(match.group(1)) * _SIZE_MIB[match.group(2)])
    if key in _COUNTS:
        if not text.isdigit():
            raise ValueError(f'constraint "{key}": expected a whole number, got "{text}"')
        return int(text)
    if key in _FLAGS:
        if text not in ("true", "false"):
            raise ValueError(f'constraint "{key}": expected true or false, got "{text}"')
        return text == "true"
    if key in _LISTS:
        return [item for item in text.split(",") if item]
    if key == "arch" and text not in _ARCHES:
        raise ValueError(f'constraint "arch": expected one of {", ".join(_ARCHES)}, got "{text}"')
    return text


def parse_constraints(items: Iterable[str]) -> dict[str, Any]:
    """`["mem=4G cores=2", "arch=amd64"]` → `{"mem": 4096, "cores": 2, "arch": "amd64"}`.

    Each item may hold several space-separated pairs (as `--constraints "a=1 b=2"`); later
    pairs win. `ValueError` names the pair that is wrong.
    """
    result: dict[str, Any] = {}
    for item in items:
        for pair in item.split():
            key, sep, text = pair.partition("=")
            if not sep or not key:
                raise ValueError(f'invalid constraint "{pair}": expected KEY=VALUE')
            if key not in KNOWN:
                known = ", ".join(sorted(KNOWN))
                raise ValueError(f'unknown constraint "{key}" (known: {known})')
            result[key] = _value(key, text)
    return result


def format_constraints(constraints: Mapping[str, Any]) -> str:
    """The `k=v …` form Juju prints (sizes in MiB with an `M`), keys sorted."""
    parts = []
    for key, value in sorted(constraints.items()):
        if key in _SIZES:
            text = f"{value}M"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = ",".join(str(v) for v in value)
        else:
            text = str(value)
        parts.append(f"{key}={text}")
    return " ".join(parts)


def check_base(text: str) -> tuple[str, str]:
    """`ubuntu@24.04` → `("ubuntu", "24.04")`; `ValueError` for anything else."""
    match = _BASE.match(text)
    if match is None:
        raise ValueError(f'invalid base "{text}": expected NAME@CHANNEL such as ubuntu@24.04')
    return match.group(1), match.group(2)


class SetApplicationSettings(BaseModel):
    """`PATCH …/applications/{app}/settings`: what to change (None: leave as is)."""

    model_config = ConfigDict(extra="forbid")

    constraints: list[str] | None = Field(default=None, description="KEY=VALUE items.")
    trust: bool | None = None
    base: str | None = None
    exposed: bool | None = Field(default=None, description="`juju expose`/`unexpose`.")


class ApplicationSettings(BaseModel):
    """An application's deploy-time settings, constraints normalised."""

    application: str
    constraints: dict[str, Any]
    trust: bool
    base: str
    exposed: bool = False


class ModelConstraints(BaseModel):
    """`PUT …/models/{model}/constraints`: the model's new constraints (KEY=VALUE items)."""

    model_config = ConfigDict(extra="forbid")

    constraints: list[str]
