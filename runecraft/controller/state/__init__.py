"""Persistence: SQLAlchemy Core on SQLite (default) or PostgreSQL."""

from __future__ import annotations

from runecraft.controller.state._records import (
    ApplicationRecord,
    CharmRecord,
    MachineRecord,
    ModelRecord,
    UnitRecord,
)
from runecraft.controller.state._store import ModelSnapshot, QueryCounter, Store, Tx

__all__ = [
    "ApplicationRecord",
    "CharmRecord",
    "MachineRecord",
    "ModelRecord",
    "ModelSnapshot",
    "QueryCounter",
    "Store",
    "Tx",
    "UnitRecord",
]
