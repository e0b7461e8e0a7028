"""What agents report, applied inside a write transaction.

Every write is confined to units on the reporting agent's machine (the bus topic names the
agent, the broker ACL enforces it). Reports carry sequence numbers, so applying one twice,
or a stale one, changes nothing; hook commits apply exactly once and in order
(docs/runtime-contract.md, "Hook commits").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import structlog

from runecraft.controller.state import _tables as t
from runecraft.controller.state._base import app_record, unit_record
from runecraft.controller.state._records import ApplicationRecord, UnitRecord
from runecraft.controller.state._relation_tx import RelationWrites, merge_settings
from runecraft.controller.state._secret_tx import SecretWrites
from runecraft.controller.state._storage_tx import apply_storage_add
from runecraft.schemas import bus

__all__ = ["AgentWrites"]

logger = structlog.get_logger(__name__)


class AgentWrites(RelationWrites, SecretWrites):
    """Unit reports, hook commits, leader settings and action logs from one machine."""

    async def _unit_on_machine(
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

    async def _application_by_id(self, application_id: int) -> ApplicationRecord:
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

    # --- hook commits -----------------------------------------------------------------

    async def apply_hook_commit(
        self, model_uuid: str, machine_number: int, commit: bus.HookCommit, now: float
    ) -> bool:
        """Apply one hook commit exactly once; returns whether it was applied.

        Only the next commit of the unit applies (`seq == commit_seq + 1`): a replay is
        dropped, and one past a gap waits until the agent resends the missing ones (it
        resends everything above the acknowledged `commit_seq`). Effects, in order: scope
        changes, relation writes, charm state, ports, the action outcome, then `commit_seq`.
        """
        unit = await self._unit_on_machine(model_uuid, machine_number, commit.unit)
        log = logger.bind(unit=commit.unit, seq=commit.seq, hook=commit.hook)
        if unit is None:
            log.warning("hook commit for a unit not on the reporting machine dropped")
            return False
        if commit.seq <= unit.commit_seq:
            return False
        if commit.seq != unit.commit_seq + 1:
            log.warning("hook commit out of order held back", expected=unit.commit_seq + 1)
            return False
        app = await self._application_by_id(unit.application_id)
        relation_apps = {
            relation.id: {e.application for e in endpoints}
            for relation, endpoints in await self.model_relations(model_uuid)
        }
        member_of = {key for key, apps in relation_apps.items() if app.name in apps}
        in_scope = set(
            (
                await self.conn.execute(
                    sa.select(t.relation_scopes.c.relation_id).where(
                        t.relation_scopes.c.model_uuid == model_uuid,
                        t.relation_scopes.c.unit == unit.name,
                    )
                )
            ).scalars()
        )
        for relation_id, change in sorted(commit.scope.items()):
            if relation_id not in member_of:
                log.warning("scope change for a relation the unit is not in", relation=relation_id)
                continue
            if change == "enter" and relation_id not in in_scope:
                await self.conn.execute(
                    sa.insert(t.relation_scopes).values(
                        model_uuid=model_uuid, relation_id=relation_id, unit=unit.name
                    )
                )
                in_scope.add(relation_id)
                address = await self._machine_address(model_uuid, machine_number)
                if address:
                    await self.merge_databag(
                        model_uuid,
                        relation_id,
                        "unit",
                        unit.name,
                        {"private-address": address, "ingress-address": address},
                    )
            elif change == "leave" and relation_id in in_scope:
                await self.conn.execute(
                    sa.delete(t.relation_scopes).where(
                        t.relation_scopes.c.model_uuid == model_uuid,
                        t.relation_scopes.c.relation_id == relation_id,
                        t.relation_scopes.c.unit == unit.name,
                    )
                )
                in_scope.discard(relation_id)
        for relation_id, write in sorted(commit.relations.items()):
            if relation_id not in in_scope:
                log.warning("relation write outside scope ignored", relation=relation_id)
                continue
            if write.unit:
                await self.merge_databag(model_uuid, relation_id, "unit", unit.name, write.unit)
            if write.app:
                if app.leader == unit.name:
                    await self.merge_databag(model_uuid, relation_id, "app", app.name, write.app)
                else:
                    log.warning("application databag write by a non-leader dropped")
        values: dict[str, Any] = {"commit_seq": commit.seq}
        state = merge_settings(unit.charm_state, commit.state_set)
        for key in commit.state_delete:
            state.pop(key, None)
        if state != unit.charm_state:
            values["charm_state"] = state
        ports = sorted(
            (set(unit.opened_ports) | set(commit.opened_ports)) - set(commit.closed_ports)
        )
        if ports != sorted(unit.opened_ports):
            values["opened_ports"] = ports
        if commit.secrets:
            mine = {key: relation_apps[key] for key in member_of}
            await self.apply_secret_ops(model_uuid, unit, app, commit.secrets, mine)
        if commit.storage_add:
            await apply_storage_add(self, model_uuid, unit.name, app, commit.storage_add)
        if commit.action is not None:
            await self._finish_action(model_uuid, unit.name, commit.action, now)
        await self.conn.execute(sa.update(t.units).where(t.units.c.id == unit.id).values(**values))
        self.changed(f"unit-{unit.name}", "commit", model_uuid)
        return True

    async def _machine_address(self, model_uuid: str, machine_number: int) -> str:
        address = (
            await self.conn.execute(
                sa.select(t.machines.c.address).where(
                    t.machines.c.model_uuid == model_uuid, t.machines.c.number == machine_number
                )
            )
        ).scalar_one_or_none()
        return str(address or "")

    async def _action_row(self, model_uuid: str, unit: str, action_id: str) -> Any:
        if not action_id.isdigit():
            return None
        return (
            await self.conn.execute(
                sa.select(t.actions).where(
                    t.actions.c.model_uuid == model_uuid,
                    t.actions.c.id == int(action_id),
                    t.actions.c.unit == unit,
                )
            )
        ).first()

    async def _finish_action(
        self, model_uuid: str, unit: str, outcome: bus.ActionOutcome, now: float
    ) -> None:
        row = await self._action_row(model_uuid, unit, outcome.id)
        if row is None or row.status not in ("pending", "running"):
            logger.warning("outcome of an unknown or finished action dropped", action=outcome.id)
            return
        values: dict[str, Any] = {
            "status": outcome.status,
            "message": outcome.message,
            "results": dict(outcome.results),
            "completed": now,
            "started": row.started if row.started is not None else now,
        }
        if outcome.log:
            stamps = [entry.get("timestamp", now) for entry in row.log]
            values["log"] = [
                {"timestamp": stamps[i] if i < len(stamps) else now, "message": message}
                for i, message in enumerate(outcome.log)
            ]
        await self.conn.execute(
            sa.update(t.actions)
            .where(t.actions.c.model_uuid == model_uuid, t.actions.c.id == row.id)
            .values(**values)
        )

    # --- immediate messages -----------------------------------------------------------

    async def apply_leader_set(
        self, model_uuid: str, machine_number: int, message: bus.LeaderSet
    ) -> bool:
        """`leader-set`: merged into the application's leader settings while the unit
        leads; the version moves only if the content changed. Returns whether it did."""
        unit = await self._unit_on_machine(model_uuid, machine_number, message.unit)
        if unit is None or message.seq <= unit.leader_set_seq:
            return False
        app = await self._application_by_id(unit.application_id)
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
        unit = await self._unit_on_machine(model_uuid, machine_number, message.unit)
        if unit is None:
            return False
        row = await self._action_row(model_uuid, unit.name, message.action_id)
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
