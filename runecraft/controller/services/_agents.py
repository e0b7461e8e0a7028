"""What agents tell the controller, applied in batches.

Reports are whole states with sequence numbers, so applying them is idempotent and a stale
one is ignored; hook commits apply exactly once, in order. The bus topic identifies the
agent (the broker ACL enforces it), and every write is confined to units on that agent's
machine. A batch is one transaction (a group commit): its unit reports are judged against
the last report of each unit this writer stored, held in memory, and written with one
statement for all (`_reports`), and its heartbeats' leases likewise, so the statements of a
batch hardly grow with it. If a batch fails, its messages are applied one by one so a
single bad message cannot hold the others back (agents resend unacknowledged commits).
While the database is unavailable (`errors.TemporaryError`: a full disk, a read-only
database) the messages wait and are tried again with back-off, logged once per outage; an
agent learns a commit is stored only from a snapshot, so nothing is acknowledged meanwhile.

What waits is bounded: a later heartbeat of an agent replaces its earlier one, a later report
of a unit (`unit-report`, `app-status`) its earlier one of that kind, and beyond `MAX_WAITING`
hook commits, action logs and hellos are dropped (logged once) and their agent is sent its
snapshot again: it resends every commit a newer snapshot does not show, and an action's
outcome carries its whole log. Everything else (commits, `leader-set`) is applied in
order. A heartbeat renews leases from when it was received, not from when it is stored, so
one that waited out an outage cannot keep a lease of an agent that died meanwhile.

Heartbeats do not queue behind the rest: each batch takes every waiting heartbeat first, so
under a backlog of hook work (thousands of commits and reports) a leader's renewal is
stored with the next batch. Were it queued in arrival order, each new heartbeat of an agent
would replace the one before at the end of the queue, and while the backlog took longer to
drain than a heartbeat interval none would ever be stored and the lease of a live leader
would run out.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from runecraft import _retry, _tracing, errors
from runecraft.controller.services._hook_commit import (
    BatchReads,
    HookCommitState,
    apply_hook_commit,
)
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._ports import StateStore, StoreService, WithHookRuns
from runecraft.controller.services._reports import ReportCache, ReportGroup, ReportsMoved
from runecraft.controller.services._stalls import StallWatch
from runecraft.controller.state import MachineRecord, SeqCheck, accepted_seq
from runecraft.schemas import bus, sequencing

__all__ = ["HEARTBEAT_SECONDS", "MAX_WAITING", "AgentService", "Received"]

logger = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 10.0
MAX_BATCH = 1000
MAX_WAITING = 20_000
"""Messages that may wait to be stored (an outage of the database); beyond it, those the
agents send again are dropped (see the module docstring)."""
_DROPPABLE = (bus.HookCommit, bus.ActionLog, bus.Hello, bus.HookRun)
"""Kinds an agent sends again (or whose content comes again) once it is sent its snapshot;
and hook-run records, which are a log: a lost one is a gap in `rune hooks`, nothing more."""


class AgentState(HookCommitState, WithHookRuns, Protocol):
    """What applying a batch of agent messages reads and writes."""


class AgentStore(StateStore[AgentState], Protocol):
    async def machine_by_agent(self, agent: str) -> MachineRecord | None: ...

    def on_commit(self, watcher: Callable[[Sequence[tuple[str, str, str]]], None]) -> None: ...


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


@dataclass(frozen=True, eq=False)
class Received:
    """One agent message as it arrived."""

    agent: str
    message: bus.AgentMessage
    at: float = field(default_factory=time.time)
    """Wall-clock seconds when the controller received it."""
    trace: str | None = field(default_factory=_tracing.traceparent)
    """The span that sent it (its envelope's), while tracing is on."""


def superseding_key(agent: str, message: bus.AgentMessage) -> tuple[str, ...] | None:
    """Messages with the same key replace each other while they wait: the latest heartbeat
    of an agent, the latest report of a unit per kind. None: every such message counts."""
    if isinstance(message, bus.Heartbeat):
        return (message.kind, agent)
    if isinstance(message, bus.UnitReport | bus.AppStatusReport):
        return (message.kind, agent, message.unit)
    return None


@dataclass
class _Outcome:
    """What a batch's messages did, what its hook commits read once, and the heartbeats'
    writes made once at its end."""

    reads: BatchReads
    hellos: set[str] = field(default_factory=set)
    changed: bool = False
    leases: list[tuple[str, int, str, float]] = field(default_factory=list)
    started: list[tuple[str, int, float]] = field(default_factory=list)
    hook_runs: list[tuple[str, int, bus.HookRun]] = field(default_factory=list)


@dataclass(frozen=True)
class _Machine:
    model_uuid: str
    number: int


class AgentService(StoreService[AgentStore]):
    """Queues agent messages and applies them in one transaction per batch."""

    def __init__(
        self,
        store: AgentStore,
        hub: ChangeHub,
        lease_seconds: float,
        watch: StallWatch | None = None,
    ) -> None:
        super().__init__(store, hub)
        self.lease_seconds = lease_seconds
        self.watch = StallWatch() if watch is None else watch
        """The controller's own stalls (run by `run`): no lease runs out for them."""
        self._waiting: dict[object, Received] = {}
        """Messages not yet stored, in order of arrival (a replaced one moves to the end),
        but heartbeats."""
        self._renewals: dict[str, Received] = {}
        """The latest heartbeat of each agent not yet stored: stored first in every batch."""
        self._arrived = asyncio.Event()
        self._numbers = itertools.count()
        self._dropping = False
        self._stored_since: float | None = -math.inf
        self._machines: dict[str, _Machine] = {}
        self._reports = ReportCache()
        store.on_commit(self._reports.saw_commit)
        self._heard: dict[str, float] = {}
        """When each agent's latest message arrived (for `connected`)."""
        self._forgotten: list[Callable[[str], None]] = []
        self.hellos: set[str] = set()
        """Agents that said hello since the reconciler last looked: resend their snapshot
        (also those that sent a report from the future: the snapshot tells their units the
        numbers the controller holds)."""

    def since(self) -> float | None:
        """When this worker last came back from an outage of the database (None: it is in
        one now, or the controller is only resuming from a stall of its own; -inf: never
        was): heartbeats it holds meanwhile renew no lease yet, so no lease runs out before
        a full one after this (`AgentReach`)."""
        return None if self.watch.stalled() else self._stored_since

    def stalls(self) -> tuple[tuple[float, float], ...]:
        """The controller's own stalls, (began, ended): leases run on by them."""
        return self.watch.stalls()

    def renewals_heard(self) -> dict[str, tuple[float, tuple[str, ...]]]:
        """Each agent's latest heartbeat not stored yet: (the lease expiry it renews to,
        the units it names). A lease runs on by it already (`reconcilers.AgentReach`): under
        a backlog of agent messages, storing it may take longer than a lease."""
        return {
            agent: (received.at + self.lease_seconds, received.message.units)
            for agent, received in self._renewals.items()
            if isinstance(received.message, bus.Heartbeat)
        }

    @property
    def waiting(self) -> int:
        """Messages not yet stored."""
        return len(self._waiting) + len(self._renewals)

    def submit(self, agent: str, message: bus.AgentMessage) -> None:
        """Queue a message to be stored (replacing one it supersedes; see the module)."""
        received = Received(agent, message)
        self._heard[agent] = received.at
        if isinstance(message, bus.Heartbeat):
            self._renewals[agent] = received
            self._arrived.set()
            return
        key: object = superseding_key(agent, message)
        if key is not None:
            self._waiting.pop(key, None)
        elif self.waiting >= MAX_WAITING and isinstance(message, _DROPPABLE):
            if not self._dropping:
                self._dropping = True
                logger.warning(
                    "too many agent messages waiting; dropping those agents send again",
                    waiting=self.waiting,
                )
            self.hellos.add(agent)  # its snapshot, again: it resends what it misses
            return
        else:
            key = next(self._numbers)
        self._waiting[key] = received
        self._arrived.set()

    async def run(self) -> None:
        """Store what waits forever, one batch per transaction; while the database cannot
        take it, it waits (superseded and bounded) until it can. The stall watch runs
        alongside."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.watch.run())
            await self._store_all()

    async def _store_all(self) -> None:
        outage = _retry.Outage("cannot store agent messages; keeping them and retrying")
        while True:
            await self._arrived.wait()
            try:
                await self.store_batch()
            except errors.TemporaryError as exc:
                self._stored_since = None
                await asyncio.sleep(outage.failed(exc, messages=self.waiting))
                continue
            if self._stored_since is None:
                self._stored_since = time.time()
            outage.recovered()

    async def store_batch(self) -> None:
        """Store one batch of what waits: every waiting heartbeat, then up to `MAX_BATCH`
        other messages in order of arrival. Raises `errors.TemporaryError` (all of it still
        waits) when the database cannot take it now."""
        renewals = list(self._renewals.items())
        keys = list(itertools.islice(self._waiting, MAX_BATCH))
        batch = [received for _, received in renewals] + [self._waiting[key] for key in keys]
        changed = await self.apply_received(batch)
        for agent, received in renewals:
            if self._renewals.get(agent) is received:  # not replaced meanwhile
                del self._renewals[agent]
        for key, received in zip(keys, batch[len(renewals) :], strict=True):
            if self._waiting.get(key) is received:  # not replaced meanwhile
                del self._waiting[key]
        if not self.waiting:
            self._arrived.clear()
            self._dropping = False
        if changed:
            self.hub.changed()

    async def _machine(self, agent: str) -> _Machine | None:
        if agent not in self._machines:
            record = await self.store.machine_by_agent(agent)
            if record is None:
                return None
            self._machines[agent] = _Machine(record.model_uuid, record.number)
        return self._machines[agent]

    async def apply(self, batch: list[tuple[str, bus.AgentMessage]]) -> bool:
        """Apply a batch of messages received now (see `apply_received`)."""
        return await self.apply_received([Received(agent, message) for agent, message in batch])

    async def apply_received(self, batch: list[Received]) -> bool:
        """Apply a batch; returns whether the model may have changed (a batch of routine
        heartbeats does not: waking the reconciler for them would keep `rune wait` from
        ever seeing a reconciled model). Raises `errors.TemporaryError` when the database
        cannot take it now (applying it again later is safe: reports go by sequence number,
        commits apply once)."""
        now = time.time()
        located = [(await self._machine(r.agent), r) for r in batch]
        try:
            return await self._apply_held(located, now)
        except errors.TemporaryError:
            raise
        except Exception as exc:
            if len(located) == 1:
                _, received = located[0]
                logger.error(
                    "agent message could not be applied",
                    agent=received.agent,
                    kind=received.message.kind,
                    error=str(exc),
                )
                return True
            logger.warning("batch failed; applying its messages one by one", error=str(exc))
            for item in located:
                await self.apply_located([item], now)
            return True

    async def apply_located(
        self, located: list[tuple[_Machine | None, Received]], now: float
    ) -> None:
        try:
            await self._apply_held(located, now)
        except errors.TemporaryError:
            raise
        except Exception as exc:
            for _, received in located:
                logger.error(
                    "agent message could not be applied",
                    agent=received.agent,
                    kind=received.message.kind,
                    error=str(exc),
                )

    async def _apply_held(
        self, located: list[tuple[_Machine | None, Received]], now: float
    ) -> bool:
        """`_apply`; if a unit's stored report was not the one held (another writer moved
        it), applied again with those units read afresh."""
        try:
            return await self._apply(located, now)
        except ReportsMoved as moved:
            logger.info("stored unit reports moved; reading them again", units=len(moved.keys))
            self._reports.forget(moved.keys)
            return await self._apply(located, now)

    async def _apply(self, located: list[tuple[_Machine | None, Received]], now: float) -> bool:
        outcome = _Outcome(
            BatchReads(
                [
                    (machine.model_uuid, machine.number, received.message.unit)
                    for machine, received in located
                    if machine is not None and isinstance(received.message, bus.HookCommit)
                ]
            )
        )
        group = ReportGroup(self._reports)
        async with self.store.write() as tx:
            for machine, received in located:
                if machine is None:
                    logger.warning("message from unknown agent", agent=received.agent)
                    continue
                await self._apply_one(tx, group, outcome, machine, received, now)
            await self._flush(tx, group, outcome, now)
            await tx.applications.renew_leases_of(outcome.leases)
            await tx.hook_runs.record(outcome.hook_runs)
            outcome.changed |= await tx.machines.mark_all_started(outcome.started)
        group.committed()
        self.hellos |= outcome.hellos
        return outcome.changed or bool(outcome.hellos)

    async def _apply_one(
        self,
        tx: HookCommitState,
        group: ReportGroup,
        outcome: _Outcome,
        machine: _Machine,
        received: Received,
        now: float,
    ) -> None:
        """One message: a unit report joins the group, a heartbeat the batch's leases;
        what the group's reports bear on (leader-set, app status, a removal) waits for
        them to be stored first."""
        agent, message = received.agent, received.message
        model, number = machine.model_uuid, machine.number
        check: SeqCheck | None = None
        if isinstance(message, bus.UnitReport) and not message.removed:
            group.add(agent, (model, number, message.unit), message)
            outcome.changed = True
            return
        if isinstance(message, bus.Hello | bus.Heartbeat):
            if isinstance(message, bus.Hello):  # the agent was alive when it was received
                outcome.hellos.add(agent)
            expiry = received.at + self.lease_seconds
            outcome.leases += [(model, number, unit, expiry) for unit in message.units]
            outcome.started.append((model, number, received.at))
            return
        if isinstance(message, bus.LogBatch | bus.AgentMetrics):
            return  # the controller routes these to the LogService and MetricsService
        if isinstance(message, bus.HookRun):  # stored at the batch's end, moving no revision
            outcome.hook_runs.append((model, number, message))
            return
        if isinstance(message, bus.HookCommit):
            with _tracing.span(
                "hook commit",
                parent=received.trace,
                attributes={
                    "runecraft.unit": message.unit,
                    "runecraft.hook": message.hook,
                    "runecraft.commit.seq": message.seq,
                },
                orphan=False,
            ):
                await apply_hook_commit(tx, model, number, message, now, outcome.reads)
        elif isinstance(message, bus.ActionLog):
            await apply_action_log(tx, model, number, message, now)
        else:
            await self._flush(tx, group, outcome, now)
            if isinstance(message, bus.UnitReport):  # a removal
                check = await tx.units.apply_report(model, number, message, now)
                group.gone((model, number, message.unit))
                outcome.reads.forget_unit((model, number, message.unit))
            elif isinstance(message, bus.LeaderSet):
                check = await apply_leader_set(tx, model, number, message)
                outcome.reads.forget_unit((model, number, message.unit))
                outcome.reads.applications_written()
            else:
                check = await tx.applications.apply_status(model, number, message, now)
                outcome.reads.applications_written()
        if refuse_future(agent, message, check):
            outcome.hellos.add(agent)
        outcome.changed = True

    @staticmethod
    async def _flush(
        tx: HookCommitState, group: ReportGroup, outcome: _Outcome, now: float
    ) -> None:
        for agent, report, check in await group.flush(tx.units, now):
            if refuse_future(agent, report, check):
                outcome.hellos.add(agent)

    def forget(self, agent: str) -> None:
        """Drop the cached machine of a removed agent."""
        self._machines.pop(agent, None)
        self._heard.pop(agent, None)
        for forgotten in self._forgotten:
            forgotten(agent)

    def on_forget(self, callback: Callable[[str], None]) -> None:
        """Call `callback` with every agent whose machine is removed."""
        self._forgotten.append(callback)

    def connected(self, now: float | None = None) -> int:
        """Agents heard from within three heartbeats (each sends one every
        `HEARTBEAT_SECONDS` while connected)."""
        since = (time.time() if now is None else now) - 3 * HEARTBEAT_SECONDS
        return sum(1 for at in self._heard.values() if at >= since)
