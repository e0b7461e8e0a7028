"""What agents report, applied inside a write transaction.

Every write is confined to units on the reporting agent's machine (the bus topic names the
agent, the broker ACL enforces it). Reports carry sequence numbers, so applying one twice,
or a stale one, changes nothing. Hook commits are decided by services/_hook_commit.py and
written through the reads and writes here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import structlog

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import action_record, app_record, unit_record
from runecraft.controller.state._records import ActionRecord, ApplicationRecord, UnitRecord
from runecraft.controller.state._relation_tx import RelationWrites, merge_settings
from runecraft.controller.state._secret_tx import SecretWrites
from runecraft.controller.state._storage_tx import StorageWrites
from runecraft.schemas import bus

__all__ = ["AgentWrites"]

logger = structlog.get_logger(__name__)


class AgentWrites(RelationWrites, SecretWrites, StorageWrites):
    """Unit reports, hook commits, leader settings and action logs from one machine."""

    async def unit_on_machine(
        self, model_uuid: str, machine_number: int, name: str
    ) -> UnitRecord | None:
        row = (
            await self.conn.execute(
                sa.select(t.units).where(
                    t.units.c.model_uuid == model_uuid,
                    t.units.c.name == name,
                    t.units.c.machine_number == machine_number,
                )
            )
        ).first()
        return None if row is None else unit_record(row)

    async def application_by_id(self, application_id: int) -> ApplicationRecord:
        row = (
            await self.conn.execute(
                sa.select(t.applications).where(t.applications.c.id == application_id)
            )
        ).one()
        return app_record(row)

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
        await self.conn.execute(
            sa.update(t.applications)
            .where(
                t.applications.c.model_uuid == model_uuid,
                t.applications.c.leader.in_(on_machine),
            )
            .values(lease_expiry=expiry)
        )

    async def mark_machine_started(self, model_uuid: str, machine_number: int, now: float) -> bool:
        """Record that the machine's agent is up; returns whether its status changed."""
        result = await self.conn.execute(
            sa.update(t.machines)
            .where(
                t.machines.c.model_uuid == model_uuid,
                t.machines.c.number == machine_number,
                t.machines.c.status != "started",
            )
            .values(
                status="started", status_message="", status_since=now, retry_count=0, retry_at=None
            )
        )
        return bool(result.rowcount)

    async def apply_unit_report(
        self, model_uuid: str, machine_number: int, report: bus.UnitReport, now: float
    ) -> None:
        """Store a whole unit report unless a newer one is stored; `removed` deletes a
        dying unit (it leaves every scope; its unfinished actions fail)."""
        where = (
            t.units.c.model_uuid == model_uuid,
            t.units.c.name == report.unit,
            t.units.c.machine_number == machine_number,
        )
        if report.removed:
            gone = (
                await self.conn.execute(
                    sa.delete(t.units)
                    .where(*where, t.units.c.life == "dying")
                    .returning(t.units.c.name)
                )
            ).first()
            if gone is not None:
                await self.leave_all_scopes(model_uuid, report.unit)
                await self.forget_secret_owner(model_uuid, unit=report.unit)
                await self.conn.execute(
                    sa.update(t.actions)
                    .where(
                        t.actions.c.model_uuid == model_uuid,
                        t.actions.c.unit == report.unit,
                        t.actions.c.status.in_(("pending", "running")),
                    )
                    .values(
                        status="failed",
                        message=f'unit "{report.unit}" was removed',
                        completed=now,
                    )
                )
                self.changed(f"unit-{report.unit}", "removed", model_uuid)
            return
        current = (
            await self.conn.execute(
                sa.select(
                    t.units.c.workload_status,
                    t.units.c.workload_message,
                    t.units.c.agent_status,
                    t.units.c.agent_message,
                    t.units.c.report_seq,
                ).where(*where)
            )
        ).first()
        if current is None or current.report_seq >= report.seq:
            return
        values: dict[str, Any] = {
            "workload_status": report.workload.status,
            "workload_message": report.workload.message,
            "agent_status": report.agent.status,
            "agent_message": report.agent.message,
            "workload_version": report.workload_version,
            "converged_hash": report.converged_hash,
            "snapshot_revision": report.snapshot_revision,
            "report_seq": report.seq,
        }
        history = []
        if (current.workload_status, current.workload_message) != (
            report.workload.status,
            report.workload.message,
        ):
            values["workload_since"] = now
            history.append(("workload", report.workload))
        if (current.agent_status, current.agent_message) != (
            report.agent.status,
            report.agent.message,
        ):
            values["agent_since"] = now
            history.append(("juju-unit", report.agent))
        await self.conn.execute(sa.update(t.units).where(*where).values(**values))
        for kind, status in history:
            await self.record_status(model_uuid, report.unit, kind, status, now)

    async def record_status(
        self, model_uuid: str, entity: str, kind: str, status: bus.StatusValue, now: float
    ) -> None:
        """Append to the entity's status history (`show-status-log`)."""
        await self.conn.execute(
            sa.insert(t.status_history).values(
                model_uuid=model_uuid,
                entity=entity,
                kind=kind,
                status=status.status,
                message=status.message,
                since=now,
            )
        )

    async def apply_app_status(
        self, model_uuid: str, machine_number: int, report: bus.AppStatusReport, now: float
    ) -> None:
        """Store an application status set by its leader, if that leader is on the machine."""
        on_machine = sa.select(t.units.c.name).where(
            t.units.c.model_uuid == model_uuid,
            t.units.c.machine_number == machine_number,
            t.units.c.name == report.unit,
        )
        stored = await self.conn.execute(
            sa.update(t.applications)
            .where(
                t.applications.c.model_uuid == model_uuid,
                t.applications.c.name == report.application,
                t.applications.c.leader == report.unit,
                t.applications.c.leader.in_(on_machine),
                t.applications.c.status_seq < report.seq,
            )
            .values(
                status=report.status.status,
                status_message=report.status.message,
                status_since=now,
                status_seq=report.seq,
            )
        )
        if stored.rowcount:
            await self.record_status(
                model_uuid, report.application, "application", report.status, now
            )

    # --- what hook commits read and write (the rules: services/_hook_commit.py) ---------

    async def machine_address(self, model_uuid: str, machine_number: int) -> str:
        address = (
            await self.conn.execute(
                sa.select(t.machines.c.address).where(
                    t.machines.c.model_uuid == model_uuid, t.machines.c.number == machine_number
                )
            )
        ).scalar_one_or_none()
        return str(address or "")

    async def unit_action(self, model_uuid: str, unit: str, action_id: str) -> ActionRecord | None:
        """An action of the unit by its id ("1", "2", …); None for another unit's."""
        if not action_id.isdigit():
            return None
        row = (
            await self.conn.execute(
                sa.select(t.actions).where(
                    t.actions.c.model_uuid == model_uuid,
                    t.actions.c.id == int(action_id),
                    t.actions.c.unit == unit,
                )
            )
        ).first()
        return None if row is None else action_record(row)

    async def update_action(self, model_uuid: str, action_id: int, **values: Any) -> None:
        await self.conn.execute(
            sa.update(t.actions)
            .where(t.actions.c.model_uuid == model_uuid, t.actions.c.id == action_id)
            .values(**values)
        )

    # --- immediate messages -----------------------------------------------------------

    async def apply_leader_set(
        self, model_uuid: str, machine_number: int, message: bus.LeaderSet
    ) -> bool:
        """`leader-set`: merged into the application's leader settings while the unit
        leads; the version moves only if the content changed. Returns whether it did."""
        unit = await self.unit_on_machine(model_uuid, machine_number, message.unit)
        if unit is None or message.seq <= unit.leader_set_seq:
            return False
        app = await self.application_by_id(unit.application_id)
        await self.conn.execute(
            sa.update(t.units).where(t.units.c.id == unit.id).values(leader_set_seq=message.seq)
        )
        if app.leader != unit.name:
            logger.warning("leader-set by a non-leader dropped", unit=unit.name)
            return False
        settings = merge_settings(app.leader_settings, message.settings)
        if settings == app.leader_settings:
            return False
        await self.conn.execute(
            sa.update(t.applications)
            .where(t.applications.c.id == app.id)
            .values(
                leader_settings=settings,
                leader_settings_version=app.leader_settings_version + 1,
            )
        )
        self.changed(f"application-{app.name}", "leader-settings", model_uuid)
        return True

    async def apply_action_log(
        self, model_uuid: str, machine_number: int, message: bus.ActionLog, now: float
    ) -> bool:
        """`action-log`: appended to an unfinished action of the unit, which is running."""
        unit = await self.unit_on_machine(model_uuid, machine_number, message.unit)
        if unit is None:
            return False
        row = await self.unit_action(model_uuid, unit.name, message.action_id)
        if row is None or row.status not in ("pending", "running"):
            return False
        await self.conn.execute(
            sa.update(t.actions)
            .where(t.actions.c.model_uuid == model_uuid, t.actions.c.id == row.id)
            .values(
                status="running",
                started=row.started if row.started is not None else now,
                log=[*row.log, {"timestamp": now, "message": message.message}],
            )
        )
        return True
