"""Where an application's charm came from (Juju's charm origin): `origin_source` is
"charmhub" for a charm fetched from Charmhub (with its Charmhub name, the channel it
follows in full `track/risk[/branch]` form and its Charmhub revision) or "local" for a
charm uploaded from disk, as every application made before this revision was.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.add_column(
            sa.Column("origin_source", sa.String(16), nullable=False, server_default="local")
        )
        batch.add_column(
            sa.Column("origin_name", sa.String(128), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("origin_channel", sa.String(128), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("origin_revision", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        for column in ("origin_revision", "origin_channel", "origin_name", "origin_source"):
            batch.drop_column(column)
