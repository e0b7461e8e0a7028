"""Planning: the ordered changes that take a model to what a bundle declares.

`plan(bundle, view)` is a pure function; `apply_view(view, plan)` is its pure model of
execution (what the model looks like once every change ran), which the property tests use
to check that a second plan is empty. The controller plans and runs the same changes in
one transaction.

Juju's rules where they apply: a bundle never removes anything unless asked (`--prune`),
bundle machine ids are symbolic (a bundle machine is the model machine its first unit
landed on), relations given without endpoint names match whichever endpoints the model
chose, and config the bundle does not mention is left alone (reset with `--prune`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runecraft.bundles._view import ApplicationView, ModelView, RelationView, UnitView
from runecraft.schemas import constraints as constraints_schema
from runecraft.schemas.bundle import Bundle, Endpoint, Placement, RelationSpec
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
    "apply_view",
    "describe",
    "plan",
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


class AddCharm(_Frozen):
    kind: Literal["add-charm"] = "add-charm"
    charm: str
    source: str
    channel: str | None = None
    path: str | None = None
    sha256: str | None = None


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


class ChangeCharm(_Frozen):
    kind: Literal["change-charm"] = "change-charm"
    application: str
    charm: str
    previous: str


class SetConfig(_Frozen):
    kind: Literal["set-config"] = "set-config"
    application: str
    values: dict[str, Any] = {}
    reset: tuple[str, ...] = ()
    previous: dict[str, Any] = {}


class SetConstraints(_Frozen):
    kind: Literal["set-constraints"] = "set-constraints"
    application: str
    constraints: dict[str, Any]
    previous: dict[str, Any] = {}


class SetTrust(_Frozen):
    kind: Literal["set-trust"] = "set-trust"
    application: str
    trust: bool


class AddMachine(_Frozen):
    """A bundle machine; the local substrate creates it with the first unit placed on it."""

    kind: Literal["add-machine"] = "add-machine"
    machine: str
    base: str | None = None
    constraints: dict[str, str] = {}


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


class RemoveUnit(_Frozen):
    kind: Literal["remove-unit"] = "remove-unit"
    unit: str


class AddRelation(_Frozen):
    kind: Literal["add-relation"] = "add-relation"
    endpoints: tuple[str, str]


class Expose(_Frozen):
    kind: Literal["expose"] = "expose"
    application: str
    endpoints: tuple[str, ...] = ()


class Unexpose(_Frozen):
    kind: Literal["unexpose"] = "unexpose"
    application: str


class AddOffer(_Frozen):
    kind: Literal["add-offer"] = "add-offer"
    application: str
    offer: str
    endpoints: tuple[str, ...]


class Consume(_Frozen):
    kind: Literal["consume"] = "consume"
    saas: str
    url: str


class RemoveRelation(_Frozen):
    kind: Literal["remove-relation"] = "remove-relation"
    endpoints: tuple[str, str]


class RemoveApplication(_Frozen):
    kind: Literal["remove-application"] = "remove-application"
    application: str


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
                {"description": describe(c), **c.model_dump(mode="json")} for c in self.changes
            ],
            "warnings": list(self.warnings),
        }


# --- planning ----------------------------------------------------------------------------


def plan(
    bundle: Bundle,
    view: ModelView,
    *,
    prune: bool = False,
    charms: Mapping[str, ResolvedCharm] | None = None,
) -> Plan:
    """The changes that converge `view` to `bundle`.

    `charms` says, per application, where its charm was found; an application missing
    from it has a charm still to be fetched (reported, never an error here).
    """
    found = charms or {}
    warnings: list[str] = []
    charm_changes: dict[tuple[str, str], AddCharm] = {}
    app_changes: list[Change] = []
    config_changes: list[Change] = []
    unit_removals: list[Change] = []
    expose_changes: list[Change] = []
    offer_changes: list[Change] = []
    pending: list[tuple[str, int, Placement]] = []  # (application, bundle index, placement)

    for name, spec in sorted(bundle.applications.items()):
        ref = spec.charm_ref
        resolved = found.get(name) or ResolvedCharm(name=ref.name)
        current = view.applications.get(name)
        wanted_constraints = _constraints(name, spec.constraints, warnings)
        if current is not None and current.dying:
            warnings.append(
                f"applications.{name}: the application is being removed; apply again once "
                "it is gone"
            )
            continue
        if current is None:
            key = (resolved.name, resolved.path or resolved.sha256 or spec.charm)
            charm_changes.setdefault(
                key,
                AddCharm(
                    charm=resolved.name,
                    source=spec.charm,
                    channel=spec.channel,
                    path=resolved.path,
                    sha256=resolved.sha256,
                ),
            )
            app_changes.append(
                AddApplication(
                    application=name,
                    charm=resolved.name,
                    options=dict(spec.options),
                    constraints=wanted_constraints,
                    storage={k: str(v) for k, v in spec.storage.items()},
                    devices=dict(spec.devices),
                    resources=dict(spec.resources),
                    bindings=dict(spec.bindings),
                    trust=spec.trust,
                )
            )
            units: list[UnitView] = []
        else:
            if current.charm != resolved.name:
                app_changes.append(
                    ChangeCharm(application=name, charm=resolved.name, previous=current.charm)
                )
            values = {
                k: v
                for k, v in spec.options.items()
                if k not in current.config or not _same_value(current.config[k], v)
            }
            reset = tuple(sorted(set(current.config) - set(spec.options))) if prune else ()
            if values or reset:
                config_changes.append(
                    SetConfig(
                        application=name,
                        values=values,
                        reset=reset,
                        previous={
                            k: current.config[k] for k in (*values, *reset) if k in current.config
                        },
                    )
                )
            if (spec.constraints or prune) and wanted_constraints != current.constraints:
                config_changes.append(
                    SetConstraints(
                        application=name,
                        constraints=wanted_constraints,
                        previous=dict(current.constraints),
                    )
                )
            if spec.trust != current.trust and (spec.trust or prune):
                config_changes.append(SetTrust(application=name, trust=spec.trust))
            units = current.sorted_units()
        wants_exposed = bool(spec.expose or spec.exposed_endpoints)
        if wants_exposed and not (current and current.exposed):
            expose_changes.append(
                Expose(application=name, endpoints=tuple(sorted(spec.exposed_endpoints)))
            )
        elif prune and not wants_exposed and current is not None and current.exposed:
            expose_changes.append(Unexpose(application=name))
        for offer_name, offer in sorted(spec.offers.items()):
            if current is not None and offer_name in current.offers:
                continue
            offer_changes.append(
                AddOffer(application=name, offer=offer_name, endpoints=offer.endpoints)
            )
        placements = spec.unit_placements()
        if len(units) < spec.num_units:
            pending += [(name, i, placements[i]) for i in range(len(units), spec.num_units)]
        elif len(units) > spec.num_units:
            extra = units[spec.num_units :]
            if prune:
                unit_removals += [RemoveUnit(unit=u.name) for u in reversed(extra)]
            else:
                warnings.append(
                    f"applications.{name}.num_units: the model has {len(units)} units, the "
                    f"bundle {spec.num_units}; --prune removes " + ", ".join(u.name for u in extra)
                )

    mapping = _machine_mapping(bundle, view)
    machine_changes, unit_changes = _place_units(bundle, view, pending, mapping, warnings)
    relation_adds, relation_removes = _relations(bundle, view, prune=prune)
    consume = [
        Consume(saas=n, url=s.url)
        for n, s in sorted(bundle.saas.items())
        if view.saas.get(n) != s.url
    ]
    app_removals: list[Change] = []
    if prune:
        app_removals = [
            RemoveApplication(application=n)
            for n, a in sorted(view.applications.items())
            if n not in bundle.applications and not a.dying
        ]
    changes: list[Change] = [
        *charm_changes.values(),
        *consume,
        *app_changes,
        *config_changes,
        *machine_changes,
        *unit_changes,
        *unit_removals,
        *relation_adds,
        *expose_changes,
        *offer_changes,
        *relation_removes,
        *app_removals,
    ]
    return Plan(
        model=view.name,
        revision=view.revision,
        cloud=view.cloud,
        changes=tuple(changes),
        warnings=tuple(warnings),
    )


def _constraints(name: str, given: Mapping[str, str], warnings: list[str]) -> dict[str, Any]:
    """The bundle's constraints in the controller's normal form; ones it cannot take are
    left out with a warning (the bundle schema already checked their syntax)."""
    if not given:
        return {}
    try:
        return constraints_schema.parse_constraints(f"{k}={v}" for k, v in given.items())
    except ValueError as exc:
        warnings.append(f"applications.{name}.constraints: {exc}; not applied")
        return {}


def _same_value(current: Any, wanted: Any) -> bool:
    """Equal, or equal once both are read as text (`"8"` for an int option is 8)."""
    if current == wanted and type(current) is type(wanted):
        return True
    if isinstance(current, bool) or isinstance(wanted, bool):
        return str(current).lower() == str(wanted).lower()
    if isinstance(current, int | float) and isinstance(wanted, int | float):
        return bool(current == wanted)
    return str(current) == str(wanted)


def _targets_machine(placement: Placement) -> str | None:
    if placement.machine is None or placement.machine == "new":
        return None
    return placement.machine


def _machine_mapping(bundle: Bundle, view: ModelView) -> dict[str, str]:
    """Bundle machine -> model machine, learnt from where the bundle's existing units run."""
    mapping: dict[str, str] = {}
    for name, spec in sorted(bundle.applications.items()):
        current = view.applications.get(name)
        if current is None:
            continue
        for unit, placement in zip(current.sorted_units(), spec.unit_placements(), strict=False):
            target = _targets_machine(placement)
            if target is not None and placement.container is None and unit.machine is not None:
                mapping.setdefault(target, unit.machine)
    return mapping


