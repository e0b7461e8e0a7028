"""What agents tell the controller, applied in batches.

Reports are whole states with sequence numbers, so applying them is idempotent and a stale
one is ignored; hook commits apply exactly once, in order. The bus topic identifies the
agent (the broker ACL enforces it), and every write is confined to units on that agent's
machine. A batch is one transaction; if it fails, its messages are applied one by one so a
single bad message cannot hold the others back (agents resend unacknowledged commits).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import structlog

from runecraft.controller.services._hook_commit import HookCommitState, apply_hook_commit
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._ports import StateStore, StoreService
from runecraft.controller.state import MachineRecord, SeqCheck, accepted_seq
from runecraft.schemas import bus, sequencing

__all__ = ["HEARTBEAT_SECONDS", "AgentService"]

logger = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 10.0
MAX_BATCH = 1000


class AgentStore(StateStore[HookCommitState], Protocol):
    async def machine_by_agent(self, agent: str) -> MachineRecord | None: ...


async def apply_leader_set(
    tx: HookCommitState, model_uuid: str, machine_number: int, message: bus.LeaderSet
) -> SeqCheck | None:
    """`leader-set`: merged into the application's leader settings while the unit leads;
    the version moves only if the content changed. Returns the check of its number (None:
    no such unit on that machine)."""
    unit = await tx.units.on_machine(model_uuid, machine_number, message.unit)
    if unit is None:
        return None
    app = await tx.applications.by_id(unit.application_id)
    accepted = accepted_seq(
        unit.name, unit.report_seq, unit.leader_set_seq, app.leader, app.status_seq
    )
    check = SeqCheck(
        sequencing.report_verdict(unit.leader_set_seq, accepted, message.seq),
        unit.leader_set_seq,
        accepted,
    )
    if check.verdict is not sequencing.ReportVerdict.APPLY:
        return check
    await tx.units.update(unit, log=False, leader_set_seq=message.seq)
    if app.leader != unit.name:
        logger.warning("leader-set by a non-leader dropped", unit=unit.name)
        return check
    settings = bus.merge_settings(app.leader_settings, message.settings)
    if settings != app.leader_settings:
        await tx.applications.set_leader_settings(app, settings)
    return check


def refuse_future(agent: str, message: bus.AgentMessage, check: SeqCheck | None) -> bool:
    """Log a report numbered beyond what its agent could have sent (it was not stored);
    returns whether it was one."""
    if check is None or check.verdict is not sequencing.ReportVerdict.FUTURE:
        return False
    logger.warning(
        "report from the future refused",
        agent=agent,
        kind=message.kind,
        unit=getattr(message, "unit", ""),
        seq=getattr(message, "seq", None),
        stored=check.stored,
        accepted=check.accepted,
        window=sequencing.REPORT_WINDOW,
    )
    return True


async def apply_action_log(
    tx: HookCommitState, model_uuid: str, machine_number: int, message: bus.ActionLog, now: float
) -> bool:
    """`action-log`: appended to an unfinished action of the unit, which is running."""
    unit = await tx.units.on_machine(model_uuid, machine_number, message.unit)
    if unit is None:
        return False
    row = await tx.actions.of_unit(model_uuid, unit.name, message.action_id)
    if row is None or row.status not in ("pending", "running"):
        return False
    await tx.actions.update(
        model_uuid,
        row.id,
        status="running",
        started=row.started if row.started is not None else now,
        log=[*row.log, {"timestamp": now, "message": message.message}],
    )
    return True


@dataclass(frozen=True)
class _Machine:
    model_uuid: str
    number: int


class AgentService(StoreService[AgentStore]):
    """Queues agent messages and applies them in one transaction per batch."""

    def __init__(self, store: AgentStore, hub: ChangeHub, lease_seconds: float) -> None:
        super().__init__(store, hub)
        self.lease_seconds = lease_seconds
        self._queue: asyncio.Queue[tuple[str, bus.AgentMessage]] = asyncio.Queue()
        self._machines: dict[str, _Machine] = {}
        self.hellos: set[str] = set()
        """Agents that said hello since the reconciler last looked: resend their snapshot
        (also those that sent a report from the future: the snapshot tells their units the
        numbers the controller holds)."""

    def submit(self, agent: str, message: bus.AgentMessage) -> None:
        self._queue.put_nowait((agent, message))

    async def run(self) -> None:
        """Drain the queue forever, one batch per transaction."""
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < MAX_BATCH:
                batch.append(self._queue.get_nowait())
            if await self.apply(batch):
                self.hub.changed()

    async def _machine(self, agent: str) -> _Machine | None:
        if agent not in self._machines:
            record = await self.store.machine_by_agent(agent)
            if record is None:
                return None
            self._machines[agent] = _Machine(record.model_uuid, record.number)
        return self._machines[agent]

    async def apply(self, batch: list[tuple[str, bus.AgentMessage]]) -> bool:
        """Apply a batch; returns whether the model may have changed (a batch of routine
        heartbeats does not: waking the reconciler for them would keep `rune wait` from
        ever seeing a reconciled model)."""
        now = time.time()
        located = [(await self._machine(agent), agent, message) for agent, message in batch]
        try:
            return await self._apply(located, now)
        except Exception as exc:
            if len(located) == 1:
                _, agent, message = located[0]
                logger.error(
                    "agent message could not be applied",
                    agent=agent,
                    kind=message.kind,
                    error=str(exc),
                )
                return True
            logger.warning("batch failed; applying its messages one by one", error=str(exc))
            for item in located:
                await self.apply_located([item], now)
            return True

    async def apply_located(
        self, located: list[tuple[_Machine | None, str, bus.AgentMessage]], now: float
    ) -> None:
        try:
            await self._apply(located, now)
        except Exception as exc:
            for _, agent, message in located:
                logger.error(
                    "agent message could not be applied",
                    agent=agent,
                    kind=message.kind,
                    error=str(exc),
                )

    async def _apply(
        self, located: list[tuple[_Machine | None, str, bus.AgentMessage]], now: float
    ) -> bool:
        hellos = set()
        changed = False
        async with self.store.write() as tx:
            for machine, agent, message in located:
                if machine is None:
                    logger.warning("message from unknown agent", agent=agent)
                    continue
                model, number = machine.model_uuid, machine.number
                check: SeqCheck | None = None
                if isinstance(message, bus.UnitReport):
                    check = await tx.units.apply_report(model, number, message, now)
                elif isinstance(message, bus.HookCommit):
                    await apply_hook_commit(tx, model, number, message, now)
                elif isinstance(message, bus.LeaderSet):
                    check = await apply_leader_set(tx, model, number, message)
                elif isinstance(message, bus.ActionLog):
                    await apply_action_log(tx, model, number, message, now)
                elif isinstance(message, bus.AppStatusReport):
                    check = await tx.applications.apply_status(model, number, message, now)
                elif isinstance(message, bus.LogBatch):
                    continue  # the controller routes logs to the LogService
                else:
                    if isinstance(message, bus.Hello):
                        hellos.add(agent)
                    await tx.applications.renew_leases(
                        model, number, message.units, now + self.lease_seconds
                    )
                    changed |= await tx.machines.mark_started(model, number, now)
                    continue
                if refuse_future(agent, message, check):
                    hellos.add(agent)
                changed = True
        self.hellos |= hellos
        return changed or bool(hellos)

    def forget(self, agent: str) -> None:
        """Drop the cached machine of a removed agent."""
        self._machines.pop(agent, None)
