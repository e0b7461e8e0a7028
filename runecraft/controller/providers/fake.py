"""An in-memory substrate, shipped in the box as httpx ships `MockTransport`.

A machine is an entry in a dict and no agent runs, so tests drive the reconciler (or a
whole controller on the `fake` cloud) without processes, containers or hosts. Hooks decide
how each machine's `ensure_machine` goes: it succeeds by default, `fail(n, error)` makes it
raise, and `block(n)` holds it until `release(n)`, so a test can observe the controller
while a machine is still being made without sleeping. Every call is recorded in `calls`.

Hooks are keyed by machine number, whatever the model.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from runecraft.controller.providers._base import InstanceInfo, MachineSpec, ProviderContext

__all__ = ["FakeCall", "FakeProvider"]


@dataclass(frozen=True)
class FakeCall:
    """One call the provider received."""

    method: str
    """`ensure_machine`, `machine_running` or `destroy_machine`."""
    model_uuid: str
    number: int


class FakeProvider:
    """The `Provider` protocol in memory, with hooks to make a machine fail, block or succeed."""

    name = "fake"

    def __init__(self, context: ProviderContext | None = None) -> None:
        self.context = context
        """What the controller made it with (its cloud, for a test of the wiring)."""
        self.calls: list[FakeCall] = []
        self.specs: dict[tuple[str, int], MachineSpec] = {}
        """The spec each machine was last made with (its agent's configuration)."""
        self.running: set[tuple[str, int]] = set()
        self.in_flight: set[int] = set()
        """Machines whose `ensure_machine` has not returned yet."""
        self.most_in_flight = 0
        """The most machines that were being made at the same time."""
        self.closed = False
        self._failures: dict[int, Exception] = {}
        self._gates: dict[int, asyncio.Event] = {}
        self._making: dict[int, asyncio.Event] = {}

    # --- hooks ------------------------------------------------------------------------

    def fail(self, number: int, error: Exception) -> None:
        """Every `ensure_machine` and `destroy_machine` of machine `number` raises `error`
        until `succeed`: a substrate's refusal (a `RunecraftError`), or any other error, as
        a provider that lets a library's exception through would."""
        self._failures[number] = error

    def block(self, number: int) -> None:
        """`ensure_machine` of machine `number` waits until `release(number)`."""
        self._gates[number] = asyncio.Event()

    def release(self, number: int) -> None:
        """Let a blocked `ensure_machine` of machine `number` go on."""
        gate = self._gates.pop(number, None)
        if gate is not None:
            gate.set()

    def succeed(self, number: int) -> None:
        """Undo `fail` and `block`: machine `number` is made at once."""
        self._failures.pop(number, None)
        self.release(number)

    def stop(self, model_uuid: str, number: int) -> None:
        """The machine's agent dies: `machine_running` says no until it is made again."""
        self.running.discard((model_uuid, number))

    async def making(self, number: int) -> None:
        """Return once an `ensure_machine` of machine `number` has been called."""
        await self._making.setdefault(number, asyncio.Event()).wait()

    def made(self, method: str = "ensure_machine") -> list[int]:
        """Machine numbers `method` was called for, in call order."""
        return [call.number for call in self.calls if call.method == method]

    # --- the Provider protocol --------------------------------------------------------

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        self.calls.append(FakeCall("ensure_machine", spec.model_uuid, spec.number))
        self._making.setdefault(spec.number, asyncio.Event()).set()
        self.in_flight.add(spec.number)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        try:
            gate = self._gates.get(spec.number)
            if gate is not None:
                await gate.wait()
            failure = self._failures.get(spec.number)
            if failure is not None:
                raise failure
        finally:
            self.in_flight.discard(spec.number)
        key = (spec.model_uuid, spec.number)
        self.specs[key] = spec
        self.running.add(key)
        return self.instance(spec.model_uuid, spec.number)

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        self.calls.append(FakeCall("machine_running", model_uuid, number))
        return (model_uuid, number) in self.running

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        self.calls.append(FakeCall("destroy_machine", model_uuid, number))
        failure = self._failures.get(number)
        if failure is not None:
            raise failure
        self.running.discard((model_uuid, number))
        self.specs.pop((model_uuid, number), None)

    async def close(self) -> None:
        self.closed = True

    @staticmethod
    def instance(model_uuid: str, number: int) -> InstanceInfo:
        """What `ensure_machine` reports for a machine (an address in 198.18.0.0/15)."""
        host = number + 1
        return InstanceInfo(
            instance_id=f"fake-{model_uuid[:8]}-{number}",
            hostname=f"fake-{number}",
            address=f"198.{18 + (host >> 16) % 2}.{(host >> 8) & 255}.{host & 255}",
        )