def _machine_order(machine: str) -> tuple[int, str]:
    return (int(machine), "") if machine.isdigit() else (1 << 62, machine)


def _place_units(
    bundle: Bundle,
    view: ModelView,
    pending: list[tuple[str, int, Placement]],
    mapping: Mapping[str, str],
    warnings: list[str],
) -> tuple[list[Change], list[Change]]:
    """AddMachine changes (in the order their first unit makes them), and AddUnit changes
    in a fixed order: `export` numbers machines the same way, so a round trip is stable."""
    targeted = {t for _, _, p in pending if (t := _targets_machine(p)) is not None}
    for machine in sorted(bundle.machines, key=_machine_order):
        if machine not in mapping and machine not in targeted:
            used = any(
                _targets_machine(p) == machine
                for spec in bundle.applications.values()
                for p in spec.unit_placements()
            )
            if not used:
                warnings.append(
                    f"machines.{machine}: no unit is placed on it; the local substrate makes "
                    "machines for units, so it is not created"
                )
    units: dict[tuple[str, int], AddUnit] = {}
    for name, index, placement in pending:
        target = _targets_machine(placement)
        colocate = None
        if placement.application is not None:
            colocate = f"{placement.application}/{placement.unit or 0}"
        units[(name, index)] = AddUnit(
            application=name,
            machine=target,
            model_machine=mapping.get(target) if target is not None else None,
            colocate=colocate,
            container=placement.container,
            zone=placement.zone,
        )
    # Application by application, each in unit order (so unit numbers follow the bundle's
    # order); a unit placed next to another pending unit waits until that one is placed.
    ordered: list[tuple[str, int]] = []
    placed: set[tuple[str, int]] = set()
    rest = list(units)
    while rest:
        progress = False
        for key in list(rest):
            unit = units[key]
            needs = [(key[0], key[1] - 1)]
            if unit.colocate is not None:
                app, _, number = unit.colocate.partition("/")
                needs.append((app, int(number)))
            if all(n not in units or n in placed for n in needs):
                ordered.append(key)
                placed.add(key)
                rest.remove(key)
                progress = True
        if not progress:  # a placement cycle; the schema rejects these, keep going anyway
            ordered += rest
            break
    made: list[str] = []
    for key in ordered:
        target = units[key].machine
        if target is not None and target not in mapping and target not in made:
            made.append(target)
    machine_changes: list[Change] = [
        AddMachine(
            machine=m,
            base=bundle.machines[m].base if m in bundle.machines else None,
            constraints=dict(bundle.machines[m].constraints) if m in bundle.machines else {},
        )
        for m in made
    ]
    return machine_changes, [units[k] for k in ordered]


