"""The reconcile loop: level-triggered passes that make the substrate match the model.

A wake-up only says "look again". A pass looks at the models that need it: those whose
revision moved since their last pass, whose agents said hello, or for which something
time-based is due (a lease running out, a machine's retry, the sweep); the others cost one
row each. For a model that needs it, the pass reads its snapshot (a constant number of
queries), plans with the pure planners (`_planners`, `_provisioning`) and hands the
actions to the applier. Machines are made in the background, so dispatch never waits for a
substrate. A pass that fails is retried on the next wake-up or tick; a machine that fails
backs off (5 s doubling to 5 min, with jitter, or longer when the provider says so) and
shows the error in status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from runecraft import _retry, _tracing, errors
from runecraft.controller.providers import Provider, WorkloadProvider
from runecraft.controller.reconcilers import _plan
from runecraft.controller.reconcilers._actions import DeleteModel, ModelState, Release
from runecraft.controller.reconcilers._applier import Applier, Publisher
from runecraft.controller.reconcilers._planners import next_due, plan_dispatch, plan_writes
from runecraft.controller.reconcilers._provisioner import Provisioner
from runecraft.controller.reconcilers._provisioning import (
    liveness_checks,
    plan_provisioning,
    provider_for,
)
from runecraft.controller.reconcilers._unit_states import KeptUnitStates
from runecraft.controller.reconcilers._workloads import Workloads
from runecraft.controller.services import AgentService, ChangeHub
from runecraft.controller.state import ModelRecord, ModelSnapshot, Store
from runecraft.schemas import bus
from runecraft.schemas.agent import BrokerAddress

__all__ = ["Reconciler"]

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Mark:
    """What the last complete pass of a model saw: its revision, and when it needs another
    pass even if that does not move."""

    revision: int
    due: float


@dataclass(kw_only=True, eq=False)
class Reconciler:
    """Runs every reconciler of the controller in one level-triggered loop."""

    store: Store
    hub: ChangeHub
    agents: AgentService
    providers: Callable[[str], Provider]
    publisher: Publisher
    broker_for_agents: Callable[[str, str], BrokerAddress]
    credentials_changed: Callable[[], Awaitable[None]]
    api_url: str
    interval: float
    lease_seconds: float
    bus_since: Callable[[], float | None] = field(default=lambda: -math.inf)
    """When the controller's bus session to the agents began (None: it is down): leases do
    not run out while agents cannot renew them, nor while `agents` cannot store their
    renewals (`_plan.AgentReach`)."""
    observe_pass: Callable[[float], None] = field(default=lambda _: None)
    """Told how many seconds each completed pass took (the controller's metrics)."""
    reconciled_generation: int = field(default=-1, init=False)
    """The hub generation the last completed pass started from, with no machine being
    made."""
    passes: int = field(default=0, init=False)
    """Passes the loop completed (a pass runs as soon as a change wakes an idle loop; one
    that comes during a pass is taken by the next, which follows at once)."""
    _passed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _marks: dict[str, _Mark] = field(default_factory=dict, init=False)
    _agent_models: dict[str, str] = field(default_factory=dict, init=False)
    """Per agent seen in a pass: the uuid of its model."""

    def __post_init__(self) -> None:
        self.provisioner = Provisioner(
            store=self.store,
            hub=self.hub,
            providers=self.providers,
            broker_for_agents=self.broker_for_agents,
            api_url=self.api_url,
            made=self._made,
        )
        self.applier = Applier(
            store=self.store,
            agents=self.agents,
            providers=self.providers,
            publisher=self.publisher,
            provisioner=self.provisioner,
            credentials_changed=self.credentials_changed,
            lease_seconds=self.lease_seconds,
        )
        self.workloads = Workloads(store=self.store, providers=self.providers, api_url=self.api_url)
        self.kept = self.store.kept_snapshots()
        """Each model's snapshot as the last pass read it: a pass reads again only what
        was written since."""
        self.unit_states = KeptUnitStates()
        """Each unit's desired state as the last pass built it: a pass builds again only
        the units whose inputs moved."""

    def invalidate(self, model_uuid: str) -> None:
        """Look at the model again now (its substrate changed behind our back)."""
        self._marks.pop(model_uuid, None)
        self.hub.changed()

    async def run(self) -> None:
        """Pass on every wake-up or tick; while the database is unavailable, passes back off
        and the outage is logged once (it resumes by itself)."""
        outage = _retry.Outage("reconcile passes failing; retrying")
        try:
            while True:
                # Awaited in this task: the pass begins on the loop's next turn after a
                # commit, not two turns later (`wait_for` waits through a task of its
                # own), so its reads are not queued behind the committing request's
                # response and audit record.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self.hub.reconcile.wait()
                self.hub.reconcile.clear()
                generation = self.hub.generation
                causes = self.hub.take_causes()
                started = time.perf_counter()
                shown = (self.reconciled_generation, self.applier.sent)
                try:
                    # A pass acting on traced changes continues their traces (no span
                    # otherwise), and so does the pass its own changes wake.
                    with _tracing.span(
                        "reconcile pass",
                        parent=causes[0] if causes else None,
                        links=causes[1:],
                        orphan=False,
                    ):
                        changed = await self.pass_once()
                        if changed:
                            self.hub.changed()
                except errors.UnavailableError as exc:
                    await asyncio.sleep(outage.failed(exc))
                    self.hub.reconcile.set()  # try again at once after the back-off
                    continue
                except errors.RunecraftError as exc:
                    logger.warning("reconcile pass failed", error=exc.message)
                    continue
                outage.recovered()
                self.observe_pass(time.perf_counter() - started)
                if not self.provisioner.busy:
                    self.reconciled_generation = generation
                self._count_pass()
                if (self.reconciled_generation, self.applier.sent) != shown:
                    self.hub.wake()  # status shows both: its waiters look again
        finally:
            await self.provisioner.close()

    def _count_pass(self) -> None:
        self.passes += 1
        passed, self._passed = self._passed, asyncio.Event()
        passed.set()

    async def passed(self, after: int) -> int:
        """Return `passes` once the loop completed a pass beyond the `after`-th."""
        while self.passes <= after:
            await self._passed.wait()
        return self.passes

    async def pass_once(self) -> bool:
        """One pass over the models that need one; returns whether it changed the model
        (so another pass follows)."""
        self.provisioner.check()
        self._take_hellos()
        models = await self.store.models()
        now = time.time()
        changed = False
        for model in models:
            mark = self._marks.get(model.uuid)
            if mark is not None and mark.revision == model.revision and now < mark.due:
                continue
            # Lines logged for a model go to its `debug-log` too.
            with (
                structlog.contextvars.bound_contextvars(model=model.name),
                _tracing.span(
                    "reconcile model",
                    attributes={
                        "runecraft.model": model.name,
                        "runecraft.model.revision": model.revision,
                    },
                    orphan=False,
                ),
            ):
                changed |= await self._model_pass(model, now)
        for gone in set(self._marks) - {m.uuid for m in models}:
            del self._marks[gone]
        self.kept.keep_only(m.uuid for m in models)
        self.unit_states.keep_only([m.uuid for m in models])
        return changed

    async def settle(self) -> None:
        """Wait until no machine is being made (their outcomes are written)."""
        await self.provisioner.settle()

    def resend_all(self) -> None:
        """Look at every model again and send every agent its snapshot (a new bus
        connection may have lost what was sent)."""
        self.applier.forget_all()
        self._marks.clear()
        self.kept.clear()

    def published_revision(self, agent: str) -> int | None:
        """Revision of the snapshot last sent to an agent (None: nothing sent yet)."""
        return self.applier.revisions.get(agent)

    def _take_hellos(self) -> None:
        """An agent that said hello gets its snapshot again."""
        hellos, self.agents.hellos = self.agents.hellos, set()
        for agent in hellos:
            self.applier.forget(agent)
            model_uuid = self._agent_models.get(agent)
            if model_uuid is None:
                self._marks.clear()
            else:
                self._marks.pop(model_uuid, None)

    def _made(self, agent: str) -> None:
        """A machine was (re)made: its new agent gets its snapshot, on the next pass."""
        self.applier.forget(agent)

    async def _model_pass(self, record: ModelRecord, now: float) -> bool:
        in_flight = self.provisioner.in_flight(record.uuid)
        # Before the read: a heartbeat stored meanwhile is in what it reads, not lost between.
        heartbeats = self.agents.renewals_heard()
        snap = await self.store.kept_snapshot(record, self.kept)
        heard = _plan.renewals_heard(heartbeats, snap.machines, snap.units)
        reach = _plan.AgentReach.of(
            self.bus_since(), self.agents.since(), self.lease_seconds, self.agents.stalls(), heard
        )
        state = ModelState.of(snap, in_flight, reach)
        model = state.model
        writes = plan_writes(state, now)
        if writes:
            await self.applier.apply(model, writes, now)
            return True
        workload = self.workloads.provider(model)
        state = await self._observe(state, workload, now)
        machine_actions = plan_provisioning(state, now)
        deleting = any(isinstance(action, DeleteModel) for action in machine_actions)
        if deleting and workload is not None:
            await self.workloads.release(workload, model)
        outcomes = await self.applier.apply(model, machine_actions, now)
        if deleting:
            return True
        worked = workload is not None and await self.workloads.apply(workload, state, snap, now)
        released = {
            o.action.machine.number for o in outcomes if o.ok and isinstance(o.action, Release)
        }
        machines = [m for m in state.machines if m.number not in released]
        snapshots, digests = self._snapshots(state, snap)
        publishes = plan_dispatch(machines, snapshots, self.applier.digests, digests)
        sent = await self.applier.apply(model, publishes, now)
        self._agent_models.update((m.agent, model.uuid) for m in machines)
        if all(outcome.ok for outcome in sent):  # else the next pass sends it again
            due = min(next_due(state, now), self.workloads.next_due(model.uuid) or math.inf)
            self._marks[model.uuid] = _Mark(model.revision, due)
        return bool(machine_actions) or worked

    def _snapshots(
        self, state: ModelState, snap: ModelSnapshot
    ) -> tuple[dict[int, bus.MachineSnapshot], dict[int, str]]:
        """Every machine's snapshot and its digest (units whose rows did not move since
        the last pass keep what was built for them then)."""
        return self.unit_states.machine_snapshots(
            state.model,
            state.applications,
            state.units,
            state.machines,
            snap.charms,
            state.relations,
            snap.actions,
            snap.secrets,
            storage=snap.storage,
            resources=snap.resources,
        )

    async def _observe(
        self, state: ModelState, workload: WorkloadProvider | None, now: float
    ) -> ModelState:
        """Ask the providers which of the machines that may need making are up (on a
        workload substrate: what it says of every unit's pod)."""
        if workload is not None:
            pods = await self.workloads.observe(workload, state, now)
            return dataclasses.replace(state, running=pods)
        running = set()
        for machine in liveness_checks(state, now):
            provider = self.providers(provider_for(machine, state.model))
            if await provider.machine_running(state.model.uuid, machine.number):
                running.add(machine.number)
        return dataclasses.replace(state, running=frozenset(running))
