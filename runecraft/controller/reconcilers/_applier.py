"""The one place where planned actions touch the world: the database, providers, the bus.

Database-only actions are written together in one transaction; releases run side by side
(bounded); machines are made in the background by the `Provisioner`; snapshots are sent to
agents. Every action gets an `Outcome`; a machine that fails keeps its error and its next
try in the database, so status shows it and a restarted controller honours it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from runecraft import errors
from runecraft.controller import _passwords
from runecraft.controller.providers import Provider
from runecraft.controller.reconcilers._actions import (
    Action,
    AddSubordinates,
    AssignMachine,
    ChangeLeader,
    DeleteApplication,
    DeleteModel,
    DeleteRelations,
    ForgetUnit,
    KillApplication,
    KillRelation,
    KillUnit,
    Outcome,
    Provision,
    Publish,
    Release,
    WriteAction,
)
from runecraft.controller.reconcilers._provisioner import PROVISION_CONCURRENCY, Provisioner
from runecraft.controller.reconcilers._provisioning import retry_after
from runecraft.controller.services import AgentService
from runecraft.controller.state import ModelRecord, Store, Tx
from runecraft.schemas import bus

__all__ = ["Applier", "Publisher"]

logger = structlog.get_logger(__name__)


class Publisher(Protocol):
    """Sends a snapshot to one agent (the bus edge)."""

    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool: ...


@dataclass(kw_only=True, eq=False)
class Applier:
    """Performs actions and reports their outcomes."""

    store: Store
    agents: AgentService
    providers: Callable[[str], Provider]
    publisher: Publisher
    provisioner: Provisioner
    credentials_changed: Callable[[], Awaitable[None]]
    lease_seconds: float
    digests: dict[str, str] = field(default_factory=dict, init=False)
    """Per agent: digest of the last snapshot sent (to skip sending it again)."""
    revisions: dict[str, int] = field(default_factory=dict, init=False)
    """Per agent: model revision of the last snapshot sent (shown in status)."""
    sent: int = field(default=0, init=False)
    """Snapshots sent so far."""

    async def apply(
        self, model: ModelRecord, actions: Sequence[Action], now: float
    ) -> list[Outcome]:
        """Perform `actions` (planned for `model` at `now`), database writes first and
        snapshots last; an outcome per action, except for machines being made, whose
        outcome their task writes."""
        writes = [
            a for a in actions if not isinstance(a, Provision | Release | DeleteModel | Publish)
        ]
        outcomes = await self._write(model, writes, now) if writes else []
        outcomes += await self._release(model, [a for a in actions if isinstance(a, Release)], now)
        outcomes += await self._provision(
            model, [a for a in actions if isinstance(a, Provision)], now
        )
        for action in actions:
            if isinstance(action, DeleteModel):
                await self.store.delete_model(model.uuid)
                logger.info("model destroyed", model=model.name)
                outcomes.append(Outcome(action))
        outcomes += [await self._publish(a) for a in actions if isinstance(a, Publish)]
        return outcomes

    # --- database ---------------------------------------------------------------------

    async def _write(
        self, model: ModelRecord, actions: Sequence[WriteAction], now: float
    ) -> list[Outcome]:
        async with self.store.write(model.name) as tx:
            for action in actions:
                await self._write_one(tx, model, action, now)
        leaders = {a.app.name: a.leader for a in actions if isinstance(a, ChangeLeader)}
        if leaders:
            logger.info("leaders elected", model=model.name, leaders=leaders)
        return [Outcome(action) for action in actions]

    async def _write_one(self, tx: Tx, model: ModelRecord, action: WriteAction, now: float) -> None:
        match action:
            case KillApplication(app):
                await tx.applications.update(app, life="dying")
            case KillRelation(relation):
                await tx.relations.set_life(relation, "dying")
            case KillUnit(unit, None):
                await tx.units.update(unit, life="dying")
            case KillUnit(unit, remove_after):
                await tx.units.update(
                    unit, life="dying", force_removal=True, remove_after=remove_after
                )
            case ForgetUnit(unit):
                logger.warning(
                    "unit removed with --force forgotten: its agent did not report its removal",
                    model=model.name,
                    unit=unit.name,
                )
                await tx.units.forget(unit, now)
            case DeleteRelations(ids):
                await tx.relations.delete(model.uuid, set(ids))
            case DeleteApplication(app, peers):
                await tx.relations.delete(model.uuid, set(peers))
                await tx.applications.delete(app)
            case AddSubordinates(app, principals):
                fresh = await tx.applications.get(app.name)
                await tx.units.add(
                    fresh,
                    len(principals),
                    [p.machine_number for p in principals],
                    principals=[p.name for p in principals],
                )
            case AssignMachine(unit):
                machine = await tx.machines.insert()
                await tx.units.update(
                    unit, machine_number=machine.number, workload_message="waiting for machine"
                )
            case ChangeLeader(app, leader, moved):
                await tx.applications.update(
                    app,
                    leader=leader,
                    lease_expiry=None if leader is None else now + self.lease_seconds,
                    leader_settings_version=app.leader_settings_version + int(moved),
                )

    # --- machines ---------------------------------------------------------------------

    async def _provision(
        self, model: ModelRecord, actions: Sequence[Provision], now: float
    ) -> list[Outcome]:
        """Give each machine a fresh credential, tell the broker once for the whole batch
        (before any agent can dial in), then make the machines in the background."""
        if not actions:
            return []
        passwords = {a.machine.number: _passwords.new_password() for a in actions}
        async with self.store.write(model.name) as tx:
            for action in actions:
                await tx.machines.update(
                    action.machine,
                    password_hash=_passwords.hash_password(passwords[action.machine.number]),
                    status="provisioning",
                    status_message="",
                    status_since=now,
                )
        await self.credentials_changed()
        for action in actions:
            self.provisioner.start(model, action, passwords[action.machine.number])
        return []

    async def _release(
        self, model: ModelRecord, actions: Sequence[Release], now: float
    ) -> list[Outcome]:
        """Remove empty machines side by side; forget those removed, and back off those
        that could not be (their error shows in status)."""
        if not actions:
            return []
        slots = asyncio.Semaphore(PROVISION_CONCURRENCY)

        async def release(action: Release) -> Outcome:
            machine = action.machine
            async with slots:
                try:
                    await self.providers(action.provider).destroy_machine(
                        model.uuid, machine.number
                    )
                except errors.RunecraftError as exc:
                    count = machine.retry_count + 1
                    logger.warning(
                        "releasing machine failed", machine=machine.number, error=exc.message
                    )
                    return Outcome(
                        action,
                        ok=False,
                        message=f"cannot remove the agent: {exc.message}",
                        retry_at=now + retry_after(exc, count),
                    )
            return Outcome(action)

        outcomes = list(await asyncio.gather(*(release(a) for a in actions)))
        async with self.store.write(model.name) as tx:
            for outcome in outcomes:
                assert isinstance(outcome.action, Release)
                machine = outcome.action.machine
                if outcome.ok:
                    await tx.machines.delete(machine)
                else:
                    await tx.machines.update(
                        machine,
                        status="error",
                        status_message=outcome.message,
                        status_since=now,
                        retry_count=machine.retry_count + 1,
                        retry_at=outcome.retry_at,
                    )
        for outcome in outcomes:
            if outcome.ok:
                assert isinstance(outcome.action, Release)
                self.forget(outcome.action.machine.agent)
                self.agents.forget(outcome.action.machine.agent)
        if any(outcome.ok for outcome in outcomes):
            await self.credentials_changed()  # a removed machine's credential stops working
        return outcomes

    # --- dispatch ---------------------------------------------------------------------

    def forget(self, agent: str) -> None:
        """Send `agent` its next snapshot even if its content did not change."""
        self.digests.pop(agent, None)
        self.revisions.pop(agent, None)

    def forget_all(self) -> None:
        """Send every agent its next snapshot (the bus connection was new)."""
        self.digests.clear()
        self.revisions.clear()

    async def _publish(self, action: Publish) -> Outcome:
        if not await self.publisher.publish(action.agent, action.snapshot):
            return Outcome(action, ok=False, message="not connected to the bus")
        self.digests[action.agent] = action.digest
        self.revisions[action.agent] = action.snapshot.revision
        self.sent += 1
        return Outcome(action)
