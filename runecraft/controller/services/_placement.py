"""`--to` directives of deploy and add-unit: an existing machine, a new one, or a new LXD
container on the host (`lxd`, `lxd:N`)."""

from __future__ import annotations

from dataclasses import dataclass

from runecraft import errors

__all__ = ["UnitPlacement", "parse_placement"]


@dataclass(frozen=True)
class UnitPlacement:
    """Where one unit goes."""

    machine: int | None = None
    """An existing machine of the model (for `lxd:N`, the machine the container is put
    beside); None: a new machine."""

    substrate: str | None = None
    """A new machine on this substrate instead of the model's cloud (`lxd`)."""


def parse_placement(directive: str) -> UnitPlacement:
    """`N`, `new`, `lxd` or `lxd:N`; anything else is an `InvalidSpecError` naming it."""
    kind, colon, rest = directive.partition(":")
    if not colon and kind == "new":
        return UnitPlacement()
    if not colon and kind.isascii() and kind.isdigit():
        return UnitPlacement(machine=int(kind))
    if kind == "lxd" and not colon:
        return UnitPlacement(substrate="lxd")
    if kind == "lxd" and rest.isascii() and rest.isdigit():
        return UnitPlacement(machine=int(rest), substrate="lxd")
    raise errors.InvalidSpecError(
        f'invalid placement "{directive}": expected a machine number, "new", "lxd" or "lxd:N"'
    )
