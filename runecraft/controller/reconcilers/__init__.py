"""Level-triggered reconcilers: pure planners per concern, one applier, one loop.

`_planners` and `_provisioning` decide (pure: lifecycle, assignment, leadership,
provisioning, dispatch); `_applier` performs their actions (database, providers, bus) and
returns outcomes; `_provisioner` makes machines in the background; `_runner` is the loop.
"""

from __future__ import annotations

from runecraft.controller.reconcilers._applier import Publisher
from runecraft.controller.reconcilers._plan import (
    config_hash,
    effective_config,
    machine_snapshots,
    plan_leaders,
)
from runecraft.controller.reconcilers._provisioning import backoff, provider_for, retry_after
from runecraft.controller.reconcilers._runner import Reconciler

__all__ = [
    "Publisher",
    "Reconciler",
    "backoff",
    "config_hash",
    "effective_config",
    "machine_snapshots",
    "plan_leaders",
    "provider_for",
    "retry_after",
]
