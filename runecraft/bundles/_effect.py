"""The pure model of execution: what a model looks like once every change of a plan ran.

The property tests use it to check that a second plan is empty; the controller runs the
same changes for real, in one transaction.
"""

from __future__ import annotations

from runecraft.bundles._changes import (
    AddApplication,
    AddOffer,
    AddRelation,
    AddUnit,
    Change,
    ChangeCharm,
    Consume,
    Expose,
    Plan,
    RemoveApplication,
    RemoveRelation,
    RemoveUnit,
    SetConfig,
    SetConstraints,
    SetTrust,
    Unexpose,
)
from runecraft.bundles._view import ApplicationView, ModelView, RelationView, UnitView

__all__ = ["apply_view"]

_Setting = SetConstraints | SetTrust | ChangeCharm | SetConfig | Expose | Unexpose | AddOffer
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
                )
            case (
                SetConstraints()
                | SetTrust()
                | ChangeCharm()
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
        case SetConfig():
            config = {k: v for k, v in app.config.items() if k not in change.reset}
            config.update(change.values)
            return app.model_copy(update={"config": config})
        case Expose() | Unexpose():
            return app.model_copy(update={"exposed": isinstance(change, Expose)})
        case AddOffer():
            return app.model_copy(update={"offers": (*app.offers, change.offer)})


def _relation_of(endpoints: tuple[str, str]) -> RelationView:
    """The relation an integrate call makes: an endpoint left out is named after the other
    application (the pure model has no charm metadata to infer it from)."""
    first, second = (e.partition(":") for e in endpoints)
    return RelationView.between(
        (first[0], first[2] or second[0]), (second[0], second[2] or first[0])
    )
