"""Where units go, decided once, in the transaction that adds them.

`--to` directives of deploy and add-unit (an existing machine, a new one, or a new LXD
container on the host: `lxd`, `lxd:N`) are parsed here; `place_units` then gives every new
unit its machine in the same transaction: a directive's machine, a new machine (of the
model's cloud, or of the substrate a directive names), or on the manual cloud a free
enlisted machine. So a deploy's answer names each unit's machine, and nothing is left for
a later pass to assign.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runecraft import errors
from runecraft.controller.services._ports import WithMachines, WithModel, WithUnits

__all__ = ["PlacementState", "UnitPlacement", "parse_placement", "place_units"]


class PlacementState(WithModel, WithMachines, WithUnits, Protocol):
    """What placing new units needs of a transaction."""


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


async def place_units(tx: PlacementState, to: Sequence[str], count: int) -> list[int]:
    """The machine of each of `count` new units, making the machines that are new.

    Units past the directives go to a new machine each, or on the manual cloud (whose
    machines are enlisted by hand) to free enlisted machines.
    """
    if len(to) > count:
        raise errors.InvalidSpecError(f"{len(to)} placement directives given for {count} unit(s)")
    wanted: list[int | None] = []
    for directive in to:
        placement = parse_placement(directive)
        if placement.machine is not None:
            await _existing_machine(tx, directive, placement.machine)
        if placement.substrate is not None:
            made = await tx.machines.insert(substrate=placement.substrate)
            wanted.append(made.number)
        else:
            wanted.append(placement.machine)
    wanted += [None] * (count - len(wanted))
    assert tx.model is not None
    if tx.model.cloud == "manual":
        return await _place_on_enlisted(tx, wanted)
    return [m if m is not None else (await tx.machines.insert()).number for m in wanted]


async def _existing_machine(tx: PlacementState, directive: str, number: int) -> None:
    try:
        machine = await tx.machines.get(number)
    except errors.NotFoundError as exc:
        raise errors.NotFoundError(f'invalid placement "{directive}": {exc.message}') from exc
    if machine.life != "alive":
        raise errors.ConflictError(f'machine "{machine.number}" is being removed')


async def _place_on_enlisted(tx: PlacementState, wanted: Sequence[int | None]) -> list[int]:
    """On the manual cloud, units without a placement go to free enlisted machines (alive,
    hosting no unit); when too few are free, a clear error says so."""
    assert tx.model is not None
    taken = {p for p in wanted if p is not None}
    needed = list(wanted).count(None)
    free: list[int] = []
    if needed:
        for machine in await tx.machines.all():
            if (
                machine.life == "alive"
                and machine.enlistment is not None
                and machine.number not in taken
                and not await tx.units.names_on_machine(machine.number)
            ):
                free.append(machine.number)
    if needed > len(free):
        raise errors.ConflictError(
            f'no free machine in model "{tx.model.name}" for {needed} unit(s) '
            f"({len(free)} free): enlist one with `rune add-machine ssh:[user@]host`, or place "
            "units on a machine with --to"
        )
    spare = iter(free)
    return [p if p is not None else next(spare) for p in wanted]
