"""What the planners see (`ModelState`) and what they ask for (actions), as frozen values.

The planners are pure functions `plan(state, now) -> list[Action]`; the applier performs the
actions and returns an `Outcome` for each. An action carries the records it was planned
from, so the applier writes exactly what was decided.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runecraft.controller.providers import InstanceInfo
from runecraft.controller.reconcilers._plan import ALWAYS_REACHABLE, AgentReach, RelationState
from runecraft.controller.state import (
    ApplicationRecord,
    MachineRecord,
    ModelRecord,
    ModelSnapshot,
    RelationRecord,
    UnitRecord,
)
from runecraft.schemas import bus

__all__ = [
    "Action",
    "AddSubordinates",
    "AssignMachine",
    "ChangeLeader",
    "DeleteApplication",
    "DeleteModel",
    "DeleteRelations",
    "ForgetUnit",
    "KillApplication",
    "KillRelation",
    "KillUnit",
    "ModelState",
    "Outcome",
    "Provision",
    "Publish",
    "Release",
    "WriteAction",
]


@dataclass(frozen=True, kw_only=True)
class ModelState:
    """One model as the planners see it: its stored rows (desired state and what was last
    observed) plus what the controller observes of the substrate right now."""

    model: ModelRecord
    applications: Sequence[ApplicationRecord] = ()
    units: Sequence[UnitRecord] = ()
    machines: Sequence[MachineRecord] = ()
    relations: RelationState = field(default_factory=RelationState)
    running: frozenset[int] = frozenset()
    """Machines whose agent the provider reports up (asked only for machines that may
    need making; see `_provisioning.liveness_checks`)."""
    in_flight: frozenset[int] = frozenset()
    """Machines being made by a background task now."""
    reach: AgentReach = ALWAYS_REACHABLE
    """Whether the controller's bus reaches the agents (leases run only while it does)."""
    subordinates: frozenset[str] = frozenset()
    """The applications whose charm is subordinate."""

    @classmethod
    def of(
        cls,
        snapshot: ModelSnapshot,
        in_flight: frozenset[int] = frozenset(),
        reach: AgentReach = ALWAYS_REACHABLE,
    ) -> ModelState:
        """The state of the one model in `snapshot`."""
        (model,) = snapshot.models
        return cls(
            model=model,
            applications=tuple(snapshot.applications),
            units=tuple(snapshot.units),
            machines=tuple(snapshot.machines),
            relations=RelationState(
                snapshot.relations, snapshot.endpoints, snapshot.scopes, snapshot.databags
            ),
            in_flight=in_flight,
            reach=reach,
            subordinates=frozenset(
                a.name
                for a in snapshot.applications
                if a.charm_sha256 in snapshot.charms
                and snapshot.charms[a.charm_sha256].meta.get("subordinate") is True
            ),
        )

    @property
    def dying(self) -> bool:
        return self.model.life == "dying"


# --- lifecycle ------------------------------------------------------------------------


@dataclass(frozen=True)
class KillApplication:
    """The model is dying: so is this application."""

    app: ApplicationRecord


@dataclass(frozen=True)
class KillRelation:
    """One of the relation's applications is dying: so is the relation."""

    relation: RelationRecord


@dataclass(frozen=True)
class KillUnit:
    """The unit's application is dying: so is the unit (or its principal unit, or the
    relation joining it to its principal: so is the subordinate unit)."""

    unit: UnitRecord
    remove_after: float | None = None
    """Its principal unit was removed with `--force`: so is it, forgotten then at the
    latest."""


@dataclass(frozen=True)
class ForgetUnit:
    """A unit removed with `--force` whose agent did not report its removal in time is
    forgotten all the same (Juju's forced-removal cleanup)."""

    unit: UnitRecord


@dataclass(frozen=True)
class DeleteRelations:
    """Dying relations nobody is in scope of any more."""

    ids: tuple[int, ...]


@dataclass(frozen=True)
class DeleteApplication:
    """A dying application with no unit left goes, with its peer relations."""

    app: ApplicationRecord
    relation_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class AddSubordinates:
    """Principal units without their unit of a subordinate application each get one,
    on their machine."""

    app: ApplicationRecord
    principals: tuple[UnitRecord, ...]


# --- assignment, leadership -----------------------------------------------------------


@dataclass(frozen=True)
class AssignMachine:
    """A unit without a machine gets a new one."""

    unit: UnitRecord


@dataclass(frozen=True)
class ChangeLeader:
    """The application's leader becomes `leader` (None: nobody) with a fresh lease."""

    app: ApplicationRecord
    leader: str | None
    moved: bool = False
    """Leadership passed between two units: the leader settings version moves too."""


# --- machines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Provision:
    """Make (or remake) the machine and start its agent with a fresh credential."""

    machine: MachineRecord
    provider: str
    constraints: Mapping[str, Any] = field(default_factory=dict)
    units: tuple[str, ...] = ()
    """The units on the machine (a Kubernetes pod's agent runs its one unit)."""


@dataclass(frozen=True)
class Release:
    """Remove an empty machine from its substrate, then forget it."""

    machine: MachineRecord
    provider: str


@dataclass(frozen=True)
class DeleteModel:
    """A dying model with nothing left in it is forgotten."""

    model: ModelRecord


# --- dispatch -------------------------------------------------------------------------


@dataclass(frozen=True)
class Publish:
    """Send a machine's agent the desired state of its units."""

    agent: str
    snapshot: bus.MachineSnapshot
    digest: str


WriteAction = (
    KillApplication
    | KillRelation
    | KillUnit
    | ForgetUnit
    | AddSubordinates
    | DeleteRelations
    | DeleteApplication
    | AssignMachine
    | ChangeLeader
)
"""Actions that are database writes only (applied together in one transaction)."""

Action = WriteAction | Provision | Release | DeleteModel | Publish


@dataclass(frozen=True)
class Outcome:
    """How an action went: done, or failed with the substrate's message (and, for a
    machine, when it is tried again)."""

    action: Action
    ok: bool = True
    message: str = ""
    retry_at: float | None = None
    instance: InstanceInfo | None = None
    """What the provider reports of a machine it made."""
