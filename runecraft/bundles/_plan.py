"""Planning: the ordered changes that take a model to what a bundle declares.

`plan(bundle, view)` is a pure function; `apply_view(view, plan)` (in `_changes`) is its
pure model of execution. The controller plans and runs the same changes in one
transaction.

Juju's rules where they apply: a bundle never removes anything unless asked (`--prune`),
bundle machine ids are symbolic (a bundle machine is the model machine its first unit
landed on), relations given without endpoint names match whichever endpoints the model
chose, and config the bundle does not mention is left alone (reset with `--prune`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runecraft.bundles._changes import (
    AddApplication,
    AddCharm,
    AddMachine,
    AddOffer,
    AddRelation,
    AddUnit,
    Change,
    ChangeCharm,
    Consume,
    Expose,
    Plan,
    RefreshCharm,
    RemoveApplication,
    RemoveRelation,
    RemoveUnit,
    ResolvedCharm,
    SetConfig,
    SetConstraints,
    SetTrust,
    Unexpose,
)
from runecraft.bundles._view import ApplicationView, ModelView, RelationView, UnitView
from runecraft.schemas import constraints as constraints_schema
from runecraft.schemas.bundle import ApplicationSpec, Bundle, Endpoint, Placement, RelationSpec
from runecraft.schemas.channels import parse_channel

__all__ = ["plan", "substrate_problems"]


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
    draft = _Draft()
    for name, spec in sorted(bundle.applications.items()):
        resolved = found.get(name) or ResolvedCharm(name=spec.charm_ref.name)
        current = view.applications.get(name)
        _plan_application(draft, name, spec, current, resolved, prune=prune)
    mapping = _machine_mapping(bundle, view)
    machine_changes, unit_changes = _place_units(
        bundle, view, draft.pending, mapping, draft.warnings
    )
    relation_adds, relation_removes = _relations(bundle, view, prune=prune)
    consume = [
        Consume(saas=n, url=s.url)
        for n, s in sorted(bundle.saas.items())
        if view.saas.get(n) != _owned(s.url)
    ]
    app_removals: list[Change] = []
    if prune:
        app_removals = [
            RemoveApplication(application=n)
            for n, a in sorted(view.applications.items())
            if n not in bundle.applications and not a.dying
        ]
    changes: list[Change] = [
        *draft.charms.values(),
        *consume,
        *draft.applications,
        *draft.settings,
        *machine_changes,
        *unit_changes,
        *draft.unit_removals,
        *relation_adds,
        *draft.exposure,
        *draft.offers,
        *relation_removes,
        *app_removals,
    ]
    return Plan(
        model=view.name,
        revision=view.revision,
        cloud=view.cloud,
        changes=tuple(changes),
        warnings=tuple(draft.warnings),
    )


def _owned(url: str) -> str:
    """An offer URL with its owner: `MODEL.OFFER` is the admin's, as model names are."""
    return url if "/" in url or ":" in url else f"admin/{url}"


def substrate_problems(bundle: Bundle, view: ModelView) -> list[str]:
    """Why the bundle does not fit the model's type, each naming its place in the bundle: a
    Kubernetes bundle (`bundle: kubernetes`) goes to a k8s model and a machine bundle to a
    machine model; on a k8s model units have no machines and no placement."""
    if bundle.kind == "kubernetes" and view.type != "caas":
        return [
            f'bundle: "kubernetes" bundles deploy to k8s models; model "{view.name}" is a '
            f'machine model (cloud "{view.cloud}")'
        ]
    if view.type != "caas":
        return []
    problems = []
    if bundle.kind != "kubernetes":
        problems.append(
            f'bundle: model "{view.name}" is a k8s model: its bundle must say '
            '"bundle: kubernetes" (this one is a machine bundle)'
        )
    if bundle.machines:
        problems.append(
            f"machines: a k8s model has no machines (each unit runs in a pod); remove "
            f"machines {', '.join(sorted(bundle.machines, key=_machine_order))}"
        )
    for name, spec in sorted(bundle.applications.items()):
        if spec.to or spec.placement:
            problems.append(
                f"applications.{name}.to: units of a k8s model cannot be placed "
                "(node selectors are not supported yet)"
            )
    return problems


@dataclass
class _Draft:
    """The per-application changes found so far, by the phase they run in."""

    warnings: list[str] = field(default_factory=list)
    charms: dict[tuple[str, str], AddCharm] = field(default_factory=dict)
    applications: list[Change] = field(default_factory=list)
    settings: list[Change] = field(default_factory=list)
    unit_removals: list[Change] = field(default_factory=list)
    exposure: list[Change] = field(default_factory=list)
    offers: list[Change] = field(default_factory=list)
    pending: list[tuple[str, int, Placement]] = field(default_factory=list)
    """Units to add, placed once every application is known: (application, bundle index,
    placement)."""


