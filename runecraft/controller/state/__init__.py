"""Persistence: SQLAlchemy Core on SQLite (default) or PostgreSQL.

`Store.write()` opens a transaction, `Tx`: a unit of work whose narrow repositories
(`tx.units`, `tx.applications`, `tx.relations`, …) share its connection and change log.
Services declare, as Protocols, the part of a transaction they use.
"""

from __future__ import annotations

from runecraft.controller.state._records import (
    USER_GRANT,
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
    ResourceRecord,
    ScopeRecord,
    SecretConsumerRecord,
    SecretGrantRecord,
    SecretRecord,
    SecretRevisionRecord,
    SecretRows,
    StorageRecord,
    UnitRecord,
)
from runecraft.controller.state._relations import merge_settings
from runecraft.controller.state._store import ModelSnapshot, QueryCounter, Store, Tx

__all__ = [
    "USER_GRANT",
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
    "ResourceRecord",
    "ScopeRecord",
    "SecretConsumerRecord",
    "SecretGrantRecord",
    "SecretRecord",
    "SecretRevisionRecord",
    "SecretRows",
    "StorageRecord",
    "Store",
    "Tx",
    "UnitRecord",
    "merge_settings",
]
