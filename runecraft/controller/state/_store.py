"""The controller's database: the only truth.

One `Store` per process. Reads are plain queries; writes go through `Store.write()`, one
transaction that bumps the model revision and appends a change-log row, so a reader can
tell by revision whether the model moved. SQLite has one writer: writes are serialised
in-process (WAL lets readers go on); PostgreSQL serialises them with a row lock on the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state import _upgrade
from runecraft.controller.state._action_tx import ActionWrites
from runecraft.controller.state._agent_tx import AgentWrites
from runecraft.controller.state._base import (
    CHARM_COLUMNS,
    action_record,
    app_record,
    charm_record,
    endpoint_record,
    machine_record,
    model_record,
    relation_record,
    unit_record,
)
from runecraft.controller.state._records import (
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
    UnitRecord,
)
from runecraft.controller.state._snapshot import ModelSnapshot, read_snapshot

__all__ = ["ModelSnapshot", "QueryCounter", "Store", "Tx"]

logger = structlog.get_logger(__name__)


class QueryCounter:
    """Counts SQL statements run through a store (used to assert constant-query reads)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: object) -> None:
        self.count += 1


class Tx(AgentWrites, ActionWrites):
    """One write transaction on one model (or, for agent reports, on several)."""

    # --- reads inside the transaction -------------------------------------------------

    async def application(self, name: str) -> ApplicationRecord:
        assert self.model is not None
        row = (
            await self.conn.execute(
                sa.select(t.applications).where(
                    t.applications.c.model_uuid == self.model.uuid,
                    t.applications.c.name == name,
                )
            )
        ).first()
        if row is None:
            raise errors.NotFoundError(
                f'application "{name}" not found in model "{self.model.name}"'
            )
        return app_record(row)

    async def find_application(self, name: str) -> ApplicationRecord | None:
        try:
            return await self.application(name)
        except errors.NotFoundError:
            return None

    async def unit(self, name: str) -> UnitRecord:
        assert self.model is not None
        row = (
            await self.conn.execute(
                sa.select(t.units).where(
                    t.units.c.model_uuid == self.model.uuid, t.units.c.name == name
                )
            )
        ).first()
        if row is None:
            raise errors.NotFoundError(f'unit "{name}" not found in model "{self.model.name}"')
        return unit_record(row)

    async def machine(self, number: int) -> MachineRecord:
        assert self.model is not None
        row = (
            await self.conn.execute(
                sa.select(t.machines).where(
                    t.machines.c.model_uuid == self.model.uuid, t.machines.c.number == number
                )
            )
        ).first()
        if row is None:
            raise errors.NotFoundError(f'machine "{number}" not found in model "{self.model.name}"')
        return machine_record(row)

    async def charm(self, sha256: str) -> CharmRecord:
        row = (
            await self.conn.execute(sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256 == sha256))
        ).first()
        if row is None:
            raise errors.NotFoundError(f'charm "{sha256}" not found: upload it first')
        return charm_record(row)

    async def charms_named(self, name: str) -> list[CharmRecord]:
        """Every stored charm of this name, oldest upload first (the n-th is its revision
        n in the controller's charm store)."""
        rows = await self.conn.execute(
            sa.select(*CHARM_COLUMNS)
            .where(t.charms.c.name == name)
            .order_by(t.charms.c.created, t.charms.c.sha256)
        )
        return [charm_record(row) for row in rows]

    async def snapshot(self) -> ModelSnapshot:
        """The transaction's model read whole, as this transaction sees it."""
        assert self.model is not None
        return await read_snapshot(self.conn, self.model.uuid)

    # --- writes -----------------------------------------------------------------------

    async def insert_application(
        self, *, name: str, charm_sha256: str, config: dict[str, Any], **settings: Any
    ) -> ApplicationRecord:
        """A new alive application; `settings` are further columns (constraints, trust…)."""
        assert self.model is not None
        now = time.time()
        result = await self.conn.execute(
            sa.insert(t.applications)
            .values(
                model_uuid=self.model.uuid,
                name=name,
                charm_sha256=charm_sha256,
                charm_revision=0,
                config=config,
                life="alive",
                next_unit=0,
                status_message="",
                status_seq=0,
                created=now,
                **settings,
            )
            .returning(t.applications)
        )
        self.changed(f"application-{name}", "added")
        return app_record(result.one())

    async def update_application(self, app: ApplicationRecord, **values: Any) -> None:
        await self.conn.execute(
            sa.update(t.applications).where(t.applications.c.id == app.id).values(**values)
        )
        self.changed(f"application-{app.name}", "changed")

    async def add_units(
        self, app: ApplicationRecord, count: int, machine_numbers: Sequence[int | None]
    ) -> list[str]:
        """Add `count` units numbered on from the application's counter."""
        assert self.model is not None
        now = time.time()
        first = app.next_unit
        rows = [
            {
                "model_uuid": self.model.uuid,
                "application_id": app.id,
                "name": f"{app.name}/{first + i}",
                "number": first + i,
                "machine_number": machine_numbers[i] if i < len(machine_numbers) else None,
                "life": "alive",
                "workload_status": "waiting",
                "workload_message": "waiting for machine",
                "workload_since": now,
                "agent_status": "allocating",
                "agent_message": "",
                "agent_since": now,
                "workload_version": "",
                "report_seq": 0,
                "converged_hash": "",
                "snapshot_revision": 0,
                "created": now,
            }
            for i in range(count)
        ]
        if rows:
            await self.conn.execute(sa.insert(t.units), rows)
            await self.conn.execute(
                sa.update(t.applications)
                .where(t.applications.c.id == app.id)
                .values(next_unit=first + count)
            )
        for row in rows:
            self.changed(f"unit-{row['name']}", "added")
        return [str(row["name"]) for row in rows]

    async def update_unit(self, unit: UnitRecord, *, log: bool = True, **values: Any) -> None:
        await self.conn.execute(sa.update(t.units).where(t.units.c.id == unit.id).values(**values))
        if log:
            self.changed(f"unit-{unit.name}", "changed")

    async def delete_unit(self, unit: UnitRecord) -> None:
        await self.leave_all_scopes(unit.model_uuid, unit.name)
        await self.forget_secret_owner(unit.model_uuid, unit=unit.name)
        await self.conn.execute(
            sa.delete(t.storage_instances).where(
                t.storage_instances.c.model_uuid == unit.model_uuid,
                t.storage_instances.c.unit == unit.name,
            )
        )
        await self.conn.execute(sa.delete(t.units).where(t.units.c.id == unit.id))
        self.changed(f"unit-{unit.name}", "removed")

    async def insert_machine(self, **values: Any) -> MachineRecord:
        """A new machine numbered on from the model's counter; `values` override the
        defaults (an enlisted machine comes with its enlistment and credential)."""
        assert self.model is not None
        number = (
            int(
                (
                    await self.conn.execute(
                        sa.update(t.models)
                        .where(t.models.c.uuid == self.model.uuid)
                        .values(next_machine=t.models.c.next_machine + 1)
                        .returning(t.models.c.next_machine)
                    )
                ).scalar_one()
            )
            - 1
        )
        now = time.time()
        result = await self.conn.execute(
            sa.insert(t.machines)
            .values(
                model_uuid=self.model.uuid,
                number=number,
                life="alive",
                agent=f"machine-{number}.{self.model.uuid}",
                status="pending",
                status_message="",
                status_since=now,
                hostname="",
                address="",
                retry_count=0,
                created=now,
            )
            .values(**values)
            .returning(t.machines)
        )
        self.changed(f"machine-{number}", "added")
        return machine_record(result.one())

    async def machines(self) -> list[MachineRecord]:
        """Every machine of the model, by number."""
        assert self.model is not None
        rows = await self.conn.execute(
            sa.select(t.machines)
            .where(t.machines.c.model_uuid == self.model.uuid)
            .order_by(t.machines.c.number)
        )
        return [machine_record(r) for r in rows]

    async def units_on_machine(self, number: int) -> list[str]:
        """Names of the units placed on a machine of the model."""
        assert self.model is not None
        rows = await self.conn.execute(
            sa.select(t.units.c.name).where(
                t.units.c.model_uuid == self.model.uuid, t.units.c.machine_number == number
            )
        )
        return sorted(str(r.name) for r in rows)

    async def update_machine(self, machine: MachineRecord, **values: Any) -> None:
        await self.conn.execute(
            sa.update(t.machines).where(t.machines.c.id == machine.id).values(**values)
        )
        self.changed(f"machine-{machine.number}", "changed")

    async def delete_machine(self, machine: MachineRecord) -> None:
        await self.conn.execute(sa.delete(t.machines).where(t.machines.c.id == machine.id))
        self.changed(f"machine-{machine.number}", "removed")

    async def delete_application(self, app: ApplicationRecord) -> None:
        await self.conn.execute(
            sa.delete(t.application_resources).where(
                t.application_resources.c.model_uuid == app.model_uuid,
                t.application_resources.c.application == app.name,
            )
        )
        await self.conn.execute(
            sa.delete(t.storage_directives).where(
                t.storage_directives.c.model_uuid == app.model_uuid,
                t.storage_directives.c.application == app.name,
            )
        )
        await self.forget_secret_owner(app.model_uuid, application=app.name)
        await self.conn.execute(sa.delete(t.applications).where(t.applications.c.id == app.id))
        self.changed(f"application-{app.name}", "removed")

    async def update_model(self, **values: Any) -> None:
        assert self.model is not None
        await self.conn.execute(
            sa.update(t.models).where(t.models.c.uuid == self.model.uuid).values(**values)
        )
        self.changed(f"model-{self.model.name}", "changed")


