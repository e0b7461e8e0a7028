"""Bringing a database made by an older Runecraft up to this version's schema, rows kept.

Between versions the schema only grows: new tables (`create_all` makes them) and new
columns, which are added here and filled in existing rows with the column's default. A
column that cannot be added that way (in a primary key, or NOT NULL with no default) is a
clear error naming it, raised before anything is changed: an old database is never left
half-upgraded, and nothing stored in it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
import structlog
from sqlalchemy.sql.schema import CallableColumnDefault, ScalarElementColumnDefault

from runecraft import errors
from runecraft.controller.state import _tables as t

__all__ = ["MissingColumn", "missing_columns", "upgrade"]

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MissingColumn:
    """A column of this version's schema that the database's table lacks."""

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


def missing_columns(conn: sa.Connection) -> list[MissingColumn]:
    """Columns of existing tables that this version has and the database does not."""
    inspector = sa.inspect(conn)
    present_tables = set(inspector.get_table_names())
    missing: list[MissingColumn] = []
    for table in t.metadata.sorted_tables:
        if table.name not in present_tables:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing.extend(
            MissingColumn(table, column) for column in table.columns if column.name not in present
        )
    return missing


def upgrade(conn: sa.Connection) -> list[str]:
    """Add the missing columns (in the caller's transaction); returns their names."""
    missing = missing_columns(conn)
    for gap in missing:
        if gap.column.primary_key:
            raise errors.PermanentError(
                f"cannot upgrade the database: new key column {gap.name} cannot be added to "
                "rows already stored; restore a backup with the Runecraft version that made it"
            )
    fills = [(gap, gap.fill()) for gap in missing]  # every refusal before any change
    quote = conn.dialect.identifier_preparer.quote
    for gap, value in fills:
        kind = gap.column.type.compile(dialect=conn.dialect)
        table, column = quote(gap.table.name), quote(gap.column.name)
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
        if value is not None:
            conn.execute(sa.update(gap.table).values({gap.column.name: value}))
        if not gap.column.nullable and conn.dialect.name == "postgresql":
            # SQLite cannot tighten a column; the rows are filled and writes always set it.
            conn.execute(sa.text(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL"))
    if fills:
        logger.info("database upgraded", added=[gap.name for gap, _ in fills])
    return [gap.name for gap, _ in fills]
