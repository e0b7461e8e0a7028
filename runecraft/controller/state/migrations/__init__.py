"""The controller database's schema revisions (Alembic), run by `state._upgrade` at start.

`versions/` holds one module per revision, each naming the one before it; there is no
alembic.ini and no env.py: the controller drives Alembic itself (see `_upgrade.migrate`).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SCRIPT_LOCATION"]

SCRIPT_LOCATION = Path(__file__).parent
