"""The changes a plan is made of, each able to say what it does in one line for people.

`unsupported` says which changes a model on a given cloud cannot take yet; the CLI shows
it beside the plan and the controller refuses a plan that holds any.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runecraft.schemas import constraints as constraints_schema
from runecraft.schemas.machines import CONTAINER_CLOUDS

__all__ = [
    "AddApplication",
    "AddCharm",
    "AddMachine",
    "AddOffer",
    "AddRelation",
    "AddUnit",
    "Change",
    "ChangeCharm",
    "Consume",
    "Expose",
    "Plan",
    "RemoveApplication",
    "RemoveRelation",
    "RemoveUnit",
    "ResolvedCharm",
    "SetConfig",
    "SetConstraints",
    "SetTrust",
    "Unexpose",
    "describe",
    "unsupported",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResolvedCharm(_Frozen):
    """Where an application's charm was found: its real name, its path on the client's
    disk, and its sha256 once the controller holds it (uploaded, or found by name in the
    controller's charm store). Neither path nor sha256: it would have to be fetched."""

    name: str
    path: str | None = None
    sha256: str | None = None


# Every change's `describe` is one line in Juju's `deploy --dry-run` spirit.


class AddCharm(_Frozen):
    kind: Literal["add-charm"] = "add-charm"
    charm: str
    source: str
    channel: str | None = None
    path: str | None = None
    sha256: str | None = None

    def describe(self) -> str:
        if self.path is not None:
            return f"upload charm {self.charm} from {self.path}"
        if self.sha256 is not None:
            return f"use charm {self.charm} from the controller's charm store"
        if self.source.startswith((".", "/")):
            return f"upload charm {self.charm} from {self.source}: not found"
        where = f" (channel {self.channel})" if self.channel else ""
        return (
            f"fetch charm {self.source}{where}: not in the local charm repository nor "
            "the controller's charm store"
        )


class AddApplication(_Frozen):
    """Deploy with no units (they follow as AddUnit); `constraints` are normalised (sizes
    in MiB), as the controller stores them."""

    kind: Literal["add-application"] = "add-application"
    application: str
    charm: str
    options: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    storage: dict[str, str] = {}
    devices: dict[str, str] = {}
    resources: dict[str, int | str] = {}
    bindings: dict[str, str] = {}
    trust: bool = False

    def describe(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return f"deploy application {self.application} using {self.charm}" + (
            f" with {options}" if options else ""
        )


class ChangeCharm(_Frozen):
    kind: Literal["change-charm"] = "change-charm"
    application: str
    charm: str
    previous: str

    def describe(self) -> str:
        return f"change the charm of {self.application} from {self.previous} to {self.charm}"


class SetConfig(_Frozen):
    kind: Literal["set-config"] = "set-config"
    application: str
    values: dict[str, Any] = {}
    reset: tuple[str, ...] = ()
    previous: dict[str, Any] = {}

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in sorted(self.values.items())]
        parts += [f"reset {k}" for k in self.reset]
        return f"set config of {self.application}: {', '.join(parts)}"


class SetConstraints(_Frozen):
    kind: Literal["set-constraints"] = "set-constraints"
    application: str
    constraints: dict[str, Any]
    previous: dict[str, Any] = {}

    def describe(self) -> str:
        text = constraints_schema.format_constraints(self.constraints)
        return f"set constraints of {self.application}: {text or '(none)'}"


class SetTrust(_Frozen):
    kind: Literal["set-trust"] = "set-trust"
    application: str
    trust: bool

    def describe(self) -> str:
        return f"{'trust' if self.trust else 'untrust'} {self.application}"


class AddMachine(_Frozen):
    """A bundle machine; the local substrate creates it with the first unit placed on it."""

    kind: Literal["add-machine"] = "add-machine"
    machine: str
    base: str | None = None
    constraints: dict[str, str] = {}

    def describe(self) -> str:
        return f"add new machine for bundle machine {self.machine}"


class AddUnit(_Frozen):
    """One unit. Its target is a bundle machine (`machine`, already in the model as
    `model_machine` when known), the machine of another unit (`colocate`, "app/index"), or
    a new machine when neither is given."""

    kind: Literal["add-unit"] = "add-unit"
    application: str
    machine: str | None = None
    model_machine: str | None = None
    colocate: str | None = None
    container: str | None = None
    zone: str | None = None

    def describe(self) -> str:
        return f"add unit of {self.application} {self._where()}"

    def _where(self) -> str:
        prefix = f"in a new {self.container} container on " if self.container else "on "
        if self.zone is not None:
            return f"on a new machine in zone {self.zone}"
        if self.colocate is not None:
            return f"{prefix}the machine of {self.colocate}"
        if self.machine is None:
            return "on a new machine"
        if self.model_machine is not None:
            return f"{prefix}machine {self.model_machine} (bundle machine {self.machine})"
        return f"{prefix}bundle machine {self.machine}"


class RemoveUnit(_Frozen):
    kind: Literal["remove-unit"] = "remove-unit"
    unit: str

    def describe(self) -> str:
        return f"remove unit {self.unit}"


class AddRelation(_Frozen):
    kind: Literal["add-relation"] = "add-relation"
    endpoints: tuple[str, str]

    def describe(self) -> str:
        return f"add relation {self.endpoints[0]} - {self.endpoints[1]}"


class Expose(_Frozen):
    kind: Literal["expose"] = "expose"
    application: str
    endpoints: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"expose {self.application}" + (
            f" ({', '.join(self.endpoints)})" if self.endpoints else ""
        )


class Unexpose(_Frozen):
    kind: Literal["unexpose"] = "unexpose"
    application: str

    def describe(self) -> str:
        return f"unexpose {self.application}"


class AddOffer(_Frozen):
    kind: Literal["add-offer"] = "add-offer"
    application: str
    offer: str
    endpoints: tuple[str, ...]

    def describe(self) -> str:
        return f"offer {self.application} as {self.offer}: {', '.join(self.endpoints)}"


class Consume(_Frozen):
    kind: Literal["consume"] = "consume"
    saas: str
    url: str

    def describe(self) -> str:
        return f"consume {self.url} as {self.saas}"


class RemoveRelation(_Frozen):
    kind: Literal["remove-relation"] = "remove-relation"
    endpoints: tuple[str, str]

    def describe(self) -> str:
        return f"remove relation {self.endpoints[0]} - {self.endpoints[1]}"


class RemoveApplication(_Frozen):
    kind: Literal["remove-application"] = "remove-application"
    application: str

    def describe(self) -> str:
        return f"remove application {self.application}"


Change = Annotated[
    AddCharm
    | AddApplication
    | ChangeCharm
    | SetConfig
    | SetConstraints
    | SetTrust
    | AddMachine
    | AddUnit
    | RemoveUnit
    | AddRelation
    | Expose
    | Unexpose
    | AddOffer
    | Consume
    | RemoveRelation
    | RemoveApplication,
    Field(discriminator="kind"),
]


class Plan(_Frozen):
    """The changes in the order they run, against the model at `revision`."""

    model: str
    revision: int
    cloud: str = "local"
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.changes

    def document(self) -> dict[str, Any]:
        """The stable JSON form (`rune plan --format json`)."""
        return {
            "model": self.model,
            "revision": self.revision,
            "changes": [
                {"description": c.describe(), **c.model_dump(mode="json")} for c in self.changes
            ],
            "warnings": list(self.warnings),
        }


def describe(change: Change) -> str:
    """One line for people, in Juju's `deploy --dry-run` spirit."""
    return change.describe()


def unsupported(change: Change, cloud: str = "local") -> str | None:
    """Why a model on `cloud` cannot take this change (yet), or None when it can."""
    match change:
        case AddCharm(path=None, sha256=None) if change.source.startswith((".", "/")):
            return f'charm "{change.source}" not found'
        case AddCharm(path=None, sha256=None):
            return (
                f'charm "{change.source}" is not in the local charm repository nor the '
                "controller's charm store (fetching from Charmhub is not supported yet)"
            )
        case ChangeCharm():
            return (
                f"application {change.application}: changing its charm from "
                f"{change.previous} to {change.charm} is not supported yet"
            )
        case AddApplication(devices=d, resources=r) if d or r:
            what = [w for w, v in (("devices", d), ("resources", r)) if v]
            return (
                f"applications.{change.application}: {' and '.join(what)} in bundles "
                "are not supported yet"
            )
        case AddUnit(container=c) if c is not None and c != "lxd":
            return (
                f"applications.{change.application}.to: placing units in {c} containers "
                "is not supported yet (lxd containers are)"
            )
        case AddUnit(container="lxd") if cloud not in CONTAINER_CLOUDS:
            return (
                f"applications.{change.application}.to: lxd containers join only models on "
                f'the {" or ".join(sorted(CONTAINER_CLOUDS))} cloud; this one is on "{cloud}"'
            )
        case AddUnit(zone=z) if z is not None:
            return f"applications.{change.application}.to: zone placement is not supported yet"
        case Expose() | Unexpose():
            return f"applications.{change.application}.expose: exposing is not supported yet"
        case AddOffer():
            return (
                f"applications.{change.application}.offers.{change.offer}: offers are not "
                "supported yet"
            )
        case Consume():
            return f"saas.{change.saas}: consuming offers is not supported yet"
    return None
