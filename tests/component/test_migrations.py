"""The controller database's schema revisions, on SQLite and on a real PostgreSQL.

Databases are made at the first revision (or, for those made before migrations, with its
tables and no version), rows are put in them through that revision's tables, and they are
opened by this Runecraft: the rows must come through, and what cannot be done must be
refused before anything changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from runecraft import errors
from runecraft.controller.services import LogQuery
from runecraft.controller.state import Store, UserStore
from runecraft.controller.state import _tables as t
from runecraft.controller.state._logs import LogStore
from runecraft.controller.state._upgrade import migrate, missing_columns, scripts
from runecraft.controller.state.migrations import SCRIPT_LOCATION
from runecraft.controller.state.migrations.versions import v0001_first_schema as first

UUID = "00000000-0000-0000-0000-000000000001"
SHA = "a" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def _run(url: str, fn: Callable[[sa.Connection], Any]) -> Any:
    """`fn` on a connection of its own, committed."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _put_rows(conn: sa.Connection) -> None:
    """A model with an application, two units on a machine and a log line, as the first
    revision's tables hold them."""
    tables, now = first.schema().tables, time.time()
    conn.execute(
        sa.insert(tables["models"]).values(
            uuid=UUID, name="m1", cloud="local", config={"k": "v"}, created=now
        )
    )
    conn.execute(
        sa.insert(tables["charms"]).values(
            sha256=SHA,
            name="hello",
            meta={"name": "hello"},
            config={},
            actions={},
            size=3,
            created=now,
        )
    )
    conn.execute(sa.insert(tables["charm_blobs"]).values(sha256=SHA, data=b"zip"))
    conn.execute(
        sa.insert(tables["applications"]).values(
            id=1,
            model_uuid=UUID,
            name="hello",
            charm_sha256=SHA,
            config={"greeting": "hey"},
            created=now,
        )
    )
    conn.execute(
        sa.insert(tables["machines"]).values(
            model_uuid=UUID, number=0, agent="machine-0", status_since=now, created=now
        )
    )
    for number in range(2):
        conn.execute(
            sa.insert(tables["units"]).values(
                model_uuid=UUID,
                application_id=1,
                name=f"hello/{number}",
                number=number,
                machine_number=0,
                workload_since=now,
                agent_since=now,
                created=now,
            )
        )
    conn.execute(
        sa.insert(tables["log_entries"]).values(
            model_uuid=UUID,
            entity="unit-hello-0",
            unit="hello/0",
            application="hello",
            machine=0,
            at="2026-01-02 03:04:05",
            level="INFO",
            severity=20,
            module="juju-log",
            message="older",
        )
    )


async def _assert_rows_kept(store: Store) -> None:
    snapshot = await store.snapshot(UUID)
    (app,) = snapshot.applications
    assert (app.name, app.config, app.trust, app.constraints) == (
        "hello",
        {"greeting": "hey"},
        False,
        {},
    )
    # made before charm origins: a local charm (revision 0010)
    assert (app.origin_source, app.origin_name, app.origin_channel, app.origin_revision) == (
        "local",
        "",
        "",
        None,
    )
    assert sorted((u.name, u.machine_number) for u in snapshot.units) == [
        ("hello/0", 0),
        ("hello/1", 0),
    ]
    assert [m.number for m in snapshot.machines] == [0]
    assert (await store.model("m1")).config == {"k": "v"}
    (line,) = await LogStore(store).read(UUID, LogQuery(), after=0, last=None, limit=9)
    assert (line.entity, line.message) == ("unit-hello-0", "older")


def _revision(conn: sa.Connection) -> tuple[str, ...]:
    return MigrationContext.configure(conn).get_current_heads()


def _schema_differences(conn: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, t.metadata))


def _with_test_revisions() -> ScriptDirectory:
    """This Runecraft's revisions and two later ones from tests/component/revisions."""
    here = Path(__file__).parent / "revisions"
    return ScriptDirectory(SCRIPT_LOCATION, version_locations=[SCRIPT_LOCATION / "versions", here])


# --- the newest revision -------------------------------------------------------------------


async def test_an_empty_database_is_made_at_head_with_exactly_the_tables_of_the_code(
    db_url: str,
) -> None:
    """A table change without a revision that makes it fails here."""
    store = await Store.open(db_url)
    await store.close()
    assert await _run(db_url, _revision) == (scripts().get_current_head(),)
    assert await _run(db_url, _schema_differences) == []


async def test_opening_a_database_at_head_changes_nothing(db_url: str) -> None:
    store = await Store.open(db_url)
    await store.close()
    before = await _run(db_url, lambda conn: sorted(sa.inspect(conn).get_table_names()))
    store = await Store.open(db_url)
    await store.close()
    assert await _run(db_url, lambda conn: sorted(sa.inspect(conn).get_table_names())) == before
    assert await _run(db_url, _revision) == (scripts().get_current_head(),)


# --- upgrades ------------------------------------------------------------------------------


async def test_a_database_at_the_first_revision_is_upgraded_with_its_rows(db_url: str) -> None:
    await migrate(db_url, first.revision)
    assert await _run(db_url, _revision) == ("0001",)
    await _run(db_url, _put_rows)

    store = await Store.open(db_url)
    try:
        await _assert_rows_kept(store)
    finally:
        await store.close()
    assert await _run(db_url, _revision) == (scripts().get_current_head(),)
    assert await _run(db_url, _schema_differences) == []


