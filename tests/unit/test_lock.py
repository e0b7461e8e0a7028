"""The lock that setup installs from names every dependency, at a version the project allows.

A dependency added to pyproject.toml without `scripts/lock.sh` would install unpinned on a
fresh machine and float with the registry: this fails first.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            match = re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line)
            assert match, f"lock line is not an exact pin: {line!r}"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = list(project["project"]["dependencies"])
    for extra in project["project"]["optional-dependencies"].values():
        names += extra
    names += project["build-system"]["requires"]
    return [Requirement(name) for name in names]


def test_every_declared_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{requirement.name} is not in requirements/lock.txt: run scripts/lock.sh"
        )
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{requirement.name}=={pins[name]} in the lock is outside {requirement.specifier}"
        )
