"""Units of a model, and the reports their agents send.

Agent writes are confined to units on the reporting agent's machine (the bus topic names
the agent, the broker ACL enforces it). Reports carry sequence numbers, so applying one
twice, or a stale one, changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from runecraft.controller.state import _tables as t
from runecraft.controller.state._actions import Actions
from runecraft.controller.state._base import Repository, record
from runecraft.controller.state._models import StatusHistory
from runecraft.controller.state._records import (
    ApplicationRecord,
    ReportWrite,
    SeqCheck,
    StoredReport,
    UnitKey,
    UnitRecord,
    accepted_seq,
)
from runecraft.controller.state._relations import Relations
from runecraft.controller.state._secrets import Secrets
from runecraft.controller.state._storage import Storage
from runecraft.schemas import bus, sequencing

__all__ = ["Units"]

SEQ_COLUMNS = (
    t.units.c.name,
    t.units.c.report_seq,
    t.units.c.leader_set_seq,
    t.applications.c.leader,
    t.applications.c.status_seq,
)
"""What `accepted_seq` reads (with the unit's application joined)."""


def row_accepted_seq(row: Any) -> int:
    """`accepted_seq` of a row with `SEQ_COLUMNS`."""
    return accepted_seq(
        row.name, int(row.report_seq), int(row.leader_set_seq), row.leader, int(row.status_seq)
    )


@dataclass(eq=False, kw_only=True)
class Units(Repository):
    """Units of the transaction's model (by model and machine, for agent writes); a unit
    that goes takes its scopes, secrets, storage and actions with it, through the sibling
    repositories."""

    relations: Relations
    secrets: Secrets
    storage: Storage
    actions: Actions
    history: StatusHistory

    async def get(self, name: str) -> UnitRecord:
        return record(UnitRecord, await self._named(t.units, "name", name, "unit"))

    async def on_machine(
        self, model_uuid: str, machine_number: int, name: str
    ) -> UnitRecord | None:
        row = await self._first(
            sa.select(t.units).where(
                t.units.c.model_uuid == model_uuid,
                t.units.c.name == name,
                t.units.c.machine_number == machine_number,
            )
        )
        return None if row is None else record(UnitRecord, row)

    async def on_machines(self, keys: Sequence[UnitKey]) -> dict[UnitKey, UnitRecord]:
        """Units by (model uuid, machine number, name), in one query; a unit not on that
        machine is absent."""
        if not keys:
            return {}
        u = t.units.c
        rows = await self._conn.execute(
            sa.select(t.units).where(
                sa.tuple_(u.model_uuid, u.machine_number, u.name).in_(list(dict.fromkeys(keys)))
            )
        )
        found = {}
        for row in rows:
            unit = record(UnitRecord, row)
            assert unit.machine_number is not None  # it matched one
            found[(unit.model_uuid, unit.machine_number, unit.name)] = unit
        return found

    async def names_on_machine(self, number: int) -> list[str]:
        """Names of the units placed on a machine of the model."""
        rows = await self._conn.execute(
            sa.select(t.units.c.name).where(
                t.units.c.model_uuid == self._session.model_uuid,
                t.units.c.machine_number == number,
            )
        )
        return sorted(str(r.name) for r in rows)

    async def of_application(self, app: ApplicationRecord) -> list[UnitRecord]:
        """The application's units (alive and dying), by number."""
        rows = await self._conn.execute(
            sa.select(t.units).where(t.units.c.application_id == app.id).order_by(t.units.c.number)
        )
        return [record(UnitRecord, r) for r in rows]

    async def add(
        self,
        app: ApplicationRecord,
        count: int,
        machine_numbers: Sequence[int | None],
        numbers: Sequence[int] | None = None,
        principals: Sequence[str] | None = None,
    ) -> list[str]:
        """Add `count` units numbered on from the application's counter, or (on Kubernetes,
        where unit numbers are pod ordinals) with the given `numbers`; subordinate units
        with the principal unit each runs beside."""
        now = time.time()
        first = app.next_unit
        chosen = list(numbers) if numbers is not None else [first + i for i in range(count)]
        assert len(chosen) == count
        rows = [
            {
                "model_uuid": self._session.model_uuid,
                "application_id": app.id,
                "name": f"{app.name}/{number}",
                "number": number,
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
                "principal": principals[i] if principals is not None else None,
            }
            for i, number in enumerate(chosen)
        ]
        if rows:
            await self._conn.execute(sa.insert(t.units), rows)
            await self._conn.execute(
                sa.update(t.applications)
                .where(t.applications.c.id == app.id)
                .values(next_unit=max(first, *(n + 1 for n in chosen)))
            )
        for row in rows:
            self._session.changed(f"unit-{row['name']}", "added")
        return [str(row["name"]) for row in rows]

    async def update(self, unit: UnitRecord, *, log: bool = True, **values: Any) -> None:
        """Change columns of a unit; with `log` the change moves the model's revision."""
        await self._conn.execute(sa.update(t.units).where(t.units.c.id == unit.id).values(**values))
        if log:
            self._session.changed(f"unit-{unit.name}", "changed", unit.model_uuid)

    async def force_removal(self, remove_after: float, application_id: int | None = None) -> None:
        """Mark every unit of the model (or of one application) dying with `--force`: a
        failing hook no longer holds its removal, and the controller forgets it at
        `remove_after` (or earlier, if an earlier removal said so) all the same."""
        where = [t.units.c.model_uuid == self._session.model_uuid]
        if application_id is not None:
            where.append(t.units.c.application_id == application_id)
        life = sa.case((t.units.c.life == "alive", "dying"), else_=t.units.c.life)
        after = t.units.c.remove_after
        deadline = sa.case(
            (sa.or_(after.is_(None), after > remove_after), remove_after), else_=after
        )
        rows = await self._conn.execute(
            sa.update(t.units)
            .where(*where)
            .values(life=life, force_removal=True, remove_after=deadline)
            .returning(t.units.c.name)
        )
        for row in rows.all():
            self._session.changed(f"unit-{row.name}", "changed")

    async def forget(self, unit: UnitRecord, now: float) -> None:
        """Forget a unit removed with `--force` whose agent did not report its removal in
        time: as `delete`, and its unfinished actions fail."""
        await self.actions.fail_unfinished(
            unit.model_uuid, unit.name, f'unit "{unit.name}" was removed with --force', now
        )
        await self.delete(unit)

    async def delete(self, unit: UnitRecord) -> None:
        """Forget a unit with its scopes, secrets and storage."""
        await self.relations.leave_all_scopes(unit.model_uuid, unit.name)
        await self.secrets.forget_owner(unit.model_uuid, unit=unit.name)
        await self.storage.forget_unit(unit.model_uuid, unit.name)
        await self._conn.execute(sa.delete(t.units).where(t.units.c.id == unit.id))
        self._session.changed(f"unit-{unit.name}", "removed", unit.model_uuid)

    async def apply_report(
        self, model_uuid: str, machine_number: int, report: bus.UnitReport, now: float
    ) -> SeqCheck | None:
        """Store a whole unit report unless a newer one is stored (or it comes from the
        future: see `sequencing.report_verdict`); `removed` deletes a dying unit (it leaves
        every scope; its unfinished actions fail). Returns the check made (None: no such
        unit on that machine, or a removal)."""
        where = (
            t.units.c.model_uuid == model_uuid,
            t.units.c.name == report.unit,
            t.units.c.machine_number == machine_number,
        )
        if report.removed:
            await self._remove_dying(model_uuid, report.unit, where, now)
            return None
        current = await self._first(
            sa.select(
                t.units.c.workload_status,
                t.units.c.workload_message,
                t.units.c.agent_status,
                t.units.c.agent_message,
                *SEQ_COLUMNS,
            )
            .join(t.applications, t.applications.c.id == t.units.c.application_id)
            .where(*where)
        )
        if current is None:
            return None
        accepted = row_accepted_seq(current)
        check = SeqCheck(
            sequencing.report_verdict(current.report_seq, accepted, report.seq),
            current.report_seq,
            accepted,
        )
        if check.verdict is not sequencing.ReportVerdict.APPLY:
            return check
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
        await self._conn.execute(sa.update(t.units).where(*where).values(**values))
        for kind, status in history:
            await self.history.record(model_uuid, report.unit, kind, status, now)
        return check

    async def stored_reports(
        self, keys: Sequence[UnitKey]
    ) -> dict[UnitKey, tuple[StoredReport, int]]:
        """The stored report of each unit named (model, machine, name), with the highest
        number accepted from it (`accepted_seq`), in one query; a unit not on that machine
        is absent."""
        if not keys:
            return {}
        u = t.units.c
        rows = await self._conn.execute(
            sa.select(
                u.model_uuid,
                u.machine_number,
                u.workload_status,
                u.workload_message,
                u.agent_status,
                u.agent_message,
                *SEQ_COLUMNS,
            )
            .join(t.applications, t.applications.c.id == u.application_id)
            .where(sa.tuple_(u.model_uuid, u.machine_number, u.name).in_(list(dict.fromkeys(keys))))
        )
        return {
            (str(row.model_uuid), int(row.machine_number), str(row.name)): (
                StoredReport(
                    int(row.report_seq),
                    (str(row.workload_status), str(row.workload_message)),
                    (str(row.agent_status), str(row.agent_message)),
                ),
                row_accepted_seq(row),
            )
            for row in rows
        }

    async def write_reports(self, writes: Sequence[ReportWrite], now: float) -> bool:
        """Store unit reports, each over the row its writer holds as stored (`before`): one
        UPDATE executed for all, guarded by `before`, so a row that moved meanwhile is left
        as it is; a status that changed is recorded in the history (one INSERT for all).
        Returns whether every row was as its writer held (if not, roll back: the history
        would not match)."""
        if not writes:
            return True
        u = t.units.c
        b = sa.bindparam
        update = (
            sa.update(t.units)
            .where(
                u.model_uuid == b("b_model"),
                u.machine_number == b("b_machine"),
                u.name == b("b_name"),
                u.report_seq == b("b_seq"),
                u.workload_status == b("b_ws"),
                u.workload_message == b("b_wm"),
                u.agent_status == b("b_as"),
                u.agent_message == b("b_am"),
            )
            .values(
                workload_status=b("n_ws"),
                workload_message=b("n_wm"),
                agent_status=b("n_as"),
                agent_message=b("n_am"),
                workload_version=b("n_version"),
                converged_hash=b("n_hash"),
                snapshot_revision=b("n_revision"),
                report_seq=b("n_seq"),
                workload_since=sa.case((b("n_wmoved") == 1, now), else_=u.workload_since),
                agent_since=sa.case((b("n_amoved") == 1, now), else_=u.agent_since),
            )
        )
        rows = [_report_row(write) for write in writes]
        result = await self._conn.execute(update, rows)
        if not await self._all_matched(writes, result.rowcount):
            return False
        await self.history.record_many(
            [entry for write in writes for entry in _history(write)], now
        )
        return True

    async def _all_matched(self, writes: Sequence[ReportWrite], rowcount: int) -> bool:
        if self._conn.dialect.supports_sane_multi_rowcount:
            return rowcount == len(writes)
        final = {write.key: write.report.seq for write in writes}
        u = t.units.c
        found = await self._conn.execute(
            sa.select(sa.func.count()).where(
                sa.tuple_(u.model_uuid, u.machine_number, u.name, u.report_seq).in_(
                    [(*key, seq) for key, seq in final.items()]
                )
            )
        )
        return int(found.scalar_one()) == len(final)

    async def _remove_dying(
        self, model_uuid: str, name: str, where: tuple[Any, ...], now: float
    ) -> None:
        gone = await self._first(
            sa.delete(t.units).where(*where, t.units.c.life == "dying").returning(t.units.c.name)
        )
        if gone is None:
            return
        await self.relations.leave_all_scopes(model_uuid, name)
        await self.secrets.forget_owner(model_uuid, unit=name)
        await self.actions.fail_unfinished(model_uuid, name, f'unit "{name}" was removed', now)
        self._session.changed(f"unit-{name}", "removed", model_uuid)


def _report_row(write: ReportWrite) -> dict[str, Any]:
    (model_uuid, machine_number, name), report = write.key, write.report
    before, after = write.before, write.after
    return {
        "b_model": model_uuid,
        "b_machine": machine_number,
        "b_name": name,
        "b_seq": before.seq,
        "b_ws": before.workload[0],
        "b_wm": before.workload[1],
        "b_as": before.agent[0],
        "b_am": before.agent[1],
        "n_ws": after.workload[0],
        "n_wm": after.workload[1],
        "n_as": after.agent[0],
        "n_am": after.agent[1],
        "n_version": report.workload_version,
        "n_hash": report.converged_hash,
        "n_revision": report.snapshot_revision,
        "n_seq": report.seq,
        "n_wmoved": int(after.workload != before.workload),
        "n_amoved": int(after.agent != before.agent),
    }


def _history(write: ReportWrite) -> list[tuple[str, str, str, tuple[str, str]]]:
    """The history entries a report makes: each status that changed."""
    model_uuid, _, name = write.key
    before, after = write.before, write.after
    entries = []
    if after.workload != before.workload:
        entries.append((model_uuid, name, "workload", after.workload))
    if after.agent != before.agent:
        entries.append((model_uuid, name, "juju-unit", after.agent))
    return entries
