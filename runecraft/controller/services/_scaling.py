"""Scaling an application, and what a Kubernetes model (type "caas") changes about it.

On Kubernetes each unit runs in a pod of the application's StatefulSet, named
`<application>-<unit number>`: unit numbers are pod ordinals. So a new unit takes the
lowest number no unit of the application holds (numbers come back after a scale down,
unlike on machines), units leave highest number first, and nothing is added while some
are still leaving (a StatefulSet's ordinals stay contiguous). Units cannot be placed and
there are no machines to add: each unit's machine record is the controller's own
bookkeeping for its pod, made with the unit and never shared.

Pure functions: the services call them inside the transaction that changes the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runecraft import errors
from runecraft.controller.state import ModelRecord

__all__ = [
    "CAAS",
    "check_caas_deploy",
    "check_caas_leaving",
    "check_caas_placement",
    "check_caas_removals",
    "check_machine_command",
    "is_caas",
    "pod_ordinals",
    "scale_plan",
]

CAAS = "caas"
"""Juju's model type of a model on a Kubernetes cloud."""


def is_caas(model: ModelRecord | None) -> bool:
    return model is not None and model.type == CAAS


def pod_ordinals(used: Iterable[int], count: int) -> list[int]:
    """The `count` lowest unit numbers not in `used` (a StatefulSet's next ordinals)."""
    taken = set(used)
    found: list[int] = []
    number = 0
    while len(found) < count:
        if number not in taken:
            found.append(number)
        number += 1
    return found


def scale_plan(alive: Iterable[int], scale: int) -> tuple[int, list[int]]:
    """How many units to add, and which alive unit numbers to remove (highest first), for
    an application to have `scale` alive units."""
    ordered = sorted(alive)
    if scale >= len(ordered):
        return scale - len(ordered), []
    return 0, ordered[scale:][::-1]


def check_caas_deploy(
    model: ModelRecord, application: str, to: Sequence[str], subordinate: bool
) -> None:
    """A deploy a k8s model cannot take: placement, or a subordinate charm."""
    check_caas_placement(model, to)
    if subordinate:
        raise errors.InvalidSpecError(
            f'cannot deploy "{application}": subordinate charms are not supported on k8s '
            f'models (model "{model.name}" runs each unit in a pod of its own)'
        )


def check_caas_placement(model: ModelRecord, to: Sequence[str]) -> None:
    """Units of a k8s model cannot be placed (`--to`): each runs in a pod of its own."""
    if to:
        raise errors.InvalidSpecError(
            f'k8s models only support --num-units: model "{model.name}" runs each unit in a '
            f"pod of its own, so units cannot be placed (--to {','.join(to)})"
        )


def check_caas_leaving(application: str, leaving: Sequence[str]) -> None:
    """No units are added to a k8s application while some of its units are still leaving:
    their pod ordinals would be handed out twice."""
    if leaving:
        raise errors.ConflictError(
            f'cannot add units to "{application}" while {", ".join(leaving)} '
            f"{'is' if len(leaving) == 1 else 'are'} still being removed (k8s unit numbers "
            "are pod ordinals, which must stay contiguous): try again once they are gone"
        )


def check_caas_removals(application: str, alive: Iterable[int], removing: Iterable[int]) -> None:
    """On a k8s model, units leave highest number first: `removing` (alive unit numbers
    of `application`) must be its highest alive ones."""
    wanted = set(removing)
    highest = sorted(alive, reverse=True)[: len(wanted)]
    stray = sorted(wanted - set(highest))
    if stray:
        names = ", ".join(f"{application}/{n}" for n in stray)
        allowed = ", ".join(f"{application}/{n}" for n in highest) or "none"
        raise errors.ConflictError(
            f"cannot remove {names}: on a k8s model the units of an application go highest "
            f"number first (pod ordinals stay contiguous); {len(wanted)} unit(s) of "
            f'"{application}" means {allowed} — or use `remove-unit {application} '
            f"--num-units {len(wanted)}`"
        )


def check_machine_command(model: ModelRecord, command: str) -> None:
    """Machine commands on a k8s model, refused in Juju's words: it has no machines."""
    if is_caas(model):
        raise errors.InvalidSpecError(
            f'Juju command "{command}" not supported on container models: model '
            f'"{model.name}" is a k8s model, whose units run in pods, not on machines'
        )
