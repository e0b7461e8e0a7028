"""What a model holds, as far as a bundle can say anything about it.

`ModelView` is built by the controller from the model's rows, so the planner stays a pure
function of two values: the bundle and the view.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ApplicationView", "ModelView", "RelationView", "UnitView"]


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
    channel: str | None = None
    """For a Charmhub charm: the channel it follows (`latest/edge`)."""
    revision: int | None = None
    """For a Charmhub charm: its Charmhub revision."""
    config: dict[str, Any] = {}
    units: tuple[UnitView, ...] = ()
    constraints: dict[str, Any] = {}
    """Normalised as the controller stores them (sizes in MiB)."""
    trust: bool = False
    exposed: bool = False
    offers: dict[str, tuple[str, ...]] = {}
    """The application's offers by name, with their endpoints."""
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
    type: str = "iaas"
    """Juju's model type: "caas" for a model on Kubernetes (its units are pods)."""
    applications: dict[str, ApplicationView] = {}
    machines: tuple[str, ...] = ()
    relations: tuple[RelationView, ...] = ()
    saas: dict[str, str] = {}
    """Consumed offers by local name: their URL, `OWNER/MODEL.OFFER`."""

    def next_machine(self) -> str:
        numbers = [int(m) for m in self.machines if m.isdigit()]
        return str(max(numbers, default=-1) + 1)
