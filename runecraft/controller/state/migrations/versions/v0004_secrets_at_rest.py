"""Secret content sealed at rest, and the audit log of mutating API calls.

`secret_revisions.content` (plaintext JSON) becomes `key_id` + `sealed`: each stored revision
is sealed with the controller's secret keyring (`state/_keyring.py`), which lives in a file
outside the database and reaches this revision through the migration connection's `info`
(`_upgrade.KEYRING_INFO`). A database with plaintext content and no keyring given is refused
before anything changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from runecraft import errors
from runecraft.controller.state import _keyring

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

KEYRING_INFO = "runecraft.secret-keyring"
"""Where the migration connection's `info` carries the keyring."""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("principal", sa.String(200), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("route", sa.String(256), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("error", sa.String(64), nullable=False, default=""),
    )
    op.create_index("ix_audit_log_model_id", "audit_log", ["model", "id"])
    with op.batch_alter_table("secret_revisions") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("sealed", sa.LargeBinary, nullable=True))
    _seal_stored_content(op.get_bind())
    with op.batch_alter_table("secret_revisions") as batch:
        batch.drop_column("content")
        batch.alter_column("key_id", existing_type=sa.String(32), nullable=False)
        batch.alter_column("sealed", existing_type=sa.LargeBinary, nullable=False)


def _seal_stored_content(conn: sa.Connection) -> None:
    table = sa.table(
        "secret_revisions",
        sa.column("model_uuid", sa.String),
        sa.column("secret_id", sa.String),
        sa.column("revision", sa.Integer),
        sa.column("content", sa.JSON),
        sa.column("key_id", sa.String),
        sa.column("sealed", sa.LargeBinary),
    )
    rows = conn.execute(
        sa.select(table.c.model_uuid, table.c.secret_id, table.c.revision, table.c.content)
    ).all()
    if not rows:
        return
    keyring = conn.info.get(KEYRING_INFO)
    if not isinstance(keyring, _keyring.Keyring):
        raise errors.PermanentError(
            "the database holds secret content in plaintext and sealing it needs the "
            "controller's secret keyring, which was not given"
        )
    for row in rows:
        sealed = keyring.seal(
            row.content, _keyring.revision_context(row.model_uuid, row.secret_id, row.revision)
        )
        conn.execute(
            sa.update(table)
            .where(
                table.c.model_uuid == row.model_uuid,
                table.c.secret_id == row.secret_id,
                table.c.revision == row.revision,
            )
            .values(key_id=sealed.key_id, sealed=sealed.data)
        )
