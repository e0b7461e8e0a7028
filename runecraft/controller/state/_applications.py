"""Applications and the charms they run."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from runecraft import errors
from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import CHARM_COLUMNS, Repository, record
from runecraft.controller.state._models import StatusHistory
from runecraft.controller.state._records import ApplicationRecord, CharmRecord, SeqCheck
from runecraft.controller.state._resources import Resources
from runecraft.controller.state._secrets import Secrets
from runecraft.controller.state._storage import Storage
from runecraft.controller.state._units import SEQ_COLUMNS, row_accepted_seq
from runecraft.schemas import bus, sequencing

__all__ = ["Applications", "Charms"]


class Charms(Repository):
    """Uploaded charms (content-addressed, shared by every model)."""

    async def get(self, sha256: str) -> CharmRecord:
        row = await self._first(sa.select(*CHARM_COLUMNS).where(t.charms.c.sha256 == sha256))
        if row is None:
            raise errors.NotFoundError(f'charm "{sha256}" not found: upload it first')
        return record(CharmRecord, row)

    async def named(self, name: str) -> list[CharmRecord]:
        """Every stored charm of this name, oldest upload first (the n-th is its revision
        n in the controller's charm store)."""
        rows = await self._conn.execute(
            sa.select(*CHARM_COLUMNS)
            .where(t.charms.c.name == name)
            .order_by(t.charms.c.created, t.charms.c.sha256)
        )
        return [record(CharmRecord, row) for row in rows]

    async def meta(self, sha256: str) -> dict[str, Any] | None:
        """The stored metadata of a charm (None: no such charm)."""
        meta = (
            await self._conn.execute(sa.select(t.charms.c.meta).where(t.charms.c.sha256 == sha256))
        ).scalar()
        return None if meta is None else dict(meta)


@dataclass(eq=False, kw_only=True)
class Applications(Repository):
    """Applications of the transaction's model (by id, of any model); an application that
    goes takes its resources, storage and secrets with it, through the sibling
    repositories."""

    secrets: Secrets
    storage: Storage
    resources: Resources
    history: StatusHistory

    async def get(self, name: str) -> ApplicationRecord:
        return record(
            ApplicationRecord, await self._named(t.applications, "name", name, "application")
        )

    async def find(self, name: str) -> ApplicationRecord | None:
        try:
            return await self.get(name)
        except errors.NotFoundError:
            return None

    async def by_id(self, application_id: int) -> ApplicationRecord:
        row = (
            await self._conn.execute(
                sa.select(t.applications).where(t.applications.c.id == application_id)
            )
        ).one()
        return record(ApplicationRecord, row)

    async def insert(
        self, *, name: str, charm_sha256: str, config: dict[str, Any], **settings: Any
    ) -> ApplicationRecord:
        """A new alive application; `settings` are further columns (constraints, trust…)."""
        now = time.time()
        result = await self._conn.execute(
            sa.insert(t.applications)
            .values(
                model_uuid=self._session.model_uuid,
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
        self._session.changed(f"application-{name}", "added")
        return record(ApplicationRecord, result.one())

    async def update(self, app: ApplicationRecord, **values: Any) -> None:
        await self._set(app, "changed", values)

    async def set_leader_settings(self, app: ApplicationRecord, settings: dict[str, str]) -> None:
        """New leader settings, with the next version."""
        values = {
            "leader_settings": settings,
            "leader_settings_version": app.leader_settings_version + 1,
        }
        await self._set(app, "leader-settings", values)

    async def _set(self, app: ApplicationRecord, kind: str, values: dict[str, Any]) -> None:
        await self._conn.execute(
            sa.update(t.applications).where(t.applications.c.id == app.id).values(**values)
        )
        self._session.changed(f"application-{app.name}", kind, app.model_uuid)

    async def delete(self, app: ApplicationRecord) -> None:
        """Forget an application with its resources, storage directives and secrets."""
        await self.resources.forget_application(app.model_uuid, app.name)
        await self.storage.forget_application(app.model_uuid, app.name)
        await self.secrets.forget_owner(app.model_uuid, application=app.name)
        await self._conn.execute(sa.delete(t.applications).where(t.applications.c.id == app.id))
        self._session.changed(f"application-{app.name}", "removed", app.model_uuid)

    async def renew_leases(
        self, model_uuid: str, machine_number: int, units: Sequence[str], expiry: float
    ) -> None:
        """Extend the leases of applications led by `units` of that machine."""
        if not units:
            return
        on_machine = sa.select(t.units.c.name).where(
            t.units.c.model_uuid == model_uuid,
            t.units.c.machine_number == machine_number,
            t.units.c.name.in_(list(units)),
        )
        await self._conn.execute(
            sa.update(t.applications)
            .where(
                t.applications.c.model_uuid == model_uuid,
                t.applications.c.leader.in_(on_machine),
            )
            .values(lease_expiry=expiry)
        )

    async def renew_leases_of(self, leases: Sequence[tuple[str, int, str, float]]) -> None:
        """Extend the lease of each application led by a unit (model uuid, machine number,
        unit, new expiry) while that unit is on that machine: one statement executed for
        all."""
        if not leases:
            return
        b = sa.bindparam
        on_machine = (
            sa.select(t.units.c.id)
            .where(
                t.units.c.model_uuid == b("b_model"),
                t.units.c.machine_number == b("b_machine"),
                t.units.c.name == b("b_unit"),
            )
            .exists()
        )
        await self._conn.execute(
            sa.update(t.applications)
            .where(
                t.applications.c.model_uuid == b("b_model"),
                t.applications.c.leader == b("b_unit"),
                on_machine,
            )
            .values(lease_expiry=b("b_expiry")),
            [
                {"b_model": model, "b_machine": machine, "b_unit": unit, "b_expiry": expiry}
                for model, machine, unit, expiry in leases
            ],
        )

    async def apply_status(
        self, model_uuid: str, machine_number: int, report: bus.AppStatusReport, now: float
    ) -> SeqCheck | None:
        """Store an application status set by its leader, if that leader is on the machine
        and the report is newer than the one stored (and not from the future: see
        `sequencing.report_verdict`). Returns the check made (None: no such leader)."""
        leader = (
            await self._conn.execute(
                sa.select(*SEQ_COLUMNS)
                .join(t.applications, t.applications.c.id == t.units.c.application_id)
                .where(
                    t.units.c.model_uuid == model_uuid,
                    t.units.c.machine_number == machine_number,
                    t.units.c.name == report.unit,
                    t.applications.c.name == report.application,
                    t.applications.c.leader == report.unit,
                )
            )
        ).first()
        if leader is None:
            return None
        stored = int(leader.status_seq)
        accepted = row_accepted_seq(leader)
        check = SeqCheck(sequencing.report_verdict(stored, accepted, report.seq), stored, accepted)
        if check.verdict is not sequencing.ReportVerdict.APPLY:
            return check
        await self._conn.execute(
            sa.update(t.applications)
            .where(
                t.applications.c.model_uuid == model_uuid,
                t.applications.c.name == report.application,
            )
            .values(
                status=report.status.status,
                status_message=report.status.message,
                status_since=now,
                status_seq=report.seq,
            )
        )
        await self.history.record(model_uuid, report.application, "application", report.status, now)
        return check