def _matches(spec: RelationSpec, relation: RelationView) -> bool:
    def fits(end: Endpoint, actual: tuple[str, str]) -> bool:
        return end.application == actual[0] and end.endpoint in (None, actual[1])

    a, b = spec.endpoints
    x, y = relation.endpoints
    return (fits(a, x) and fits(b, y)) or (fits(a, y) and fits(b, x))


def _relations(
    bundle: Bundle, view: ModelView, *, prune: bool
) -> tuple[list[Change], list[Change]]:
    matched: set[RelationView] = set()
    adds: list[Change] = []
    for spec in bundle.relations:
        # A relation written without endpoint names accepts every relation of the pair.
        hits = {r for r in view.relations if _matches(spec, r)}
        if not hits:
            adds.append(AddRelation(endpoints=(str(spec.endpoints[0]), str(spec.endpoints[1]))))
        matched |= hits
    removes: list[Change] = []
    if prune:
        for relation in view.relations:
            apps = {app for app, _ in relation.endpoints}
            if relation not in matched and apps <= set(bundle.applications):
                (a, ea), (b, eb) = relation.endpoints
                removes.append(RemoveRelation(endpoints=(f"{a}:{ea}", f"{b}:{eb}")))
    return adds, removes


# --- describing and checking -------------------------------------------------------------


