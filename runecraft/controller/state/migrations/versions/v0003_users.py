"""Users, their access to the controller and to models, and the API tokens issued to them.

The bootstrap user `admin` (a superuser) is made here, so every database, new or upgraded,
has it; the controller's `admin_token` authenticates as it.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    users = op.create_table(
        "users",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(256), nullable=False, default=""),
        # scrypt hash (`scrypt$n$r$p$salt$digest`); null: the user cannot log in yet.
        sa.Column("password_hash", sa.Text, nullable=True),
        # Controller access: "login", "add-model" or "superuser".
        sa.Column("access", sa.String(16), nullable=False, default="login"),
        sa.Column("disabled", sa.Boolean, nullable=False, default=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("last_login", sa.Float, nullable=True),
    )
    op.create_table(
        "model_access",
        sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
        sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), primary_key=True),
        # "read", "write" or "admin".
        sa.Column("access", sa.String(8), nullable=False),
    )
    op.create_table(
        "user_tokens",
        # sha256 of the token: the token itself is never stored.
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user", sa.String(64), sa.ForeignKey("users.name"), nullable=False, index=True),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("revoked", sa.Float, nullable=True),
    )
    op.bulk_insert(
        users,
        [
            {
                "name": "admin",
                "display_name": "admin",
                "password_hash": None,
                "access": "superuser",
                "disabled": False,
                "created": time.time(),
                "last_login": None,
            }
        ],
    )
