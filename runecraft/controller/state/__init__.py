"""Persistence: SQLAlchemy Core on SQLite (default) or PostgreSQL."""

from __future__ import annotations

from runecraft.controller.state._records import (
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
    ScopeRecord,
    UnitRecord,
)
from runecraft.controller.state._relation_tx import merge_settings
from runecraft.controller.state._store import ModelSnapshot, QueryCounter, Store, Tx

__all__ = [
    "ActionRecord",
    "ApplicationRecord",
    "CharmRecord",
    "DatabagRecord",
    "EndpointRecord",
    "MachineRecord",
    "ModelRecord",
    "ModelSnapshot",
    "QueryCounter",
    "RelationRecord",
    "ScopeRecord",
    "Store",
    "Tx",
    "UnitRecord",
    "merge_settings",
]
