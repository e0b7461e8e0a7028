"""Whether an application is exposed (Juju's `expose`/`unexpose`, `exposed` in status),
and whether a machine was added on its own (`add-machine` with no target: made and kept
while it hosts no unit, until removed)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column(
                "exposed", sa.Boolean, nullable=False, default=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table("machines") as batch:
        batch.add_column(
            sa.Column("kept", sa.Boolean, nullable=False, default=False, server_default=sa.false())
        )
