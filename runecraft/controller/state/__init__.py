"""Persistence: SQLAlchemy Core on SQLite (default) or PostgreSQL.

`Store.write()` opens a transaction, `Tx`: a unit of work whose narrow repositories
(`tx.units`, `tx.applications`, `tx.relations`, …) share its connection and change log.
Services declare, as Protocols, the part of a transaction they use.
"""

from __future__ import annotations

from runecraft.controller.state import _records
from runecraft.controller.state._keyring import KEY_FILE, Keyring
from runecraft.controller.state._records import *  # noqa: F403 (every record; see __all__)
from runecraft.controller.state._snapshot import collections_paused
from runecraft.controller.state._store import ModelSnapshot, QueryCounter, Store, Tx
from runecraft.controller.state._users import TokenRecord, UserRecord, UserStore

__all__ = [
    "KEY_FILE",
    "Keyring",
    "ModelSnapshot",
    "QueryCounter",
    "Store",
    "TokenRecord",
    "Tx",
    "UserRecord",
    "UserStore",
    "collections_paused",
]
__all__ += _records.__all__