def _plan_application(
    draft: _Draft,
    name: str,
    spec: ApplicationSpec,
    current: ApplicationView | None,
    resolved: ResolvedCharm,
    *,
    prune: bool,
) -> None:
    """One application's changes: deploy or reconfigure it, expose, offer and scale it."""
    constraints = _constraints(name, spec.constraints, draft.warnings)
    if current is None:
        _deploy(draft, name, spec, resolved, constraints)
        units: list[UnitView] = []
    elif current.dying:
        draft.warnings.append(
            f"applications.{name}: the application is being removed; apply again once it is gone"
        )
        return
    else:
        if current.charm != resolved.name:
            draft.applications.append(
                ChangeCharm(application=name, charm=resolved.name, previous=current.charm)
            )
        elif (refresh := _refresh(name, spec, current, resolved)) is not None:
            draft.applications.append(refresh)
        draft.settings += _settings(name, spec, current, constraints, prune=prune)
        units = current.sorted_units()
    draft.exposure += _exposure(name, spec, current, prune=prune)
    draft.offers += [
        AddOffer(application=name, offer=offer_name, endpoints=offer.endpoints)
        for offer_name, offer in sorted(spec.offers.items())
        if current is None or offer_name not in current.offers
    ]
    draft.warnings += [
        f"applications.{name}.offers.{offer_name}.acl: offer access in bundles is not "
        f"applied yet; give it with `rune grant USER LEVEL MODEL.{offer_name}`"
        for offer_name, offer in sorted(spec.offers.items())
        if offer.acl
    ]
    _scale(draft, name, spec, units, prune=prune)


def _origin(
    spec: ApplicationSpec, resolved: ResolvedCharm, *, charmhub: bool = False
) -> tuple[str | None, int | None]:
    """The Charmhub channel (in full) and revision the bundle asks of the application's
    charm; none for a charm taken as a local one (from disk or the controller's store),
    unless the application already follows Charmhub (`charmhub`)."""
    if spec.charm_ref.source != "charmhub" or (resolved.local and not charmhub):
        return None, None
    return (parse_channel(spec.channel) if spec.channel else None), spec.revision


def _refresh(
    name: str, spec: ApplicationSpec, current: ApplicationView, resolved: ResolvedCharm
) -> RefreshCharm | None:
    """A refresh when the bundle's channel or revision is not the application's origin
    (Juju compares the whole origin, not the name alone); what the bundle leaves out is
    not compared."""
    channel, revision = _origin(spec, resolved, charmhub=current.channel is not None)
    if (channel is None or channel == current.channel) and (
        revision is None or revision == current.revision
    ):
        return None
    return RefreshCharm(
        application=name,
        charm=resolved.name,
        channel=channel,
        revision=revision,
        previous_channel=current.channel,
        previous_revision=current.revision,
    )


def _deploy(
    draft: _Draft,
    name: str,
    spec: ApplicationSpec,
    resolved: ResolvedCharm,
    constraints: dict[str, Any],
) -> None:
    """Its charm (once per charm, however many applications use it) and the application."""
    channel, revision = _origin(spec, resolved)
    key = (resolved.name, resolved.path or resolved.sha256 or spec.charm)
    draft.charms.setdefault(
        key,
        AddCharm(
            charm=resolved.name,
            source=spec.charm,
            channel=spec.channel,
            path=resolved.path,
            sha256=resolved.sha256,
        ),
    )
    draft.applications.append(
        AddApplication(
            application=name,
            charm=resolved.name,
            options=dict(spec.options),
            constraints=constraints,
            storage={k: str(v) for k, v in spec.storage.items()},
            devices=dict(spec.devices),
            resources=dict(spec.resources),
            bindings=dict(spec.bindings),
            trust=spec.trust,
            channel=channel,
            revision=revision,
        )
    )


def _settings(
    name: str,
    spec: ApplicationSpec,
    current: ApplicationView,
    constraints: dict[str, Any],
    *,
    prune: bool,
) -> list[Change]:
    """The config, constraints and trust the bundle asks of a deployed application and the
    model does not hold; what the bundle leaves out is reset only with --prune."""
    changes: list[Change] = []
    values = {
        k: v
        for k, v in spec.options.items()
        if k not in current.config or not _same_value(current.config[k], v)
    }
    reset = tuple(sorted(set(current.config) - set(spec.options))) if prune else ()
    if values or reset:
        previous = {k: current.config[k] for k in (*values, *reset) if k in current.config}
        changes.append(SetConfig(application=name, values=values, reset=reset, previous=previous))
    if (spec.constraints or prune) and constraints != current.constraints:
        changes.append(
            SetConstraints(
                application=name, constraints=constraints, previous=dict(current.constraints)
            )
        )
    if spec.trust != current.trust and (spec.trust or prune):
        changes.append(SetTrust(application=name, trust=spec.trust))
    return changes


def _exposure(
    name: str, spec: ApplicationSpec, current: ApplicationView | None, *, prune: bool
) -> list[Change]:
    wants_exposed = bool(spec.expose or spec.exposed_endpoints)
    if wants_exposed and not (current and current.exposed):
        return [Expose(application=name, endpoints=tuple(sorted(spec.exposed_endpoints)))]
    if prune and not wants_exposed and current is not None and current.exposed:
        return [Unexpose(application=name)]
    return []


def _scale(
    draft: _Draft, name: str, spec: ApplicationSpec, units: list[UnitView], *, prune: bool
) -> None:
    """The units to add, or the extra ones to remove (with --prune) or warn about."""
    if len(units) < spec.num_units:
        placements = spec.unit_placements()
        draft.pending += [(name, i, placements[i]) for i in range(len(units), spec.num_units)]
    elif len(units) > spec.num_units:
        extra = units[spec.num_units :]
        if prune:
            draft.unit_removals += [RemoveUnit(unit=u.name) for u in reversed(extra)]
        else:
            draft.warnings.append(
                f"applications.{name}.num_units: the model has {len(units)} units, the "
                f"bundle {spec.num_units}; --prune removes " + ", ".join(u.name for u in extra)
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
