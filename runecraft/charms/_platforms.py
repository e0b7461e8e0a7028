"""The platforms `charmcraft pack` builds a charm for, their file names and `manifest.yaml`.

charmcraft names a charm file `{name}_{platform}.charm`. With `base` + `platforms` the
platform is the key of `platforms` (`amd64`, or `ubuntu@22.04-amd64` for the multi-base key
`ubuntu@22.04:amd64`); with the legacy `bases` it is each run-on base as
`{name}-{channel}-{architectures}`, joined by `_` (`ubuntu-22.04-amd64`). It builds the
platforms that build on the machine's architecture, one file each, because the installed
dependencies are that architecture's.
"""

from __future__ import annotations

import dataclasses
import platform as host
from typing import Any

from runecraft import errors
from runecraft.schemas import charm as schema

__all__ = ["ARCHITECTURES", "Base", "Platform", "host_architecture", "manifest", "platforms"]

ARCHITECTURES = frozenset({"amd64", "arm64", "armhf", "ppc64el", "riscv64", "s390x"})
"""Debian architecture names, the ones charmcraft accepts."""
KNOWN_SYSTEMS = ("ubuntu", "centos", "almalinux")
"""The bases charmcraft builds charms for."""

_MACHINES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "riscv64": "riscv64",
    "s390x": "s390x",
}
_WHERE = "charmcraft.yaml"


@dataclasses.dataclass(frozen=True, slots=True)
class Base:
    """A base a charm runs on, as `manifest.yaml` lists it."""

    name: str
    channel: str
    architectures: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {"name": self.name, "channel": self.channel, "architectures": [*self.architectures]}


@dataclasses.dataclass(frozen=True, slots=True)
class Platform:
    """One charm file charmcraft would build: its name part, run-on bases, build-on arches."""

    name: str
    bases: tuple[Base, ...]
    build_on: frozenset[str]

    def file_name(self, charm: str) -> str:
        return f"{charm}_{self.name}.charm"


def host_architecture() -> str:
    """This machine's architecture by its Debian name (what charmcraft's platforms use)."""
    machine = host.machine().lower()
    return _MACHINES.get(machine, machine)


def _bad(where: str, message: str) -> errors.InvalidSpecError:
    return errors.InvalidSpecError(f"{_WHERE}: {where}: {message}")


def _system(name: str, where: str) -> str:
    if name not in KNOWN_SYSTEMS:
        raise _bad(where, f"unknown base {name!r}: expected one of {', '.join(KNOWN_SYSTEMS)}")
    return name


def _base_string(text: str, where: str) -> tuple[str, str]:
    """`ubuntu@24.04` → (ubuntu, 24.04), refusing what charmcraft refuses."""
    if not schema.BASE_RE.match(text):
        raise _bad(where, f'expected a base such as "ubuntu@24.04", got {text!r}')
    name, _, channel = text.partition("@")
    return _system(name, where), channel


def _architecture(text: object, where: str, *, build_for: bool = False) -> str:
    allowed = ARCHITECTURES | ({"all"} if build_for else set())
    if not isinstance(text, str) or text not in allowed:
        raise _bad(where, f"unknown architecture {text!r}: expected one of {sorted(allowed)}")
    return text


def _split(item: object, base: str | None, where: str, *, build_for: bool) -> tuple[Base, str]:
    """`amd64` or `ubuntu@22.04:amd64` → (the base, the architecture)."""
    if not isinstance(item, str):
        raise _bad(where, f"expected an architecture or BASE:ARCHITECTURE, got {item!r}")
    named, _, arch = item.rpartition(":")
    arch = _architecture(arch, where, build_for=build_for)
    text = named or base
    if text is None:
        raise _bad(where, "no base: set `base`, or write the platform as ubuntu@24.04:" + arch)
    name, channel = _base_string(text, where)
    return Base(name, channel, (arch,)), arch