def describe(change: Change) -> str:
    """One line for people, in Juju's `deploy --dry-run` spirit."""
    match change:
        case AddCharm(path=None, sha256=str()):
            return f"use charm {change.charm} from the controller's charm store"
        case AddCharm(path=None):
            where = f" (channel {change.channel})" if change.channel else ""
            if change.source.startswith((".", "/")):
                return f"upload charm {change.charm} from {change.source}: not found"
            return (
                f"fetch charm {change.source}{where}: not in the local charm repository nor "
                "the controller's charm store"
            )
        case AddCharm():
            return f"upload charm {change.charm} from {change.path}"
        case AddApplication():
            options = ", ".join(f"{k}={v!r}" for k, v in sorted(change.options.items()))
            return f"deploy application {change.application} using {change.charm}" + (
                f" with {options}" if options else ""
            )
        case ChangeCharm():
            return (
                f"change the charm of {change.application} from {change.previous} to {change.charm}"
            )
        case SetConfig():
            parts = [f"{k}={v!r}" for k, v in sorted(change.values.items())]
            parts += [f"reset {k}" for k in change.reset]
            return f"set config of {change.application}: {', '.join(parts)}"
        case SetConstraints():
            text = constraints_schema.format_constraints(change.constraints)
            return f"set constraints of {change.application}: {text or '(none)'}"
        case SetTrust():
            return f"{'trust' if change.trust else 'untrust'} {change.application}"
        case AddMachine():
            return f"add new machine for bundle machine {change.machine}"
        case AddUnit():
            return f"add unit of {change.application} {_where(change)}"
        case RemoveUnit():
            return f"remove unit {change.unit}"
        case AddRelation():
            return f"add relation {change.endpoints[0]} - {change.endpoints[1]}"
        case Expose():
            return f"expose {change.application}" + (
                f" ({', '.join(change.endpoints)})" if change.endpoints else ""
            )
        case Unexpose():
            return f"unexpose {change.application}"
        case AddOffer():
            return f"offer {change.application} as {change.offer}: {', '.join(change.endpoints)}"
        case Consume():
            return f"consume {change.url} as {change.saas}"
        case RemoveRelation():
            return f"remove relation {change.endpoints[0]} - {change.endpoints[1]}"
        case RemoveApplication():
            return f"remove application {change.application}"
    raise AssertionError(change)  # pragma: no cover


