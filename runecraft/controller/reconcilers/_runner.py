"""The reconcile loop: level-triggered passes that make the substrate match the model.

A wake-up only says "look again": each pass re-reads a snapshot of the database (a constant
number of queries), plans with the pure functions of `_plan`, and applies the plan. A pass
that fails is retried on the next wake-up or tick; a machine that fails to provision backs
off (5 s doubling to 5 min, with jitter) and shows the error in status.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog

from runecraft import errors
from runecraft.controller import _passwords
from runecraft.controller.providers import MachineSpec, Provider
from runecraft.controller.reconcilers import _plan
from runecraft.controller.services import AgentService, ChangeHub
from runecraft.controller.state import (
    ApplicationRecord,
    MachineRecord,
    ModelRecord,
    ModelSnapshot,
    Store,
    UnitRecord,
)
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

__all__ = ["Publisher", "Reconciler", "machine_constraints"]

logger = structlog.get_logger(__name__)

RETRY_MIN = 5.0
RETRY_MAX = 300.0
PROVISION_CONCURRENCY = 6
"""Machines of one model made at once in a pass."""


class Publisher(Protocol):
    """Sends a snapshot to one agent (the bus edge)."""

    async def publish(self, agent: str, message: bus.MachineSnapshot) -> bool: ...


def machine_constraints(
    number: int, apps: Sequence[ApplicationRecord], units: Sequence[UnitRecord]
) -> dict[str, Any]:
    """The constraints of the applications with units on a machine (by unit name, later
    ones win), which the provider turns into the machine's size."""
    by_id = {app.id: app for app in apps}
    merged: dict[str, Any] = {}
    for unit in sorted(units, key=lambda u: u.name):
        if unit.machine_number == number and unit.application_id in by_id:
            merged.update(by_id[unit.application_id].constraints)
    return merged


def backoff(retry_count: int) -> float:
    """5 s doubling to 5 min, with ±20 % jitter."""
    base = min(RETRY_MAX, RETRY_MIN * 2.0 ** min(max(0, retry_count - 1), 16))
    return float(base * random.uniform(0.8, 1.2))


