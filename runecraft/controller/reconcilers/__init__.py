"""Level-triggered reconcilers: assignment, leadership, provisioning, dispatch."""

from __future__ import annotations

from runecraft.controller.reconcilers._plan import (
    config_hash,
    effective_config,
    machine_snapshots,
    plan_leaders,
)
from runecraft.controller.reconcilers._runner import Publisher, Reconciler, backoff

__all__ = [
    "Publisher",
    "Reconciler",
    "backoff",
    "config_hash",
    "effective_config",
    "machine_snapshots",
    "plan_leaders",
]
