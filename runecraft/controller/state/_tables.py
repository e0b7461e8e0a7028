"""Table definitions (SQLAlchemy Core): the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

controller_info = sa.Table(
    "controller_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("cloud", sa.String(64), nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, default=0),
    sa.Column("next_machine", sa.Integer, nullable=False, default=0),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("created", sa.Float, nullable=False),
)

charms = sa.Table(
    "charms",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

charm_blobs = sa.Table(
    "charm_blobs",
    metadata,
    sa.Column("sha256", sa.String(64), sa.ForeignKey("charms.sha256"), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("charm_sha256", sa.String(64), sa.ForeignKey("charms.sha256"), nullable=False),
    sa.Column("charm_revision", sa.Integer, nullable=False, default=0),
    sa.Column("config", sa.JSON, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("next_unit", sa.Integer, nullable=False, default=0),
    sa.Column("leader", sa.String(160), nullable=True),
    sa.Column("lease_expiry", sa.Float, nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    sa.Column("status_message", sa.Text, nullable=False, default=""),
    sa.Column("status_since", sa.Float, nullable=True),
    sa.Column("status_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("model_uuid", "name"),
)

machines = sa.Table(
    "machines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("agent", sa.String(160), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("instance_id", sa.String(256), nullable=True),
    sa.Column("status", sa.String(32), nullable=False, default="pending"),
    sa.Column("status_message", sa.Text, nullable=False, default=""),
    sa.Column("status_since", sa.Float, nullable=False),
    sa.Column("hostname", sa.String(256), nullable=False, default=""),
    sa.Column("address", sa.String(64), nullable=False, default=""),
    sa.Column("retry_count", sa.Integer, nullable=False, default=0),
    sa.Column("retry_at", sa.Float, nullable=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("model_uuid", "number"),
)

units = sa.Table(
    "units",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), sa.ForeignKey("models.uuid"), nullable=False),
    sa.Column("application_id", sa.Integer, sa.ForeignKey("applications.id"), nullable=False),
    sa.Column("name", sa.String(160), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("machine_number", sa.Integer, nullable=True),
    sa.Column("life", sa.String(16), nullable=False, default="alive"),
    sa.Column("workload_status", sa.String(32), nullable=False, default="waiting"),
    sa.Column("workload_message", sa.Text, nullable=False, default="waiting for machine"),
    sa.Column("workload_since", sa.Float, nullable=False),
    sa.Column("agent_status", sa.String(32), nullable=False, default="allocating"),
    sa.Column("agent_message", sa.Text, nullable=False, default=""),
    sa.Column("agent_since", sa.Float, nullable=False),
    sa.Column("workload_version", sa.String(256), nullable=False, default=""),
    sa.Column("report_seq", sa.BigInteger, nullable=False, default=0),
    sa.Column("converged_hash", sa.String(64), nullable=False, default=""),
    sa.Column("snapshot_revision", sa.BigInteger, nullable=False, default=0),
    sa.Column("created", sa.Float, nullable=False),
    sa.UniqueConstraint("model_uuid", "name"),
)

changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model_uuid", sa.String(36), nullable=False, index=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("entity", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
