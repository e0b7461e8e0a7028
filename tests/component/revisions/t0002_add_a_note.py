"""A later revision, for the upgrade tests: changes SQLite can only make by copying a table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=False, server_default="none"))
        batch.alter_column("status_message", existing_type=sa.Text, nullable=True)
    op.create_index("ix_units_machine_number", "units", ["model_uuid", "machine_number"])
