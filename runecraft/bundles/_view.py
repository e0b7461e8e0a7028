"""What a model holds, as far as a bundle can say anything about it.

`ModelView` is built from the controller's Juju-shaped status, each application's config
document and its relations (`from_documents`), so the planner stays a pure function of
two values: the bundle and the view.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ApplicationView", "ModelView", "RelationView", "UnitView", "from_documents"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitView(_Frozen):
    """An alive unit and the model machine it runs on (None until one is assigned), and
    that machine's container type (`lxd`) when it is a container on the host."""

    name: str
    machine: str | None = None
    container: str | None = None

    @property
    def number(self) -> int:
        return int(self.name.rpartition("/")[2])


class ApplicationView(_Frozen):
    """An application: its charm name, the config the operator set, its alive units."""

    charm: str
    config: dict[str, Any] = {}
    units: tuple[UnitView, ...] = ()
    constraints: dict[str, Any] = {}
    """Normalised as the controller stores them (sizes in MiB)."""
    trust: bool = False
    exposed: bool = False
    offers: tuple[str, ...] = ()
    dying: bool = False

    def sorted_units(self) -> list[UnitView]:
        return sorted(self.units, key=lambda u: u.number)


class RelationView(_Frozen):
    """A non-peer relation as two `(application, endpoint)` pairs in sorted order."""

    endpoints: tuple[tuple[str, str], tuple[str, str]]

    @classmethod
    def between(cls, first: tuple[str, str], second: tuple[str, str]) -> RelationView:
        a, b = sorted((first, second))
        return cls(endpoints=(a, b))

    def __str__(self) -> str:
        return " ".join(f"{app}:{endpoint}" for app, endpoint in self.endpoints)


class ModelView(_Frozen):
    """The model as the planner sees it; `revision` moves with every change to the model."""

    name: str = "default"
    revision: int = 0
    cloud: str = "local"
    applications: dict[str, ApplicationView] = {}
    machines: tuple[str, ...] = ()
    relations: tuple[RelationView, ...] = ()
    saas: dict[str, str] = {}
    """Consumed offers by local name (the controller has none yet)."""

    def next_machine(self) -> str:
        numbers = [int(m) for m in self.machines if m.isdigit()]
        return str(max(numbers, default=-1) + 1)


def from_documents(
    status: Mapping[str, Any],
    configs: Mapping[str, Mapping[str, Any]],
    relations: Iterable[Mapping[str, Any]],
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> ModelView:
    """The view of a model from `status --format json`, `config --format json` and the
    settings document (constraints, trust) per application, and the relations list of the
    API (peer and dying relations left out)."""
    applications: dict[str, ApplicationView] = {}
    machines = status.get("machines", {})
    for name, doc in status.get("applications", {}).items():
        units = tuple(
            UnitView(
                name=unit,
                machine=udoc.get("machine"),
                container=machines.get(udoc.get("machine"), {}).get("container-type"),
            )
            for unit, udoc in doc.get("units", {}).items()
            if not udoc.get("life")
        )
        options = configs.get(name, {}).get("settings", {})
        config = {
            key: option["value"]
            for key, option in options.items()
            if option.get("source") == "user" and "value" in option
        }
        extra = (settings or {}).get(name, {})
        applications[name] = ApplicationView(
            charm=str(doc.get("charm-name", "")),
            config=config,
            constraints=dict(extra.get("constraints") or {}),
            trust=bool(extra.get("trust", False)),
            units=units,
            exposed=bool(doc.get("exposed", False)),
            dying=bool(doc.get("life")),
        )
    found: set[RelationView] = set()
    for relation in relations:
        endpoints = relation.get("endpoints", [])
        if len(endpoints) != 2 or relation.get("life", "alive") != "alive":
            continue
        first, second = ((str(e["application"]), str(e["endpoint"])) for e in endpoints)
        found.add(RelationView.between(first, second))
    model = status.get("model", {})
    return ModelView(
        name=str(model.get("name", "default")),
        revision=int(model.get("revision", 0)),
        cloud=str(model.get("cloud", "local")),
        applications=applications,
        machines=tuple(sorted(status.get("machines", {}), key=_machine_key)),
        relations=tuple(sorted(found, key=lambda r: r.endpoints)),
    )


def _machine_key(machine: str) -> tuple[int, str]:
    return (int(machine), "") if machine.isdigit() else (1 << 62, machine)
