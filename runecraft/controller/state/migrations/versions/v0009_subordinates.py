"""Subordinate units: `units.principal` names the principal unit a subordinate unit runs
beside (null for a principal unit), so it follows that unit and sees only it over their
container-scoped relation.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("principal", sa.String(160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("principal")
