"""Juju's offer ACLs: `offer_access` holds the access (read, consume, admin) a user was
given to one offer, beside what access to the offer's model gives."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "offer_access",
        sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
        sa.Column("offer", sa.String(128), primary_key=True),
        sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
        sa.Column("access", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("offer_access")
