"""The controller's database: the only truth.

One `Store` per process. Reads are plain queries; writes go through `Store.write()`, one
transaction that bumps the model revision and appends a change-log row, so a reader can
tell by revision whether the model moved. SQLite has one writer: writes are serialised
in-process (WAL lets readers go on); PostgreSQL serialises them with a row lock on the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from runecraft import errors
from runecraft.controller.state import _faults, _keyring, _upgrade
from runecraft.controller.state import _tables as t
from runecraft.controller.state._actions import Actions
from runecraft.controller.state._applications import Applications, Charms
from runecraft.controller.state._base import CHARM_COLUMNS, Session, record
from runecraft.controller.state._hooks import HookRuns
from runecraft.controller.state._machines import Machines
from runecraft.controller.state._models import Models, StatusHistory
from runecraft.controller.state._offers import Offers
from runecraft.controller.state._records import (
    ActionRecord,
    CharmRecord,
    CloudRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
)
from runecraft.controller.state._relations import Relations
from runecraft.controller.state._resources import Resources, read_resource_blob
from runecraft.controller.state._secrets import Secrets
from runecraft.controller.state._snapshot import (
    KeptSnapshots,
    ModelSnapshot,
    StatusUnits,
    TableWrites,
    read_snapshot,
    read_status_snapshot,
)
from runecraft.controller.state._storage import Storage
from runecraft.controller.state._units import Units

__all__ = ["ModelSnapshot", "QueryCounter", "Store", "Tx"]

logger = structlog.get_logger(__name__)


class QueryCounter:
    """Counts SQL statements run through a store (used to assert constant-query reads)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: object) -> None:
        self.count += 1


class Tx:
    """One write transaction: the unit of work whose repositories share one connection and
    one change log (`Store.write`)."""

    def __init__(
        self, conn: AsyncConnection, model: ModelRecord | None, keyring: _keyring.Keyring
    ) -> None:
        self._session = session = Session(conn, model)
        self._keyring = keyring
        self.conn = conn
        self.model = model
        self.models = Models(session)
        self.history = StatusHistory(session)
        self.charms = Charms(session)
        self.secrets = Secrets(session, keyring)
        self.storage = Storage(session)
        self.resources = Resources(session)
        self.relations = Relations(session)
        self.offers = Offers(session)
        self.actions = Actions(session)
        self.machines = Machines(session)
        self.hook_runs = HookRuns(session)
        self.applications = Applications(
            session,
            secrets=self.secrets,
            storage=self.storage,
            resources=self.resources,
            history=self.history,
        )
        self.units = Units(
            session,
            relations=self.relations,
            secrets=self.secrets,
            storage=self.storage,
            actions=self.actions,
            history=self.history,
        )

    def changed(self, entity: str, kind: str, model_uuid: str | None = None) -> None:
        """Record a change for the change log (written at commit); it moves the revision of
        `model_uuid` (default: the transaction's model)."""
        self._session.changed(entity, kind, model_uuid)

    @property
    def changes(self) -> list[tuple[str, str, str]]:
        """The changes recorded so far: (model uuid, entity, kind)."""
        return self._session.changes

    async def model_named(self, name: str) -> ModelRecord:
        """Another model, read in this transaction (an offer's, for its consumers)."""
        row = (await self.conn.execute(sa.select(t.models).where(t.models.c.name == name))).first()
        if row is None:
            raise errors.NotFoundError(f'model "{name}" not found')
        return record(ModelRecord, row)

    async def snapshot(self) -> ModelSnapshot:
        """The transaction's model read whole, as this transaction sees it."""
        return await read_snapshot(self.conn, self._keyring, self._session.model_uuid)

    async def finish(self) -> dict[str, int]:
        """Move the revision of every model changed, once; returns the new revisions."""
        return await self._session.finish()


def _default_keyring(url: str) -> _keyring.Keyring:
    database = sa.engine.make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        return _keyring.Keyring.load_or_create(Path(database).parent / _keyring.KEY_FILE)
    return _keyring.Keyring.ephemeral()


