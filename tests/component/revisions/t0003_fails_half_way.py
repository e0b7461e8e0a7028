"""A later revision that fails after changing the schema: the upgrade must leave nothing."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_way", sa.Column("id", sa.Integer, primary_key=True))
    with op.batch_alter_table("models") as batch:
        batch.drop_column("cloud")
    op.execute(sa.text("UPDATE applications SET note = 'changed'"))
    op.execute(sa.text("UPDATE applications SET half_way_missing = 1"))  # no such column