class Store:
    """Async access to the controller database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock()
        self.dialect = engine.dialect.name

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect, after creating the schema or bringing an older one to this version's."""
        await _upgrade.migrate(url)
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

        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    def count_queries(self) -> QueryCounter:
        """Attach and return a counter of every statement this store executes."""
        counter = QueryCounter()
        event.listen(self.engine.sync_engine, "before_cursor_execute", counter)
        return counter

    # --- transactions -----------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def write(self, model_name: str | None = None) -> AsyncIterator[Tx]:
        """One write transaction; with a model, its revision moves if anything changed."""
        async with self._write_lock, self.engine.begin() as conn:
            model = None
            if model_name is not None:
                query = sa.select(t.models).where(t.models.c.name == model_name)
                if self.dialect == "postgresql":
                    query = query.with_for_update()
                row = (await conn.execute(query)).first()
                if row is None:
                    raise errors.NotFoundError(f'model "{model_name}" not found')
                model = model_record(row)
            tx = Tx(conn, model)
            yield tx
            await tx._finish()

    # --- controller ---------------------------------------------------------------------

    async def get_info(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(t.controller_info.c.value).where(t.controller_info.c.key == key)
                )
            ).scalar_one_or_none()

    async def set_info(self, key: str, value: str) -> None:
        async with self.write() as tx:
            await tx.conn.execute(
                sa.delete(t.controller_info).where(t.controller_info.c.key == key)
            )
            await tx.conn.execute(sa.insert(t.controller_info).values(key=key, value=value))

    # --- models -------------------------------------------------------------------------

    async def create_model(
        self, name: str, uuid: str, cloud: str, config: dict[str, Any]
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
                        revision=1,
                        next_machine=0,
                        config=config,
                        life="alive",
                        created=time.time(),
                    )
                    .returning(t.models)
                )
            ).one()
            return model_record(row)

    async def models(self) -> list[ModelRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(t.models).order_by(t.models.c.name))
            return [model_record(r) for r in rows]

    async def model(self, name: str) -> ModelRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(t.models).where(t.models.c.name == name))).first()
        if row is None:
            raise errors.NotFoundError(f'model "{name}" not found')
        return model_record(row)

    async def delete_model(self, uuid: str) -> None:
        """Forget a model whose machines are all gone."""
        async with self.write() as tx:
            for table in (
                t.log_entries,
                t.log_cursors,
                t.status_history,
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
            await tx.conn.execute(sa.delete(t.models).where(t.models.c.uuid == uuid))

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
                return charm_record(existing)
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
        return charm_record(row)

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
            return await read_snapshot(conn, model_uuid)

    async def relations(self, model_uuid: str) -> list[tuple[RelationRecord, list[EndpointRecord]]]:
        """Every relation of a model with its endpoints, by id (two queries)."""
        async with self.engine.connect() as conn:
            relations = [
                relation_record(r)
                for r in await conn.execute(
                    sa.select(t.relations)
                    .where(t.relations.c.model_uuid == model_uuid)
                    .order_by(t.relations.c.id)
                )
            ]
            endpoints: dict[int, list[EndpointRecord]] = {r.id: [] for r in relations}
            for row in await conn.execute(
                sa.select(t.relation_endpoints)
                .where(t.relation_endpoints.c.model_uuid == model_uuid)
                .order_by(t.relation_endpoints.c.application)
            ):
                record = endpoint_record(row)
                endpoints.setdefault(record.relation_id, []).append(record)
        return [(r, endpoints[r.id]) for r in relations]

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
        return None if row is None else action_record(row)

    async def machine_by_agent(self, agent: str) -> MachineRecord | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(t.machines).where(t.machines.c.agent == agent))
            ).first()
        return None if row is None else machine_record(row)

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
