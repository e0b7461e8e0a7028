"""Database faults the controller outlives, mapped at the store's edge to one error.

A full disk, a read-only database or a database server that went away is not a bug of the
request that met it: every such failure becomes `errors.UnavailableError` (HTTP 503) whose
message names the cause and the database, and the controller goes on serving what it can
(reads) until the resource is back, when writes resume with no restart. Anything else a
driver raises is left alone.

SQLite reports these as result codes (`sqlite_errorcode`, with the text as a fallback);
PostgreSQL as SQLSTATEs (class 53 insufficient resources, 25006 read-only transaction,
class 08 and 57P0x lost or refused connections, 58030 I/O error).
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext

from runecraft import errors

__all__ = ["database_error", "describe", "map_faults"]

WRITE = "the controller's database cannot be written"
REACH = "the controller's database is unreachable"

_SQLITE_CODES = {
    sqlite3.SQLITE_FULL: "disk full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_IOERR: "disk I/O error",
    sqlite3.SQLITE_CANTOPEN: "cannot open the database file",
}
_SQLITE_TEXTS = {
    "database or disk is full": "disk full",
    "attempt to write a readonly database": "read-only",
    "disk i/o error": "disk I/O error",
    "unable to open database file": "cannot open the database file",
}
_OS_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EIO: "disk I/O error",
}
_PG_STATES = {
    "53100": "disk full",
    "53200": "out of memory",
    "53300": "too many connections",
    "25006": "read-only",
    "58030": "disk I/O error",
}


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and what caused it, outermost first (drivers wrap one another)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _sqlite_cause(exc: sqlite3.Error) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_CODES:
        return _SQLITE_CODES[code & 0xFF]
    text = str(exc).lower()
    return next((cause for needle, cause in _SQLITE_TEXTS.items() if needle in text), None)


def _sqlstate(exc: BaseException) -> str | None:
    for attribute in ("sqlstate", "pgcode"):
        value = getattr(exc, attribute, None)
        if isinstance(value, str) and len(value) == 5:
            return value
    return None


def _classify(exc: BaseException, disconnect: bool) -> tuple[str, str] | None:
    """(which message, the cause) of a fault the controller outlives; None for others."""
    for link in _chain(exc):
        if isinstance(link, sqlite3.Error):
            cause = _sqlite_cause(link)
            if cause is not None:
                return WRITE, cause
        state = _sqlstate(link)
        if state in _PG_STATES:
            return WRITE, _PG_STATES[state]
        if state is not None and (state.startswith("08") or state.startswith("57P0")):
            return REACH, f"connection lost (SQLSTATE {state})"
        if isinstance(link, OSError) and link.errno in _OS_ERRNOS:
            return WRITE, _OS_ERRNOS[link.errno]
        if isinstance(link, OSError):  # refused, reset, timed out: the server is not there
            return REACH, link.strerror or str(link) or type(link).__name__
    if disconnect:
        return REACH, "connection lost"
    return None


def database_error(
    exc: BaseException, where: str, *, disconnect: bool = False
) -> errors.UnavailableError | None:
    """The error a driver's exception `exc` stands for, if it is a fault the controller
    outlives (see the module docstring); `where` names the database in the message and
    `disconnect` is the driver's own verdict that the connection is gone."""
    if not isinstance(exc, Exception):
        # A cancelled task (or an interrupt) is not a fault: mapping it would swallow the
        # cancellation, and a worker being stopped would retry forever instead.
        return None
    found = _classify(exc, disconnect)
    if found is None:
        return None
    what, cause = found
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return errors.UnavailableError(f"{what}: {cause} ({where}: {detail[:300]})")


def describe(url: sa.engine.URL) -> str:
    """The database as a message names it: a SQLite file's path, else the server and
    database name (never the password)."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()} at {host}{port}/{url.database or ''}"


def map_faults(engine: sa.engine.Engine) -> None:
    """Every statement, commit and connect of `engine` raises `UnavailableError` for a fault
    the controller outlives (a pool's liveness ping is left alone: it reconnects)."""
    where = describe(engine.url)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: sa.engine.Dialect, _: Any, cargs: Any, cparams: Any) -> Any:
        # A refused connection is the driver's OSError, which SQLAlchemy lets through.
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as exc:
            mapped = database_error(exc, where)
            if mapped is None:
                raise
            raise mapped from exc

    @event.listens_for(engine, "handle_error")
    def _map(ctx: ExceptionContext) -> None:
        if ctx.is_pre_ping:
            return
        mapped = database_error(ctx.original_exception, where, disconnect=ctx.is_disconnect)
        if mapped is not None:
            raise mapped from ctx.sqlalchemy_exception or ctx.original_exception