def _where(unit: AddUnit) -> str:
    prefix = f"in a new {unit.container} container on " if unit.container else "on "
    if unit.zone is not None:
        return f"on a new machine in zone {unit.zone}"
    if unit.colocate is not None:
        return f"{prefix}the machine of {unit.colocate}"
    if unit.machine is None:
        return "on a new machine"
    if unit.model_machine is not None:
        return f"{prefix}machine {unit.model_machine} (bundle machine {unit.machine})"
    return f"{prefix}bundle machine {unit.machine}"


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


# --- the pure model of execution ---------------------------------------------------------


def apply_view(view: ModelView, changes: Plan) -> ModelView:
    """The view once every change of the plan ran (new units numbered on from the highest,
    new machines on from the highest)."""
    apps: dict[str, ApplicationView] = dict(view.applications)
    machines = list(view.machines)
    relations = set(view.relations)
    saas = dict(view.saas)
    bundle_machines: dict[str, str] = {}

    def new_machine() -> str:
        number = str(max((int(m) for m in machines if m.isdigit()), default=-1) + 1)
        machines.append(number)
        return number

    for change in changes.changes:
        match change:
            case AddApplication():
                apps[change.application] = ApplicationView(
                    charm=change.charm,
                    config=dict(change.options),
                    constraints=dict(change.constraints),
                    trust=change.trust,
                )
            case SetConstraints():
                apps[change.application] = apps[change.application].model_copy(
                    update={"constraints": dict(change.constraints)}
                )
            case SetTrust():
                apps[change.application] = apps[change.application].model_copy(
                    update={"trust": change.trust}
                )
            case ChangeCharm():
                apps[change.application] = apps[change.application].model_copy(
                    update={"charm": change.charm}
                )
            case SetConfig():
                app = apps[change.application]
                config = {k: v for k, v in app.config.items() if k not in change.reset}
                config.update(change.values)
                apps[change.application] = app.model_copy(update={"config": config})
            case AddUnit():
                app = apps[change.application]
                target: str | None = change.model_machine
                if change.colocate is not None:
                    other, _, index = change.colocate.partition("/")
                    neighbours = apps[other].sorted_units() if other in apps else []
                    if int(index) < len(neighbours):
                        target = neighbours[int(index)].machine
                elif target is None and change.machine is not None:
                    target = bundle_machines.get(change.machine)
                if target is None or change.container is not None:
                    target = new_machine()
                    if change.machine is not None and change.container is None:
                        bundle_machines[change.machine] = target
                number = max((u.number for u in app.units), default=-1) + 1
                unit = UnitView(
                    name=f"{change.application}/{number}",
                    machine=target,
                    container=change.container,
                )
                apps[change.application] = app.model_copy(update={"units": (*app.units, unit)})
            case RemoveUnit():
                name = change.unit.rpartition("/")[0]
                app = apps[name]
                apps[name] = app.model_copy(
                    update={"units": tuple(u for u in app.units if u.name != change.unit)}
                )
            case AddRelation():
                relations.add(_relation_of(change.endpoints))
            case RemoveRelation():
                relations = {r for r in relations if str(r) != " ".join(change.endpoints)}
            case Expose() | Unexpose():
                apps[change.application] = apps[change.application].model_copy(
                    update={"exposed": isinstance(change, Expose)}
                )
            case AddOffer():
                app = apps[change.application]
                apps[change.application] = app.model_copy(
                    update={"offers": (*app.offers, change.offer)}
                )
            case Consume():
                saas[change.saas] = change.url
            case RemoveApplication():
                del apps[change.application]
                relations = {
                    r for r in relations if change.application not in {a for a, _ in r.endpoints}
                }
            case _:
                pass
    return ModelView(
        name=view.name,
        revision=view.revision + len(changes.changes),
        applications=apps,
        machines=tuple(machines),
        relations=tuple(sorted(relations, key=lambda r: r.endpoints)),
        saas=saas,
    )


def _relation_of(endpoints: tuple[str, str]) -> RelationView:
    """The relation an integrate call makes: an endpoint left out is named after the other
    application (the pure model has no charm metadata to infer it from)."""
    first, second = (e.partition(":") for e in endpoints)
    return RelationView.between(
        (first[0], first[2] or second[0]), (second[0], second[2] or first[0])
    )
