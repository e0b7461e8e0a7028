"""Offers, consumed offers (SAAS) and the relations that join two models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("application", sa.String(128), nullable=False),
        sa.Column("endpoints", sa.JSON, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_table(
        "saas",
        sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("offer_model_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("offer_name", sa.String(128), nullable=False),
        sa.Column("url", sa.String(300), nullable=False),
        sa.Column("endpoints", sa.JSON, nullable=False),
        sa.Column("token", sa.String(32), nullable=False, unique=True),
        sa.Column("life", sa.String(16), nullable=False, server_default="alive"),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_table(
        "cross_model_relations",
        sa.Column("model_uuid", sa.String(36), primary_key=True),
        sa.Column("relation_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("saas", sa.String(128), nullable=False),
        sa.Column("application", sa.String(128), nullable=False),
        sa.Column("offer_model_uuid", sa.String(36), nullable=False, index=True),
        sa.Column("offer_relation_id", sa.Integer, nullable=False),
        sa.Column("offer_name", sa.String(128), nullable=False),
        sa.Column("offer_application", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(128), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
    )