class Reconciler:
    """Runs every reconciler of the controller in one level-triggered loop."""

    def __init__(
        self,
        *,
        store: Store,
        hub: ChangeHub,
        agents: AgentService,
        providers: Callable[[str], Provider],
        publisher: Publisher,
        broker_for_agents: Callable[[str, str], BrokerAddress],
        credentials_changed: Callable[[], Awaitable[None]],
        api_url: str,
        interval: float,
        lease_seconds: float,
    ) -> None:
        self.store = store
        self.hub = hub
        self.agents = agents
        self.providers = providers
        self.publisher = publisher
        self.broker_for_agents = broker_for_agents
        self.credentials_changed = credentials_changed
        self.api_url = api_url
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.published: dict[str, tuple[str, int]] = {}
        """Per agent: digest and revision of the last snapshot sent."""
        self.reconciled_generation = -1
        """The hub generation the last completed pass started from."""

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hub.reconcile.wait(), self.interval)
            self.hub.reconcile.clear()
            generation = self.hub.generation
            try:
                changed = await self.pass_once()
            except errors.RunecraftError as exc:
                logger.warning("reconcile pass failed", error=exc.message)
                continue
            self.reconciled_generation = generation
            if changed:
                self.hub.changed()

    async def pass_once(self) -> bool:
        """One full pass; returns whether it changed the model (so another pass follows)."""
        # An agent that said hello gets its snapshot again, whichever model it serves.
        hellos, self.agents.hellos = self.agents.hellos, set()
        for agent in hellos:
            self.published.pop(agent, None)
        snapshot = await self.store.snapshot()
        now = time.time()
        changed = False
        for model in snapshot.models:
            # Lines logged for a model go to its `debug-log` too.
            with structlog.contextvars.bound_contextvars(model=model.name):
                changed |= await self._model_pass(model, snapshot, now)
        return changed

    async def _model_pass(self, model: ModelRecord, snap: ModelSnapshot, now: float) -> bool:
        mine = snap.for_model(model.uuid)
        apps, units, machines = mine.applications, mine.units, mine.machines
        relations = _plan.RelationState(mine.relations, mine.endpoints, mine.scopes, mine.databags)
        changed = False

        # Lifecycle: a dying model takes its applications, a dying application its units and
        # its relations; an application goes once no unit and no relation is left.
        dying_apps = {a.id for a in apps if a.life == "dying" or model.life == "dying"}
        to_kill = [u for u in units if u.application_id in dying_apps and u.life == "alive"]
        empty_apps = _plan.deletable_applications(apps, units, relations, model.life == "dying")
        dead = _plan.dead_relations(relations)
        doomed = _plan.doomed_relations(apps, relations, model.life == "dying")
        if (
            to_kill
            or empty_apps
            or dead
            or doomed
            or (model.life == "dying" and any(a.life == "alive" for a in apps))
        ):
            async with self.store.write(model.name) as tx:
                for app in apps:
                    if model.life == "dying" and app.life == "alive":
                        await tx.update_application(app, life="dying")
                for relation in doomed:
                    await tx.set_relation_life(relation, "dying")
                for unit in to_kill:
                    await tx.update_unit(unit, life="dying")
                await tx.delete_relations(model.uuid, dead)
                for app in empty_apps:
                    await tx.delete_relations(
                        model.uuid,
                        {e.relation_id for e in mine.endpoints if e.application == app.name},
                    )
                    await tx.delete_application(app)
            return True

        # Assignment: every unit without a machine gets a new one.
        unplaced = [u for u in units if u.machine_number is None and u.life == "alive"]
        if unplaced:
            async with self.store.write(model.name) as tx:
                for unit in unplaced:
                    machine = await tx.insert_machine()
                    await tx.update_unit(
                        unit,
                        machine_number=machine.number,
                        workload_message="waiting for machine",
                    )
            return True

        # Leadership.
        leader_changes = _plan.plan_leaders(apps, units, now)
        if leader_changes:
            by_id = {a.id: a for a in apps}
            async with self.store.write(model.name) as tx:
                for change in leader_changes:
                    app = by_id[change.application_id]
                    await tx.update_application(
                        app,
                        leader=change.leader,
                        lease_expiry=None if change.leader is None else now + self.lease_seconds,
                        leader_settings_version=app.leader_settings_version + int(change.moved),
                    )
            logger.info(
                "leaders elected",
                model=model.name,
                leaders={c.application: c.leader for c in leader_changes},
            )
            return True

        # Machines: provision, supervise, remove.
        units_on: dict[int, int] = defaultdict(int)
        for unit in units:
            if unit.machine_number is not None:
                units_on[unit.machine_number] += 1
        model_provider = self.providers(model.cloud)
        wanted: list[tuple[Provider, MachineRecord]] = []
        for machine in machines:
            # Enlisted machines belong to the manual provider whatever the model's cloud,
            # and stay (empty) until removed; a placed container (`--to lxd`) to its own.
            enlisted = machine.enlistment is not None
            if enlisted:
                provider = self.providers("manual")
            elif machine.substrate is not None:
                provider = self.providers(machine.substrate)
            else:
                provider = model_provider
            if units_on.get(machine.number, 0) == 0:
                if enlisted and machine.life == "alive" and model.life == "alive":
                    continue
                if not await self._release(provider, model, machine, now):
                    continue
                async with self.store.write(model.name) as tx:
                    await tx.delete_machine(machine)
                self.published.pop(machine.agent, None)
                self.agents.forget(machine.agent)
                changed = True
            elif (machine.retry_at is None or machine.retry_at <= now) and not (
                await provider.machine_running(model.uuid, machine.number)
            ):
                wanted.append((provider, machine))
        if wanted:
            await self._provision(model, wanted, apps, units, now)
            changed = True

        if model.life == "dying" and not apps and not machines:
            await self.store.delete_model(model.uuid)
            logger.info("model destroyed", model=model.name)
            return True

        # Dispatch: each machine's agent gets its units' desired state when it changed.
        snapshots = _plan.machine_snapshots(
            model,
            apps,
            units,
            machines,
            snap.charms,
            relations,
            mine.actions,
            mine.secrets,
            storage=mine.storage,
            resources=mine.resources,
        )
        for machine in machines:
            snapshot = snapshots.get(machine.number)
            if snapshot is None:
                continue
            digest = _plan.snapshot_digest(snapshot)
            previous = self.published.get(machine.agent)
            if previous is not None and previous[0] == digest:
                continue
            if await self.publisher.publish(machine.agent, snapshot):
                self.published[machine.agent] = (digest, snapshot.revision)
        return changed

    async def _release(
        self, provider: Provider, model: ModelRecord, machine: MachineRecord, now: float
    ) -> bool:
        """Destroy an empty machine; an enlisted host that cannot be cleaned up backs off."""
        if machine.enlistment is None:
            await provider.destroy_machine(model.uuid, machine.number)
            return True
        if machine.retry_at is not None and machine.retry_at > now and machine.status == "error":
            return False
        try:
            await provider.destroy_machine(model.uuid, machine.number)
        except errors.RunecraftError as exc:
            count = machine.retry_count + 1
            async with self.store.write(model.name) as tx:
                await tx.update_machine(
                    machine,
                    status="error",
                    status_message=f"cannot remove the agent: {exc.message}",
                    status_since=now,
                    retry_count=count,
                    retry_at=now + backoff(count),
                )
            logger.warning("releasing machine failed", machine=machine.number, error=exc.message)
            return False
        return True

    async def _provision(
        self,
        model: ModelRecord,
        wanted: Sequence[tuple[Provider, MachineRecord]],
        apps: Sequence[ApplicationRecord],
        units: Sequence[UnitRecord],
        now: float,
    ) -> None:
        """Start (or restart) machines' agents, each with a fresh credential.

        Up to PROVISION_CONCURRENCY machines are made at once (a container takes seconds);
        each one's outcome is written on its own as soon as it is known, and one machine
        failing leaves the others be.
        """
        passwords = {machine.number: _passwords.new_password() for _, machine in wanted}
        async with self.store.write(model.name) as tx:
            for _, machine in wanted:
                await tx.update_machine(
                    machine,
                    password_hash=_passwords.hash_password(passwords[machine.number]),
                    status="provisioning",
                    status_message="",
                    status_since=now,
                )
        # One broker credential update for the whole batch, before any agent can dial in.
        await self.credentials_changed()
        slots = asyncio.Semaphore(PROVISION_CONCURRENCY)

        async def provision(provider: Provider, machine: MachineRecord) -> None:
            async with slots:
                await self._provision_one(
                    provider,
                    model,
                    machine,
                    passwords[machine.number],
                    machine_constraints(machine.number, apps, units),
                )

        outcomes = await asyncio.gather(
            *(provision(provider, machine) for provider, machine in wanted),
            return_exceptions=True,
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):  # a bug, not a substrate's refusal
                raise outcome

    async def _provision_one(
        self,
        provider: Provider,
        model: ModelRecord,
        machine: MachineRecord,
        password: str,
        constraints: dict[str, Any],
    ) -> None:
        spec = MachineSpec.for_agent(
            model_name=model.name,
            model_uuid=model.uuid,
            number=machine.number,
            agent=machine.agent,
            password=password,
            broker=self.broker_for_agents(machine.agent, password),
            api_url=self.api_url,
            constraints=constraints,
        )
        try:
            info = await provider.ensure_machine(spec)
        except errors.RunecraftError as exc:
            now = time.time()
            count = machine.retry_count + 1
            async with self.store.write(model.name) as tx:
                await tx.update_machine(
                    machine,
                    status="error",
                    status_message=exc.message,
                    status_since=now,
                    retry_count=count,
                    retry_at=now + backoff(count),
                )
            logger.warning("provisioning failed", machine=machine.number, error=exc.message)
            return
        self.published.pop(machine.agent, None)
        # Until the agent says hello, a restart of it waits (5 s doubling): an agent that
        # dies at start-up must not be respawned in a hot loop.
        now = time.time()
        count = machine.retry_count + 1
        async with self.store.write(model.name) as tx:
            await tx.update_machine(
                machine,
                instance_id=info.instance_id,
                hostname=info.hostname,
                address=info.address,
                status="pending",
                retry_count=count,
                retry_at=now + backoff(count),
            )

    def published_revision(self, agent: str) -> int | None:
        """Revision of the snapshot last sent to an agent (None: nothing sent yet)."""
        entry = self.published.get(agent)
        return None if entry is None else entry[1]