async def test_a_later_revision_alters_tables_and_keeps_their_rows(db_url: str) -> None:
    """Batch mode on SQLite (a copied table), plain ALTER on PostgreSQL."""
    await migrate(db_url, first.revision)
    await _run(db_url, _put_rows)

    await migrate(db_url, "t0002", _with_test_revisions())

    def read(conn: sa.Connection) -> list[Any]:
        query = "SELECT name, note FROM applications"
        return [tuple(row) for row in conn.execute(sa.text(query))]

    assert await _run(db_url, read) == [("hello", "none")]
    units = await _run(
        db_url, lambda conn: conn.execute(sa.text("SELECT count(*) FROM units")).scalar()
    )
    assert units == 2
    assert await _run(db_url, _revision) == ("t0002",)


async def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(db_url: str) -> None:
    """The whole upgrade is one transaction, on SQLite as on PostgreSQL."""
    script = _with_test_revisions()
    await migrate(db_url, "t0002", script)
    await _run(db_url, _put_rows)

    def layout(conn: sa.Connection) -> tuple[Any, ...]:
        inspector = sa.inspect(conn)
        notes = conn.execute(sa.text("SELECT note FROM applications")).scalars().all()
        models = [c["name"] for c in inspector.get_columns("models")]
        return _revision(conn), sorted(inspector.get_table_names()), models, notes

    before = await _run(db_url, layout)
    with pytest.raises(errors.PermanentError, match=r'"t0002" to "head"'):
        await migrate(db_url, "head", script)
    assert await _run(db_url, layout) == before
    assert "cloud" in before[2]


# --- refusals ------------------------------------------------------------------------------


async def test_a_database_of_a_newer_runecraft_is_refused_before_anything_is_touched(
    db_url: str,
) -> None:
    await migrate(db_url, first.revision)
    await _run(db_url, _put_rows)
    await _run(db_url, lambda conn: conn.execute(sa.text("DROP TABLE log_cursors")))
    await _run(
        db_url,
        lambda conn: conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'")),
    )

    def everything(conn: sa.Connection) -> tuple[Any, ...]:
        inspector = sa.inspect(conn)
        names = sorted(inspector.get_table_names())
        rows = {
            name: sorted(map(repr, conn.execute(sa.text(f"SELECT * FROM {name}"))))
            for name in names
        }
        return names, rows

    before = await _run(db_url, everything)
    database = Path(db_url.split("///", 1)[1]) if db_url.startswith("sqlite") else None
    file_before = database.read_bytes() if database else b""

    with pytest.raises(errors.PermanentError, match=r'"0099".*newer Runecraft'):
        await Store.open(db_url)

    assert await _run(db_url, everything) == before  # log_cursors is still missing, too
    if database:
        assert database.read_bytes() == file_before


# --- databases made before migrations ------------------------------------------------------


async def _unversioned(url: str, *dropped: str) -> None:
    """A database as a Runecraft before migrations left it: the first revision's tables and
    rows, no version; without the `dropped` columns, as an even older one left it."""
    await migrate(url, first.revision)
    await _run(url, _put_rows)

    def make_older(conn: sa.Connection) -> None:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        conn.execute(sa.text("DROP TABLE status_history"))
        for column in dropped:
            table, name = column.split(".")
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {name}"))

    await _run(url, make_older)


async def test_an_unversioned_database_gains_new_tables_and_columns_and_keeps_its_rows(
    db_url: str,
) -> None:
    await _unversioned(
        db_url, "applications.trust", "applications.constraints", "log_entries.entity"
    )

    store = await Store.open(db_url)
    try:
        await _assert_rows_kept(store)
    finally:
        await store.close()
    assert await _run(db_url, lambda conn: missing_columns(conn, t.metadata)) == []
    assert await _run(db_url, _revision) == (scripts().get_current_head(),)
    assert await _run(db_url, _schema_differences) == []


async def test_an_upgrade_it_cannot_make_is_refused_before_changing_anything(
    db_url: str,
) -> None:
    await _unversioned(db_url, "applications.trust", "models.created")

    with pytest.raises(errors.PermanentError, match=r"new column models\.created has no default"):
        await Store.open(db_url)

    def state(conn: sa.Connection) -> tuple[Any, ...]:
        gaps = sorted(gap.name for gap in missing_columns(conn, first.schema()))
        tables = set(sa.inspect(conn).get_table_names())
        models = conn.execute(sa.text("SELECT name FROM models")).scalars().all()
        return gaps, "status_history" in tables, "alembic_version" in tables, models

    # Nothing was added, no table made, no version stamped.
    assert await _run(db_url, state) == (
        ["applications.trust", "models.created"],
        False,
        False,
        ["m1"],
    )


async def test_the_users_revision_makes_the_bootstrap_admin_and_keeps_models(
    db_url: str,
) -> None:
    """A database of revision 0002 gains users with `admin` a superuser; no one but a
    superuser has access to its existing models."""
    await migrate(db_url, "0002")
    await _run(db_url, _put_rows)
    store = await Store.open(db_url)
    try:
        users = await UserStore(store).users()
        assert [(u.name, u.access, u.disabled, u.password_hash) for u in users] == [
            ("admin", "superuser", False, None)
        ]
        assert await UserStore(store).accessible_models("admin") == {}
        await _assert_rows_kept(store)
    finally:
        await store.close()
