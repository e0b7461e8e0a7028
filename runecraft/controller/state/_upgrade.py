"""Bringing the controller database to this Runecraft's schema revision, rows kept.

The schema is versioned with Alembic: one revision per change, in `migrations/versions/`.
At start, in one transaction on one connection:

- an empty database is made at the newest revision (head);
- one at an older revision is upgraded to head. PostgreSQL's DDL is transactional, and so is
  SQLite's once the driver stops managing transactions itself (`_engine`), so a failing
  upgrade leaves the database as it was;
- one made by a Runecraft before migrations (its tables, no version) is brought to the first
  revision by the additive pass below, stamped with it, then upgraded;
- one at a revision this Runecraft does not know, written by a newer one, is refused with an
  error naming the revision, before anything is changed.

The additive pass: before migrations the schema only grew, so an unversioned database lacks
at most tables (created) and columns, which are added and filled in existing rows with the
column's default. A column that cannot be added that way (in a primary key, or NOT NULL with
no default) is a clear error naming it, raised before anything is changed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
import structlog
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from runecraft import errors
from runecraft.controller.state import _keyring
from runecraft.controller.state.migrations import SCRIPT_LOCATION
from runecraft.controller.state.migrations.versions import v0001_first_schema as first
from runecraft.controller.state.migrations.versions.v0004_secrets_at_rest import KEYRING_INFO

__all__ = ["MissingColumn", "add_missing", "migrate", "missing_columns", "scripts"]

logger = structlog.get_logger(__name__)


@functools.cache
def scripts() -> ScriptDirectory:
    """This Runecraft's schema revisions."""
    return ScriptDirectory(SCRIPT_LOCATION)


async def migrate(
    url: str,
    target: str = "head",
    script: ScriptDirectory | None = None,
    keyring: _keyring.Keyring | None = None,
) -> None:
    """Bring the database at `url` to revision `target` (see the module docstring);
    `keyring` seals secret content a revision finds in plaintext."""
    engine = _engine(url)
    try:
        async with engine.begin() as conn:
            if keyring is not None:
                conn.info[KEYRING_INFO] = keyring
            await conn.run_sync(_migrate, target, script or scripts())
    except errors.RunecraftError:
        raise
    except Exception as exc:
        raise errors.TemporaryError(f"cannot open database {engine.url!r}: {exc}") from exc
    finally:
        await engine.dispose()


def _engine(url: str) -> AsyncEngine:
    """An engine for one upgrade; on SQLite its transactions cover DDL too.

    pysqlite begins a transaction only before DML, so DDL would run outside it: it is told
    to leave transactions alone and BEGIN IMMEDIATE is sent instead (the write lock for the
    whole upgrade). Foreign keys stay unenforced, as SQLite's batch mode (copy the table,
    drop the old one, rename) needs.
    """
    if not url.startswith("sqlite"):
        return create_async_engine(url, poolclass=NullPool)
    engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        # A copied table's old pages (plaintext secret content, before it is sealed) are
        # zeroed, not left in the free list.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _migrate(conn: sa.Connection, target: str, script: ScriptDirectory) -> None:
    # What `alembic upgrade` runs: the steps from the database's revision to `target`.
    context = MigrationContext.configure(
        conn, opts={"fn": lambda revision, _: script._upgrade_revs(target, revision)}
    )
    current = context.get_current_heads()
    _refuse_unknown(current, script)
    first_schema = first.schema()
    if not current and set(sa.inspect(conn).get_table_names()) & set(first_schema.tables):
        added = add_missing(context, first_schema)
        context.stamp(script, first.revision)
        logger.info("unversioned database brought to the first revision", added=added)
    was = ", ".join(context.get_current_heads()) or "none"
    try:
        with Operations.context(context):
            context.run_migrations()
    except Exception as exc:
        raise errors.PermanentError(
            f'cannot upgrade the database from schema revision "{was}" to "{target}", so it '
            f"is left as it was: {exc}"
        ) from exc
    now = context.get_current_heads()
    if now != current:
        logger.info("database schema upgraded", was=list(current), now=list(now))


def _refuse_unknown(current: tuple[str, ...], script: ScriptDirectory) -> None:
    """A revision this Runecraft lacks was written by a newer one: nothing can be assumed."""
    known = {revision.revision for revision in script.walk_revisions()}
    for revision in current:
        if revision not in known:
            raise errors.PermanentError(
                f'the database is at schema revision "{revision}", which this Runecraft does '
                "not know: a newer Runecraft wrote it (this one knows up to "
                f'"{script.get_current_head()}"); run that version, or restore a backup '
                "made with this one"
            )


@dataclass(frozen=True)
class MissingColumn:
    """A column of a schema that the database's table lacks."""

    table: sa.Table
    column: sa.Column[Any]

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"

    def fill(self) -> Any:
        """What existing rows get: the column's default (None for a nullable one)."""
        default = self.column.default
        if isinstance(default, ScalarElementColumnDefault):
            return default.arg
        if isinstance(default, CallableColumnDefault):
            return default.arg(cast(Any, None))  # dict/list are wrapped as `lambda ctx: dict()`
        if self.column.nullable and not self.column.primary_key:
            return None
        raise errors.PermanentError(
            f"cannot upgrade the database: new column {self.name} has no default for the "
            "rows already stored; restore a backup with the Runecraft version that made it"
        )


def missing_columns(conn: sa.Connection, schema: sa.MetaData) -> list[MissingColumn]:
    """Columns of existing tables that `schema` has and the database does not."""
    inspector = sa.inspect(conn)
    present_tables = set(inspector.get_table_names())
    missing: list[MissingColumn] = []
    for table in schema.sorted_tables:
        if table.name not in present_tables:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing.extend(
            MissingColumn(table, column) for column in table.columns if column.name not in present
        )
    return missing


def add_missing(context: MigrationContext, schema: sa.MetaData) -> list[str]:
    """Create `schema`'s missing tables and add its missing columns; returns the columns.

    A column is added nullable, filled, then made NOT NULL if it is: on SQLite in batch
    mode, which copies the table, as SQLite cannot alter a column in place.
    """
    conn = context.connection
    assert conn is not None
    missing = missing_columns(conn, schema)
    for gap in missing:
        if gap.column.primary_key:
            raise errors.PermanentError(
                f"cannot upgrade the database: new key column {gap.name} cannot be added to "
                "rows already stored; restore a backup with the Runecraft version that made it"
            )
    fills = [(gap, gap.fill()) for gap in missing]  # every refusal before any change
    schema.create_all(conn)
    ops = Operations(context)
    for gap, value in fills:
        ops.add_column(gap.table.name, sa.Column(gap.column.name, gap.column.type))
        if value is not None:
            conn.execute(sa.update(gap.table).values({gap.column.name: value}))
    for table in schema.sorted_tables:
        tighten = [gap.column for gap in missing if gap.table is table and not gap.column.nullable]
        if tighten:
            with ops.batch_alter_table(table.name) as batch:
                for column in tighten:
                    batch.alter_column(column.name, existing_type=column.type, nullable=False)
    return [gap.name for gap in missing]
