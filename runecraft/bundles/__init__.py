"""Bundles against a model: plan the changes a bundle asks for, and export a model as one.

Pure domain logic: `ModelView` is what a model holds (the controller builds it from the
model's rows), `plan` compares a `Bundle` with it and returns the ordered `Plan`,
`apply_view` is the plan's effect on a view, and `export` turns a view back into a bundle.
Reading bundles lives in `runecraft.schemas.bundle`; the controller plans and applies them
(controller.services), in one transaction.
"""

from __future__ import annotations

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
    RemoveApplication,
    RemoveRelation,
    RemoveUnit,
    ResolvedCharm,
    SetConfig,
    SetConstraints,
    SetTrust,
    Unexpose,
    apply_view,
    describe,
    unsupported,
)
from runecraft.bundles._export import export
from runecraft.bundles._plan import plan
from runecraft.bundles._view import (
    ApplicationView,
    ModelView,
    RelationView,
    UnitView,
)

__all__ = [
    "AddApplication",
    "AddCharm",
    "AddMachine",
    "AddOffer",
    "AddRelation",
    "AddUnit",
    "ApplicationView",
    "Change",
    "ChangeCharm",
    "Consume",
    "Expose",
    "ModelView",
    "Plan",
    "RelationView",
    "RemoveApplication",
    "RemoveRelation",
    "RemoveUnit",
    "ResolvedCharm",
    "SetConfig",
    "SetConstraints",
    "SetTrust",
    "Unexpose",
    "UnitView",
    "apply_view",
    "describe",
    "export",
    "plan",
    "unsupported",
]
