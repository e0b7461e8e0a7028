"""Clouds an operator adds (`rune add-k8s`), and each model's type (iaas or caas)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clouds",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("endpoint", sa.Text, nullable=False, default=""),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    with op.batch_alter_table("models") as batch:
        batch.add_column(
            sa.Column("type", sa.String(8), nullable=False, default="iaas", server_default="iaas")
        )
