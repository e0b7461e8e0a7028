"""The changes a plan is made of: each says what it does in one line for people, and
`apply_view` is their pure model of execution (what a model looks like once every change
of a plan ran), which the property tests use to check that a second plan is empty.

`unsupported` says which changes a model on a given cloud cannot take yet; the CLI shows
it beside the plan and the controller refuses a plan that holds any.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from runecraft.bundles._view import ApplicationView, ModelView, RelationView, UnitView
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
    "RefreshCharm",
    "RemoveApplication",
    "RemoveRelation",
    "RemoveUnit",
    "ResolvedCharm",
    "SetConfig",
    "SetConstraints",
    "SetTrust",
    "Unexpose",
    "apply_view",
    "describe",
    "unsupported",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Change(_Frozen):
    """A change whose one line is the template its class names (`says=`), filled from its
    own fields; a change that words itself by cases overrides `describe` instead."""

    says: ClassVar[str] = ""

    def __init_subclass__(cls, says: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.says = says

    def describe(self) -> str:
        return self.says.format_map(dict(self))


class ResolvedCharm(_Frozen):
    """Where an application's charm was found: its real name, its path on the client's
    disk, and its sha256 once the controller holds it (uploaded, or found by name in the
    controller's charm store). Neither path nor sha256: it would have to be fetched."""

    name: str
    path: str | None = None
    sha256: str | None = None
    charmhub: bool = False
    """Fetched from Charmhub by the client: a charm with an origin, not a local one."""

    @property
    def local(self) -> bool:
        """Taken from the client's disk or the controller's store as a local charm."""
        return (self.path is not None or self.sha256 is not None) and not self.charmhub


# Every change's `describe` is one line in Juju's `deploy --dry-run` spirit.


class AddCharm(_Change):
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


class AddApplication(_Change):
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
    channel: str | None = None
    """For a Charmhub charm: the channel the bundle asks for, in full (`latest/edge`)."""
    revision: int | None = None
    """For a Charmhub charm: the Charmhub revision the bundle asks for."""

    def describe(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
        return f"deploy application {self.application} using {self.charm}" + (
            f" with {options}" if options else ""
        )


class ChangeCharm(_Change, says="change the charm of {application} from {previous} to {charm}"):
    kind: Literal["change-charm"] = "change-charm"
    application: str
    charm: str
    previous: str


class RefreshCharm(_Change):
    """A Charmhub application whose bundle asks for another channel or revision than its
    charm origin holds: refresh it from Charmhub (the CLI fetches the charm, as deploy
    does; planning fetches nothing)."""

    kind: Literal["refresh-charm"] = "refresh-charm"
    application: str
    charm: str
    channel: str | None = None
    """The channel the bundle asks for, in full; None: the one it follows."""
    revision: int | None = None
    """The Charmhub revision the bundle asks for; None: the channel's newest."""
    previous_channel: str | None = None
    previous_revision: int | None = None

    def describe(self) -> str:
        return (
            f"refresh {self.application} to charm {self.charm}"
            f"{_origin_words(self.channel, self.revision)} (from"
            f"{_origin_words(self.previous_channel, self.previous_revision) or ' a local charm'})"
        )


def _origin_words(channel: str | None, revision: int | None) -> str:
    words = f" channel {channel}" if channel else ""
    return words + (f" revision {revision}" if revision is not None else "")


class SetConfig(_Change):
    kind: Literal["set-config"] = "set-config"
    application: str
    values: dict[str, Any] = {}
    reset: tuple[str, ...] = ()
    previous: dict[str, Any] = {}

    def describe(self) -> str:
        parts = [f"{k}={v!r}" for k, v in sorted(self.values.items())]
        parts += [f"reset {k}" for k in self.reset]
        return f"set config of {self.application}: {', '.join(parts)}"


class SetConstraints(_Change):
    kind: Literal["set-constraints"] = "set-constraints"
    application: str
    constraints: dict[str, Any]
    previous: dict[str, Any] = {}

    def describe(self) -> str:
        text = constraints_schema.format_constraints(self.constraints)
        return f"set constraints of {self.application}: {text or '(none)'}"


class SetTrust(_Change):
    kind: Literal["set-trust"] = "set-trust"
    application: str
    trust: bool

    def describe(self) -> str:
        return f"{'trust' if self.trust else 'untrust'} {self.application}"


class AddMachine(_Change, says="add new machine for bundle machine {machine}"):
    """A bundle machine; the local substrate creates it with the first unit placed on it."""

    kind: Literal["add-machine"] = "add-machine"
    machine: str
    base: str | None = None
    constraints: dict[str, str] = {}


class AddUnit(_Change):
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


class RemoveUnit(_Change, says="remove unit {unit}"):
    kind: Literal["remove-unit"] = "remove-unit"
    unit: str


class AddRelation(_Change, says="add relation {endpoints[0]} - {endpoints[1]}"):
    kind: Literal["add-relation"] = "add-relation"
    endpoints: tuple[str, str]


class RemoveRelation(_Change, says="remove relation {endpoints[0]} - {endpoints[1]}"):
    kind: Literal["remove-relation"] = "remove-relation"
    endpoints: tuple[str, str]


class Expose(_Change):
    kind: Literal["expose"] = "expose"
    application: str
    endpoints: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"expose {self.application}" + (
            f" ({', '.join(self.endpoints)})" if self.endpoints else ""
        )


class Unexpose(_Change, says="unexpose {application}"):
    kind: Literal["unexpose"] = "unexpose"
    application: str


class AddOffer(_Change):
    kind: Literal["add-offer"] = "add-offer"
    application: str
    offer: str
    endpoints: tuple[str, ...]

    def describe(self) -> str:
        return f"offer {self.application} as {self.offer}: {', '.join(self.endpoints)}"


class Consume(_Change, says="consume {url} as {saas}"):
    kind: Literal["consume"] = "consume"
    saas: str
    url: str


class RemoveApplication(_Change, says="remove application {application}"):
    kind: Literal["remove-application"] = "remove-application"
    application: str


Change = Annotated[
    AddCharm
    | AddApplication
    | ChangeCharm
    | RefreshCharm
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
                "controller's charm store, and was not fetched from Charmhub (the CLI fetches "
                "it: rune apply)"
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
        case Consume() if ":" in change.url:
            return (
                f"saas.{change.saas}: consuming offers of another controller is not supported "
                "(give [OWNER/]MODEL.OFFER of this controller)"
            )
    return None


# --- the pure model of execution ---------------------------------------------------------

_Setting = (
    SetConstraints
    | SetTrust
    | ChangeCharm
    | RefreshCharm
    | SetConfig
    | Expose
    | Unexpose
    | AddOffer
)
"""A change to one application's own settings."""


def apply_view(view: ModelView, changes: Plan) -> ModelView:
    """The view once every change of the plan ran (new units numbered on from the highest,
    new machines on from the highest)."""
    execution = _Execution(view)
    for change in changes.changes:
        execution.run(change)
    return ModelView(
        name=view.name,
        revision=view.revision + len(changes.changes),
        applications=execution.apps,
        machines=tuple(execution.machines),
        relations=tuple(sorted(execution.relations, key=lambda r: r.endpoints)),
        saas=execution.saas,
    )


class _Execution:
    """The model as the plan's changes run, one after another."""

    def __init__(self, view: ModelView) -> None:
        self.apps: dict[str, ApplicationView] = dict(view.applications)
        self.machines = list(view.machines)
        self.relations = set(view.relations)
        self.saas = dict(view.saas)
        self.bundle_machines: dict[str, str] = {}
        """Bundle machine -> the model machine made for it."""

    def run(self, change: Change) -> None:
        match change:
            case AddApplication():
                self.apps[change.application] = ApplicationView(
                    charm=change.charm,
                    config=dict(change.options),
                    constraints=dict(change.constraints),
                    trust=change.trust,
                    channel=change.channel,
                    revision=change.revision,
                )
            case (
                SetConstraints()
                | SetTrust()
                | ChangeCharm()
                | RefreshCharm()
                | SetConfig()
                | Expose()
                | Unexpose()
                | AddOffer()
            ):
                self.apps[change.application] = _with_setting(self.apps[change.application], change)
            case AddUnit():
                self._add_unit(change)
            case RemoveUnit():
                name = change.unit.rpartition("/")[0]
                app = self.apps[name]
                self.apps[name] = app.model_copy(
                    update={"units": tuple(u for u in app.units if u.name != change.unit)}
                )
            case AddRelation():
                self.relations.add(_relation_of(change.endpoints))
            case RemoveRelation():
                removed = " ".join(change.endpoints)
                self.relations = {r for r in self.relations if str(r) != removed}
            case Consume():
                self.saas[change.saas] = change.url
            case RemoveApplication():
                del self.apps[change.application]
                self.relations = {
                    r
                    for r in self.relations
                    if change.application not in {a for a, _ in r.endpoints}
                }

    def _add_unit(self, change: AddUnit) -> None:
        app = self.apps[change.application]
        number = max((u.number for u in app.units), default=-1) + 1
        unit = UnitView(
            name=f"{change.application}/{number}",
            machine=self._machine_for(change),
            container=change.container,
        )
        self.apps[change.application] = app.model_copy(update={"units": (*app.units, unit)})

    def _machine_for(self, change: AddUnit) -> str:
        """Its neighbour's machine, its bundle machine once made, or a new machine (always
        for a container, whose host is not modelled here)."""
        target: str | None = change.model_machine
        if change.colocate is not None:
            other, _, index = change.colocate.partition("/")
            neighbours = self.apps[other].sorted_units() if other in self.apps else []
            if int(index) < len(neighbours):
                target = neighbours[int(index)].machine
        elif target is None and change.machine is not None:
            target = self.bundle_machines.get(change.machine)
        if target is None or change.container is not None:
            target = self._new_machine()
            if change.machine is not None and change.container is None:
                self.bundle_machines[change.machine] = target
        return target

    def _new_machine(self) -> str:
        number = str(max((int(m) for m in self.machines if m.isdigit()), default=-1) + 1)
        self.machines.append(number)
        return number


def _with_setting(app: ApplicationView, change: _Setting) -> ApplicationView:
    match change:
        case SetConstraints():
            return app.model_copy(update={"constraints": dict(change.constraints)})
        case SetTrust():
            return app.model_copy(update={"trust": change.trust})
        case ChangeCharm():
            return app.model_copy(update={"charm": change.charm})
        case RefreshCharm():
            channel = change.channel or change.previous_channel or "latest/stable"
            return app.model_copy(update={"channel": channel, "revision": change.revision})
        case SetConfig():
            config = {k: v for k, v in app.config.items() if k not in change.reset}
            config.update(change.values)
            return app.model_copy(update={"config": config})
        case Expose() | Unexpose():
            return app.model_copy(update={"exposed": isinstance(change, Expose)})
        case AddOffer():
            return app.model_copy(update={"offers": {**app.offers, change.offer: change.endpoints}})


def _relation_of(endpoints: tuple[str, str]) -> RelationView:
    """The relation an integrate call makes: an endpoint left out is named after the other
    application (the pure model has no charm metadata to infer it from)."""
    first, second = (e.partition(":") for e in endpoints)
    return RelationView.between(
        (first[0], first[2] or second[0]), (second[0], second[2] or first[0])
    )
