"""Machines are made in background tasks, so a pass never waits for a substrate.

A container takes seconds to make and a cloud machine minutes: the pass that asks for a
machine starts its task and goes on to dispatch. When a machine is made (or fails), its
outcome is written on its own and the hub wakes the reconciler, whose next pass sends that
machine's agent its units at once, whatever the other machines of the model are doing.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from runecraft import errors
from runecraft.controller.providers import Provider
from runecraft.controller.reconcilers._actions import Outcome, Provision
from runecraft.controller.reconcilers._provisioning import backoff, retry_after
from runecraft.controller.services import ChangeHub, agent_machine_spec
from runecraft.controller.state import ModelRecord, Store
from runecraft.schemas.agent import BrokerAddress

__all__ = ["PROVISION_CONCURRENCY", "Provisioner"]

logger = structlog.get_logger(__name__)

PROVISION_CONCURRENCY = 6
"""Machines of one model made at once."""


@dataclass(kw_only=True, eq=False)
class Provisioner:
    """Owns the tasks that make machines: at most PROVISION_CONCURRENCY per model."""

    store: Store
    hub: ChangeHub
    providers: Callable[[str], Provider]
    broker_for_agents: Callable[[str, str], BrokerAddress]
    api_url: str
    made: Callable[[str], None]
    """Called with a machine's agent once the machine is made (its agent is new)."""
    _tasks: set[asyncio.Task[Outcome]] = field(default_factory=set, init=False)
    _in_flight: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set), init=False)
    _slots: dict[str, asyncio.Semaphore] = field(default_factory=dict, init=False)
    _failure: BaseException | None = field(default=None, init=False)

    def in_flight(self, model_uuid: str) -> frozenset[int]:
        """Machines of the model being made now."""
        return frozenset(self._in_flight.get(model_uuid, ()))

    @property
    def busy(self) -> bool:
        """Some machine is being made."""
        return bool(self._tasks)

    @property
    def making(self) -> int:
        """Machines being made now."""
        return len(self._tasks)

    def start(self, model: ModelRecord, action: Provision, password: str) -> None:
        """Make the machine of `action` in a task of its own."""
        self._in_flight[model.uuid].add(action.machine.number)
        task = asyncio.create_task(self._provision(model, action, password))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._failure is None:
            self._failure = task.exception()

    def check(self) -> None:
        """Raise what broke a task (a bug, not a substrate's refusal) in the reconciler."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    async def settle(self) -> list[Outcome]:
        """Wait for every machine being made; their outcomes."""
        outcomes: list[Outcome] = []
        while self._tasks:
            done = await asyncio.gather(*self._tasks, return_exceptions=True)
            outcomes += [o for o in done if isinstance(o, Outcome)]  # failures: see `check`
        return outcomes

    async def close(self) -> None:
        """Stop making machines (a restarted controller makes them again)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _provision(self, model: ModelRecord, action: Provision, password: str) -> Outcome:
        slots = self._slots.setdefault(model.uuid, asyncio.Semaphore(PROVISION_CONCURRENCY))
        try:
            async with slots:
                outcome = await self._make(model, action, password)
            try:
                await self._record(model, outcome)
            except errors.NotFoundError:  # the model went meanwhile
                logger.info("machine made for a model that is gone", machine=action.machine.number)
        finally:
            in_flight = self._in_flight[model.uuid]
            in_flight.discard(action.machine.number)
            if not in_flight:  # nothing of the model waits on its slots: forget both
                del self._in_flight[model.uuid]
                self._slots.pop(model.uuid, None)
            self.hub.changed()
        return outcome

    async def _make(self, model: ModelRecord, action: Provision, password: str) -> Outcome:
        machine = action.machine
        spec = agent_machine_spec(
            model,
            machine,
            password,
            self.broker_for_agents,
            self.api_url,
            action.constraints,
            units=action.units,
        )
        try:
            info = await self.providers(action.provider).ensure_machine(spec)
        except errors.RunecraftError as exc:
            logger.warning("provisioning failed", machine=machine.number, error=exc.message)
            return self._failed(action, exc.message, exc)
        except Exception as exc:  # a provider let a library's error through: still the machine's
            logger.exception("provisioning failed unexpectedly", machine=machine.number)
            return self._failed(action, f"the {action.provider} provider failed: {exc!r}", None)
        # Until the agent says hello (which resets the count), a restart of it waits
        # (5 s doubling): an agent that dies at start-up must not be respawned in a hot loop.
        self.made(machine.agent)
        return Outcome(
            action, retry_at=time.time() + backoff(machine.retry_count + 1), instance=info
        )

    @staticmethod
    def _failed(action: Provision, message: str, error: errors.RunecraftError | None) -> Outcome:
        """A machine that was not made: its status says why, and it is tried again later."""
        count = action.machine.retry_count + 1
        wait = backoff(count) if error is None else retry_after(error, count)
        return Outcome(action, ok=False, message=message, retry_at=time.time() + wait)

    async def _record(self, model: ModelRecord, outcome: Outcome) -> None:
        """Write one machine's outcome: its instance, or its error and next try."""
        assert isinstance(outcome.action, Provision)
        machine = outcome.action.machine
        values: dict[str, Any] = {
            "retry_count": machine.retry_count + 1,
            "retry_at": outcome.retry_at,
        }
        if outcome.instance is None:
            values |= {
                "status": "error",
                "status_message": outcome.message,
                "status_since": time.time(),
            }
        else:
            values |= {
                "status": "pending",
                "instance_id": outcome.instance.instance_id,
                "hostname": outcome.instance.hostname,
                "address": outcome.instance.address,
            }
        async with self.store.write(model.name) as tx:
            await tx.machines.update(machine, **values)