def _platform(key: str, value: object, base: str | None) -> Platform:
    where = f"platforms.{key}"
    if value is None:
        run_on, arch = _split(key, base, where, build_for=False)
        return Platform(key.replace(":", "-"), (run_on,), frozenset({arch}))
    if not isinstance(value, dict):
        raise _bad(where, "expected build-on and build-for, or nothing")
    build_on, build_for = value.get("build-on"), value.get("build-for")
    if not isinstance(build_on, list) or not build_on:
        raise _bad(f"{where}.build-on", "expected a list of architectures")
    if not isinstance(build_for, list) or len(build_for) != 1:
        raise _bad(f"{where}.build-for", "expected a list of one architecture")
    arches = frozenset(
        _split(item, base, f"{where}.build-on", build_for=False)[1] for item in build_on
    )
    run_on, _ = _split(build_for[0], base, f"{where}.build-for", build_for=True)
    return Platform(key.replace(":", "-"), (run_on,), arches)


def _legacy_base(item: object, where: str, arch: str) -> Base:
    if not isinstance(item, dict):
        raise _bad(where, "expected a mapping with name and channel")
    name, channel = item.get("name"), item.get("channel")
    if not isinstance(name, str):
        raise _bad(f"{where}.name", "required, such as ubuntu")
    if not isinstance(channel, str):
        raise _bad(
            f"{where}.channel", f'expected a string such as "22.04" (quoted), got {channel!r}'
        )
    arches = item.get("architectures", [arch])
    if not isinstance(arches, list) or not arches:
        raise _bad(f"{where}.architectures", "expected a list of architectures")
    found = tuple(_architecture(a, f"{where}.architectures", build_for=True) for a in arches)
    return Base(_system(name, f"{where}.name"), channel, found)


def _legacy(index: int, entry: dict[str, Any], arch: str) -> Platform:
    where = f"bases.{index}"
    build: tuple[Base, ...]
    run: tuple[Base, ...]
    if "build-on" not in entry and "run-on" not in entry:
        only = _legacy_base(entry, where, arch)
        build, run = (only,), (only,)
    else:
        build_on, run_on = entry.get("build-on"), entry.get("run-on", entry.get("build-on"))
        for key, items in (("build-on", build_on), ("run-on", run_on)):
            if not isinstance(items, list) or not items:
                raise _bad(f"{where}.{key}", "expected a list of bases")
        assert isinstance(build_on, list) and isinstance(run_on, list)
        build = tuple(
            _legacy_base(b, f"{where}.build-on.{i}", arch) for i, b in enumerate(build_on)
        )
        run = tuple(_legacy_base(b, f"{where}.run-on.{i}", arch) for i, b in enumerate(run_on))
    name = "_".join(f"{b.name}-{b.channel}-{'-'.join(b.architectures)}" for b in run)
    return Platform(name, run, frozenset(a for b in build for a in b.architectures))


def platforms(charmcraft: schema.Charmcraft, arch: str | None = None) -> list[Platform]:
    """Every platform `charmcraft.yaml` declares, in its order; [] when it names no base.

    Raises:
        InvalidSpecError: a base, platform or architecture charmcraft would refuse.
    """
    arch = arch or host_architecture()
    if charmcraft.bases is not None:
        if not charmcraft.bases:
            raise _bad("bases", "expected at least one base")
        return [_legacy(i, entry, arch) for i, entry in enumerate(charmcraft.bases)]
    if charmcraft.base is not None:
        _base_string(charmcraft.base, "base")
    if not charmcraft.platforms:
        if charmcraft.platforms is not None:
            raise _bad("platforms", "expected at least one platform")
        return []
    return [_platform(str(k), v, charmcraft.base) for k, v in charmcraft.platforms.items()]


MANIFEST_STARTED_AT = "1980-01-01T00:00:00.000000Z"
"""`charmcraft-started-at`, fixed at the zip entries' epoch so equal sources pack to equal
bytes (the controller stores charms by their sha256)."""


def manifest(platform: Platform, version: str, attributes: dict[str, str]) -> dict[str, Any]:
    """`manifest.yaml` as charmcraft writes it: its fields in charmcraft's order."""
    return {
        "charmcraft-version": version,
        "charmcraft-started-at": MANIFEST_STARTED_AT,
        "bases": [base.document() for base in platform.bases],
        "analysis": {
            "attributes": [{"name": name, "result": result} for name, result in attributes.items()]
        },
    }
