"""Forced removals, and the generation of each shipped log.

`units.force_removal` marks a unit removed with `--force` (a failing hook no longer holds
its removal), and `units.remove_after` is when the controller forgets it even if its agent
never reported its removal (Juju's max-wait); `log_cursors.generation` is the generation
of the log file the cursor's offset is in (it moves when an agent's log was rotated or
recreated).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(
            sa.Column(
                "force_removal",
                sa.Boolean,
                nullable=False,
                default=False,
                server_default=sa.false(),
            )
        )
        batch.add_column(sa.Column("remove_after", sa.Float, nullable=True))
    with op.batch_alter_table("log_cursors") as batch:
        batch.add_column(
            sa.Column("generation", sa.BigInteger, nullable=False, default=0, server_default="0")
        )
