"""Bundles against a model: plan the changes a bundle asks for, and export a model as one.

Pure domain logic: `ModelView` is what a model holds (the controller builds it from the
model's rows), `plan` compares a `Bundle` with it and returns the ordered `Plan`,
`apply_view` is the plan's effect on a view, and `export` turns a view back into a bundle.
Reading bundles lives in `runecraft.schemas.bundle`; the controller plans and applies them
(controller.services), in one transaction.
"""

from __future__ import annotations

from runecraft.bundles import _changes, _view
from runecraft.bundles._changes import *  # noqa: F403  (the changes are the package's words)
from runecraft.bundles._export import export
from runecraft.bundles._plan import plan, substrate_problems
from runecraft.bundles._view import *  # noqa: F403

__all__ = ["export", "plan", "substrate_problems"]
__all__ += _changes.__all__
__all__ += _view.__all__
