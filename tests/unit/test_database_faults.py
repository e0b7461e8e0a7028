"""Database faults mapped at the store's edge: each driver's exception (SQLite result codes
and texts, PostgreSQL SQLSTATEs, lost connections) → our error and the HTTP status the API
answers it with; everything else is left to fail as it is."""

from __future__ import annotations

import asyncio
import errno
import sqlite3

import asyncpg.exceptions as pg
import pytest
import sqlalchemy as sa

from runecraft import errors
from runecraft.controller.api._app import status_of
from runecraft.controller.state import _faults

WRITE = "the controller's database cannot be written"
REACH = "the controller's database is unreachable"


def _sqlite(message: str, code: int | None = None) -> sqlite3.Error:
    exc = sqlite3.OperationalError(message)
    if code is not None:
        exc.sqlite_errorcode = code  # type: ignore[attr-defined]  # as the driver sets it
    return exc


def _wrapped(cause: BaseException) -> BaseException:
    """A driver adapter's error raised from the driver's own (SQLAlchemy's asyncpg one)."""
    try:
        raise RuntimeError("adapter error") from cause
    except RuntimeError as exc:
        return exc


FAULTS = [
    ("sqlite full (code)", _sqlite("database or disk is full", 13), f"{WRITE}: disk full"),
    ("sqlite full (text)", _sqlite("database or disk is full"), f"{WRITE}: disk full"),
    (
        "sqlite read-only",
        _sqlite("attempt to write a readonly database", 8),
        f"{WRITE}: read-only",
    ),
    (
        "sqlite read-only (extended code)",
        _sqlite("attempt to write a readonly database", 8 | (1 << 8)),
        f"{WRITE}: read-only",
    ),
    ("sqlite I/O error", _sqlite("disk I/O error", 10), f"{WRITE}: disk I/O error"),
    ("postgres disk full", pg.DiskFullError("could not extend file"), f"{WRITE}: disk full"),
    (
        "postgres read-only",
        pg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        f"{WRITE}: read-only",
    ),
    (
        "postgres read-only, wrapped",
        _wrapped(pg.ReadOnlySQLTransactionError("read-only")),
        f"{WRITE}: read-only",
    ),
    (
        "postgres out of memory",
        pg.OutOfMemoryError("out of memory"),
        f"{WRITE}: out of memory",
    ),
    (
        "postgres connection gone",
        pg.ConnectionDoesNotExistError("connection was closed"),
        f"{REACH}: connection lost (SQLSTATE 08003)",
    ),
    (
        "postgres shut down",
        pg.AdminShutdownError("terminating connection"),
        f"{REACH}: connection lost (SQLSTATE 57P01)",
    ),
    (
        "server refused",
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        f"{REACH}: Connection refused",
    ),
    ("no space (OSError)", OSError(errno.ENOSPC, "No space left on device"), f"{WRITE}: disk full"),
    (
        "read-only file system",
        OSError(errno.EROFS, "Read-only file system"),
        f"{WRITE}: read-only file system",
    ),
]


@pytest.mark.parametrize(("exc", "prefix"), [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_fault_the_controller_outlives_is_unavailable_503_naming_cause_and_database(
    exc: BaseException, prefix: str
) -> None:
    mapped = _faults.database_error(exc, "/var/lib/rc/state.db")
    assert isinstance(mapped, errors.UnavailableError)
    assert mapped.code == "unavailable"
    assert mapped.message.startswith(f"{prefix} (/var/lib/rc/state.db")
    assert status_of(mapped) == 503


OTHERS = [
    ("sqlite constraint", sqlite3.IntegrityError("UNIQUE constraint failed: models.name")),
    ("sqlite syntax", _sqlite('near "SELEKT": syntax error', 1)),
    ("postgres unique", pg.UniqueViolationError("duplicate key value")),
    ("a bug", ValueError("bad")),
]


@pytest.mark.parametrize("exc", [o[1] for o in OTHERS], ids=[o[0] for o in OTHERS])
def test_other_errors_are_not_mapped(exc: BaseException) -> None:
    assert _faults.database_error(exc, "db") is None


@pytest.mark.parametrize("exc", [asyncio.CancelledError(), KeyboardInterrupt()])
def test_a_cancellation_is_never_a_fault_even_when_the_driver_calls_it_a_disconnect(
    exc: BaseException,
) -> None:
    """SQLAlchemy reports a task cancelled mid-statement as a disconnect: mapping it would
    swallow the cancellation and keep a stopped worker retrying."""
    assert _faults.database_error(exc, "db", disconnect=True) is None


def test_a_connection_the_driver_calls_lost_is_unreachable() -> None:
    mapped = _faults.database_error(RuntimeError("closed"), "db", disconnect=True)
    assert mapped is not None
    assert mapped.message == f"{REACH}: connection lost (db: closed)"


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("sqlite+aiosqlite:////var/lib/rc/state.db", "/var/lib/rc/state.db"),
        ("postgresql+asyncpg://rc:secret@db.example:5433/rc", "postgresql at db.example:5433/rc"),
    ],
)
def test_the_database_is_named_without_its_password(url: str, named: str) -> None:
    assert _faults.describe(sa.engine.make_url(url)) == named


def test_other_temporary_errors_keep_their_status() -> None:
    assert status_of(errors.TemporaryError("later")) == 503
    assert status_of(errors.PermanentError("never")) == 500