class Store:
    """Async access to the controller database (SQLite or PostgreSQL).

    A full disk, a read-only database or a lost server raises `errors.UnavailableError`
    from any read or write (`_faults`); the store stays usable and resumes with the
    resource."""

    def __init__(self, engine: AsyncEngine, keyring: _keyring.Keyring | None = None) -> None:
        _faults.map_faults(engine.sync_engine)
        self.engine = engine
        self.keyring = keyring or _keyring.Keyring.ephemeral()
        self._write_lock = asyncio.Lock()
        self._committed: list[Callable[[Sequence[tuple[str, str, str]]], None]] = []
        self.dialect = engine.dialect.name
        self._status_units: dict[str, StatusUnits] = {}
        self.commits = 0
        """Write transactions committed through this store: what was read before it moved
        is still current (the controller is the database's only writer)."""
        self.table_writes = TableWrites()
        self._writing: set[str | None] | None = None
        """The tables the write transaction under way wrote so far."""
        event.listen(engine.sync_engine, "after_execute", self._saw_statement)

    @classmethod
    async def open(cls, url: str, keyring: _keyring.Keyring | None = None) -> Store:
        """Connect, after creating the schema or bringing an older one to this version's.

        `keyring` seals secret content; the controller passes the one in its directory.
        Without one, a SQLite database file uses the keyring file beside it (made if
        absent) and any other database a keyring held in memory only.
        """
        keyring = keyring or _default_keyring(url)
        await _upgrade.migrate(url, keyring=keyring)
        is_sqlite = url.startswith("sqlite")
        engine = create_async_engine(
            url,
            connect_args={"timeout": 30} if is_sqlite else {},
            pool_pre_ping=not is_sqlite,
        )
        if is_sqlite:

            @event.listens_for(engine.sync_engine, "connect")
            def _pragmas(dbapi_conn: Any, _: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

        store = cls(engine, keyring)
        try:
            await store.check_secret_keys()
        except errors.RunecraftError:
            await store.close()
            raise
        return store

    async def check_secret_keys(self) -> None:
        """Refuse a database whose secret content is sealed under keys this keyring lacks
        (copied without its keyring): a clear error at start, not one per read."""
        async with self.engine.connect() as conn:
            used = set(
                (await conn.execute(sa.select(t.secret_revisions.c.key_id).distinct())).scalars()
            )
        missing = sorted(used - set(self.keyring.key_ids))
        if missing:
            where = "" if self.keyring.path is None else f" ({self.keyring.path})"
            raise errors.PermanentError(
                "secret content in the database is sealed under key(s) "
                f"{', '.join(missing)}, which the controller's secret keyring{where} does "
                "not hold: restore the keyring file that belongs to this database"
            )

    async def rotate_secrets_key(self) -> tuple[str, int, list[str]]:
        """A new secret key becomes current: every stored secret revision is resealed
        under it in one transaction, and the old keys are dropped only after it committed.
        Returns the new key id, how many revisions were resealed and the ids dropped.

        The new key reaches the keyring file before anything is sealed under it; if the
        transaction fails, the old key stays current and the new one is unused.
        """
        keyring = self.keyring
        async with self.write() as tx:  # two rotations at once take turns, whole
            new = keyring.add()
            keyring.save()
            count = await tx.secrets.reseal(new)
        # No await since the commit: no write can seal under an old key from here on.
        dropped = keyring.retire_all_but(new)
        keyring.save()
        logger.info("secret key rotated", key=new, resealed=count, dropped=dropped)
        return new, count, dropped

    async def close(self) -> None:
        await self.engine.dispose()

    def count_queries(self) -> QueryCounter:
        """Attach and return a counter of every statement this store executes."""
        counter = QueryCounter()
        event.listen(self.engine.sync_engine, "before_cursor_execute", counter)
        return counter

    def time_statements(self, observe: Callable[[float], None]) -> None:
        """Call `observe` with the seconds each statement this store executes took (the
        driver's time, on the engine's events; a statement that fails is not timed)."""
        clock = time.perf_counter

        def before(*args: Any) -> None:
            args[4]._runecraft_started = clock()  # args[4]: the statement's execution context

        def after(*args: Any) -> None:
            started = getattr(args[4], "_runecraft_started", None)
            if started is not None:
                observe(clock() - started)

        event.listen(self.engine.sync_engine, "before_cursor_execute", before)
        event.listen(self.engine.sync_engine, "after_cursor_execute", after)

    async def unit_counts(self) -> list[tuple[str, str, int]]:
        """How many units each model has in each workload status: (model name, status,
        count), in one query."""
        u, m = t.units.c, t.models.c
        query = (
            sa.select(m.name, u.workload_status, sa.func.count())
            .select_from(t.units.join(t.models, u.model_uuid == m.uuid))
            .group_by(m.name, u.workload_status)
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(query)
            return [(str(name), str(status), int(count)) for name, status, count in rows]

    # --- transactions -----------------------------------------------------------------

    def _saw_statement(self, conn: Any, statement: Any, *_: Any) -> None:
        """Note the table an insert, update or delete wrote (any other statement that is
        not a select counts as writing every table)."""
        if isinstance(statement, sa.sql.Select | sa.sql.CompoundSelect):
            return
        table = (
            getattr(statement, "table", None)
            if isinstance(statement, sa.sql.dml.UpdateBase)
            else None
        )
        name = getattr(table, "name", None)
        if self._writing is None:  # not in `write()`: counted at once
            self.table_writes.ended([name])
        else:
            self._writing.add(name)

    @contextlib.asynccontextmanager
    async def write(self, model_name: str | None = None) -> AsyncIterator[Tx]:
        """One write transaction; with a model, its revision moves if anything changed."""
        async with self._write_lock:
            writing: set[str | None] = set()
            self._writing = writing
            try:
                async with self.engine.begin() as conn:
                    model = None
                    if model_name is not None:
                        query = sa.select(t.models).where(t.models.c.name == model_name)
                        if self.dialect == "postgresql":
                            query = query.with_for_update()
                        row = (await conn.execute(query)).first()
                        if row is None:
                            raise errors.NotFoundError(f'model "{model_name}" not found')
                        model = record(ModelRecord, row)
                    tx = Tx(conn, model, self.keyring)
                    yield tx
                    await tx.finish()
            finally:
                # Only once it ended: a reader noting the clock before this reads its rows.
                self._writing = None
                self.table_writes.ended(writing)
        if writing:  # a transaction that only read leaves every cache of stored rows valid
            self.commits += 1
        changes = tx.changes
        for watcher in self._committed:
            watcher(changes)

    def on_commit(self, watcher: Callable[[Sequence[tuple[str, str, str]]], None]) -> None:
        """Call `watcher` with the changes of every write transaction once it committed
        (model uuid, entity, kind): what a cache of stored rows drops."""
        self._committed.append(watcher)

    # --- models -------------------------------------------------------------------------

    async def create_model(
        self, name: str, uuid: str, cloud: str, config: dict[str, Any], model_type: str = "iaas"
    ) -> ModelRecord:
        async with self.write() as tx:
            exists = (
                await tx.conn.execute(sa.select(t.models.c.uuid).where(t.models.c.name == name))
            ).first()
            if exists is not None:
                raise errors.ConflictError(f'model "{name}" already exists')
            row = (
                await tx.conn.execute(
                    sa.insert(t.models)
                    .values(
                        uuid=uuid,
                        name=name,
                        cloud=cloud,
                        type=model_type,
                        revision=1,
                        next_machine=0,
                        config=config,
                        life="alive",
                        created=time.time(),
                    )
                    .returning(t.models)
                )
            ).one()
            return record(ModelRecord, row)

    async def models(self) -> list[ModelRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(t.models).order_by(t.models.c.name))
            return [record(ModelRecord, r) for r in rows]

    async def model(self, name: str) -> ModelRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.models).where(t.models.c.name == name))).first()
        if row is None:
            raise errors.NotFoundError(f'model "{name}" not found')
        return record(ModelRecord, row)

    async def delete_model(self, uuid: str) -> None:
        """Forget a model whose machines are all gone."""
        async with self.write() as tx:
            for table in (
                t.model_access,
                t.offer_access,
                t.cross_model_relations,
                t.saas,
                t.offers,
                t.log_entries,
                t.log_cursors,
                t.status_history,
                t.hook_runs,
                t.storage_instances,
                t.storage_directives,
                t.application_resources,
                t.secret_grants,
                t.secret_consumers,
                t.secret_revisions,
                t.secrets,
                t.databags,
                t.relation_scopes,
                t.relation_endpoints,
                t.relations,
                t.actions,
                t.units,
                t.machines,
                t.applications,
                t.changes,
            ):
                await tx.conn.execute(sa.delete(table).where(table.c.model_uuid == uuid))
            links = t.cross_model_relations
            await tx.conn.execute(sa.delete(links).where(links.c.offer_model_uuid == uuid))
            await tx.conn.execute(sa.delete(t.models).where(t.models.c.uuid == uuid))

    # --- controller settings -------------------------------------------------------------

    async def controller_setting(self, key: str) -> str | None:
        """A controller-wide setting (`controller_info`), None when never set."""
        async with self.engine.connect() as conn:
            found = await conn.execute(
                sa.select(t.controller_info.c.value).where(t.controller_info.c.key == key)
            )
            value: str | None = found.scalar()
        return value

    async def put_controller_setting(self, key: str, value: str) -> None:
        async with self.write() as tx:
            await tx.conn.execute(
                sa.delete(t.controller_info).where(t.controller_info.c.key == key)
            )
            await tx.conn.execute(sa.insert(t.controller_info).values(key=key, value=value))

    # --- clouds -------------------------------------------------------------------------

    async def clouds(self) -> list[CloudRecord]:
        """The clouds an operator added, by name."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(t.clouds).order_by(t.clouds.c.name))
            return [record(CloudRecord, r) for r in rows]

    async def cloud(self, name: str) -> CloudRecord | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.clouds).where(t.clouds.c.name == name))).first()
        return None if row is None else record(CloudRecord, row)

    async def add_cloud(self, cloud: CloudRecord) -> None:
        async with self.write() as tx:
            exists = await tx.conn.execute(
                sa.select(t.clouds.c.name).where(t.clouds.c.name == cloud.name)
            )
            if exists.first() is not None:
                raise errors.ConflictError(f'cloud "{cloud.name}" already exists')
            await tx.conn.execute(sa.insert(t.clouds).values(**dataclasses.asdict(cloud)))

    async def update_cloud_config(
        self, name: str, config: dict[str, Any], endpoint: str | None = None
    ) -> None:
        """Replace an added cloud's kubeconfig (a new credential or definition)."""
        values: dict[str, Any] = {"config": config}
        if endpoint is not None:
            values["endpoint"] = endpoint
        async with self.write() as tx:
            changed = await tx.conn.execute(
                sa.update(t.clouds).where(t.clouds.c.name == name).values(**values)
            )
            if changed.rowcount == 0:
                raise errors.NotFoundError(f'cloud "{name}" not found')

    async def remove_cloud(self, name: str) -> None:
        """Forget an added cloud that no model is on."""
        async with self.write() as tx:
            used = await tx.conn.execute(
                sa.select(t.models.c.name).where(t.models.c.cloud == name).limit(1)
            )
            model = used.scalar()
            if model is not None:
                raise errors.ConflictError(f'cloud "{name}" is in use by model "{model}"')
            gone = await tx.conn.execute(sa.delete(t.clouds).where(t.clouds.c.name == name))
            if gone.rowcount == 0:
                raise errors.NotFoundError(f'cloud "{name}" not found')

    # --- charms -------------------------------------------------------------------------

    async def put_charm(
        self,
        *,
        sha256: str,
        name: str,
        meta: dict[str, Any],
        config: dict[str, Any],
        actions: dict[str, Any],
        data: bytes,
    ) -> CharmRecord:
        """Store a charm once (content-addressed); storing it again is a no-op."""
        async with self.write() as tx:
            existing = (
                await tx.conn.execute(sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256 == sha256))
            ).first()
            if existing is not None:
                return record(CharmRecord, existing)
            values = {
                "sha256": sha256,
                "name": name,
                "meta": meta,
                "config": config,
                "actions": actions,
                "size": len(data),
                "created": time.time(),
            }
            await tx.conn.execute(sa.insert(t.charms).values(**values))
            await tx.conn.execute(sa.insert(t.charm_blobs).values(sha256=sha256, data=data))
        return CharmRecord(
            sha256=sha256, name=name, meta=meta, config=config, actions=actions, size=len(data)
        )

    async def charm(self, sha256: str) -> CharmRecord:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256 == sha256))
            ).first()
        if row is None:
            raise errors.NotFoundError(f'charm "{sha256}" not found')
        return record(CharmRecord, row)

    async def charm_blob(self, sha256: str) -> bytes:
        async with self.engine.connect() as conn:
            data = (
                await conn.execute(
                    sa.select(t.charm_blobs.c.data).where(t.charm_blobs.c.sha256 == sha256)
                )
            ).scalar_one_or_none()
        if data is None:
            raise errors.NotFoundError(f'charm "{sha256}" not found')
        return bytes(data)

    # --- whole-model snapshot (a constant number of queries) ----------------------------

    async def snapshot(self, model_uuid: str | None = None) -> ModelSnapshot:
        """Every row of one model (or all) that status and the reconcilers need, in a
        constant number of queries (unfinished actions only)."""
        async with self.engine.connect() as conn:
            return await read_snapshot(conn, self.keyring, model_uuid)

    def kept_snapshots(self) -> KeptSnapshots:
        """A keeper of model snapshots read part by part (`kept_snapshot`)."""
        return KeptSnapshots(self.table_writes)

    async def kept_snapshot(self, model: ModelRecord, kept: KeptSnapshots) -> ModelSnapshot:
        """What `snapshot` reads of `model` (a record just read), reading again only the
        parts written since `kept` last read them."""
        async with self.engine.connect() as conn:
            return await kept.read(conn, self.keyring, model)

    STATUS_MODELS = 16
    """Models whose unit records status keeps from one read to the next."""

    async def status_snapshot(self, model_name: str) -> ModelSnapshot:
        """What status shows of one model (`read_status_snapshot`), in one connection."""
        known = self._status_units.pop(model_name, {})
        async with self.engine.connect() as conn:
            snapshot = await read_status_snapshot(conn, model_name, known)
        if snapshot is None:
            raise errors.NotFoundError(f'model "{model_name}" not found')
        if len(self._status_units) >= self.STATUS_MODELS:
            del self._status_units[next(iter(self._status_units))]
        self._status_units[model_name] = known
        return snapshot

    async def relations(self, model_uuid: str) -> list[tuple[RelationRecord, list[EndpointRecord]]]:
        """Every relation of a model with its endpoints, by id (two queries)."""
        async with self.engine.connect() as conn:
            return await Relations(Session(conn, None)).all(model_uuid)

    async def resource_blob(self, sha256: str) -> bytes:
        """A stored resource file, by hash."""
        async with self.engine.connect() as conn:
            return await read_resource_blob(conn, sha256)

    # --- actions ------------------------------------------------------------------------

    async def action(self, model_uuid: str, action_id: int) -> ActionRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t.actions).where(
                        t.actions.c.model_uuid == model_uuid, t.actions.c.id == action_id
                    )
                )
            ).first()
        return None if row is None else record(ActionRecord, row)

    async def machine_by_agent(self, agent: str) -> MachineRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(t.machines).where(t.machines.c.agent == agent))
            ).first()
        return None if row is None else record(MachineRecord, row)

    async def agent_credentials(self) -> list[tuple[str, str]]:
        """`(agent, password hash)` of every machine that has a credential."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.machines.c.agent, t.machines.c.password_hash).where(
                    t.machines.c.password_hash.is_not(None)
                )
            )
            return [(str(r.agent), str(r.password_hash)) for r in rows]

    async def extend_all_leases(self, expiry: float) -> None:
        """At controller start: give every leader a fresh lease, so an outage alone never
        moves leadership."""
        async with self.write() as tx:
            await tx.conn.execute(
                sa.update(t.applications)
                .where(t.applications.c.leader.is_not(None))
                .values(lease_expiry=expiry)
            )
