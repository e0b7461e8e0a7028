"""Hook runs: the record of each hook a unit agent ran (`rune hooks`, `show-hook`)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hook_runs",
        sa.Column("model_uuid", sa.String(36), primary_key=True),
        sa.Column("unit", sa.String(160), primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hook", sa.String(256), nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("cause", sa.JSON, nullable=False),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("tool_calls", sa.JSON, nullable=False),
        sa.Column("tool_calls_dropped", sa.Integer, nullable=False, server_default="0"),
    )
