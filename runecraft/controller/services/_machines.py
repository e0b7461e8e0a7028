"""Enlisting machines the user already has, and removing machines.

Enlistment is synchronous so the user sees every failure at once: connect (host key
verified), log in and check python3 before anything is recorded; then record the machine
with its own credential, install and start its agent. If any step fails, the record, the
credential and whatever reached the machine are removed again, so the same command can
simply be run again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import structlog

from runecraft import errors
from runecraft.controller import _passwords
from runecraft.controller.providers import InstanceInfo, MachineSpec
from runecraft.controller.providers.ssh import DEFAULT_INSTALL_DIR, Enlistment, Probe, parse_target
from runecraft.controller.services import _ports, _service
from runecraft.controller.services._hub import ChangeHub
from runecraft.controller.services._scaling import check_machine_command
from runecraft.controller.state import MachineRecord, ModelRecord
from runecraft.schemas.agent import BrokerAddress
from runecraft.schemas.ssh_target import SshTarget

__all__ = ["AddedMachine", "Enlister", "MachineService", "agent_machine_spec"]

logger = structlog.get_logger(__name__)

INSTALL_GRACE = 900.0
"""The reconciler leaves a machine being enlisted alone for this long."""
HELLO_GRACE = 30.0
"""After enlistment, how long the agent has to say hello before it is checked."""


class Enlister(Protocol):
    """The manual provider, as enlistment uses it."""

    async def probe(
        self, target: SshTarget, private_key: str | None, accept: str | None
    ) -> Probe: ...

    async def enlist(self, spec: MachineSpec, enlistment: Enlistment) -> InstanceInfo: ...

    async def destroy_machine(self, model_uuid: str, number: int) -> None: ...

    def forget(self, model_uuid: str, number: int) -> None: ...


class MachineState(_ports.WithMachines, _ports.WithUnits, Protocol):
    """What enlisting and removing machines needs of a transaction."""


class MachineStore(_ports.StateStore[MachineState], _ports.ModelReads, Protocol):
    pass


@dataclass(frozen=True)
class AddedMachine:
    number: int
    fingerprint: str
    hostname: str
    address: str


def agent_machine_spec(
    model: ModelRecord,
    machine: MachineRecord,
    password: str,
    broker_for_agents: Callable[[str, str], BrokerAddress],
    api_url: str,
    constraints: Mapping[str, Any] | None = None,
    units: tuple[str, ...] = (),
) -> MachineSpec:
    """What a provider needs to make (or enlist) `machine` and start its agent, which logs
    in with `password` on the bus `broker_for_agents` names for it and on the API."""
    return MachineSpec.for_agent(
        model_name=model.name,
        model_uuid=model.uuid,
        number=machine.number,
        agent=machine.agent,
        password=password,
        broker=broker_for_agents(machine.agent, password),
        api_url=api_url,
        constraints=dict(constraints or {}),
        units=units,
    )


def _service_name(machine: MachineRecord) -> str:
    return f"runecraft-machine-{machine.number}-{machine.model_uuid[:8]}"


class MachineService(_ports.StoreService[MachineStore]):
    """`add-machine ssh:…` and `remove-machine`."""

    def __init__(
        self,
        store: MachineStore,
        hub: ChangeHub,
        *,
        enlister: Callable[[], Enlister],
        credentials_changed: Callable[[], Awaitable[None]],
        broker_for_agents: Callable[[str, str], BrokerAddress],
        api_url: str,
    ) -> None:
        super().__init__(store, hub)
        self.enlister = enlister
        self.credentials_changed = credentials_changed
        self.broker_for_agents = broker_for_agents
        self.api_url = api_url

    async def add_machine(
        self,
        model_name: str,
        target_text: str,
        *,
        private_key: str | None = None,
        host_key: str | None = None,
        install_dir: str | None = None,
    ) -> AddedMachine:
        target = parse_target(target_text)
        install_dir = (install_dir or DEFAULT_INSTALL_DIR).rstrip("/") or "/"
        if not install_dir.startswith("/"):
            raise errors.InvalidSpecError(f'install directory "{install_dir}" must be absolute')
        model = await self._check_free(model_name, target)
        enlister = self.enlister()
        probe = await enlister.probe(target, private_key, host_key)
        password = _passwords.new_password()
        async with self.store.write(model_name) as tx:
            machine = await tx.machines.insert(
                password_hash=_passwords.hash_password(password),
                status="provisioning",
                status_message=f"enlisting {target}",
                retry_count=1,
                retry_at=time.time() + INSTALL_GRACE,
            )
            enlistment = Enlistment(
                user=target.user,
                host=target.host,
                port=target.port,
                private_key=private_key,
                install_dir=install_dir,
                prefix=f"{install_dir}/machine-{machine.number}-{model.uuid[:8]}",
                service=_service_name(machine),
                fingerprint=probe.fingerprint,
            )
            await tx.machines.update(machine, enlistment=asdict(enlistment))
        await self.credentials_changed()
        info = await self._enlist(enlister, model, machine, password, enlistment, target)
        self.hub.changed()
        logger.info("machine enlisted", model=model_name, machine=machine.number, host=str(target))
        return AddedMachine(
            number=machine.number,
            fingerprint=probe.fingerprint,
            hostname=info.hostname,
            address=info.address,
        )

    async def add_new(
        self, model_name: str, count: int = 1, *, substrate: str | None = None
    ) -> list[int]:
        """Juju's `add-machine` with no target (or `lxd`): `count` new machines on the
        model's cloud (or that substrate), made now and kept while they host no unit."""
        if count < 1:
            raise errors.InvalidSpecError(f"cannot add {count} machines: give at least 1")
        model = await self.store.model(model_name)
        check_machine_command(model, "add-machine")
        if model.cloud == "manual" and substrate is None:
            raise errors.InvalidSpecError(
                f'model "{model_name}" is on the manual cloud, whose machines are enlisted: '
                "give the machine as ssh:[user@]host"
            )
        if model.life != "alive":
            raise errors.ConflictError(f'model "{model_name}" is being destroyed')
        async with self.store.write(model_name) as tx:
            numbers = [
                (await tx.machines.insert(kept=True, substrate=substrate)).number
                for _ in range(count)
            ]
        self.hub.changed()
        logger.info("machines added", model=model_name, machines=numbers)
        return numbers

    async def _check_free(self, model_name: str, target: SshTarget) -> ModelRecord:
        """The model, alive, with no machine enlisted at that address yet."""
        model = await self.store.model(model_name)
        check_machine_command(model, "add-machine")
        if model.life != "alive":
            raise errors.ConflictError(f'model "{model_name}" is being destroyed')
        snapshot = await self.store.snapshot(model.uuid)
        for existing in snapshot.machines:
            known = existing.enlistment or {}
            if (known.get("host"), known.get("port")) == (target.host, target.port):
                raise errors.ConflictError(
                    f"{target.host}:{target.port} is already machine {existing.number} "
                    f'of model "{model_name}"'
                )
        return model

    async def _enlist(
        self,
        enlister: Enlister,
        model: ModelRecord,
        machine: MachineRecord,
        password: str,
        enlistment: Enlistment,
        target: SshTarget,
    ) -> InstanceInfo:
        """Install and start the recorded machine's agent; on failure take it all back."""
        spec = agent_machine_spec(model, machine, password, self.broker_for_agents, self.api_url)
        try:
            info = await enlister.enlist(spec, enlistment)
        except BaseException as exc:
            await self._undo(enlister, model.name, machine)
            if isinstance(exc, errors.RunecraftError):
                raise type(exc)(
                    f"{exc.message}; machine {target} was not added (run the command again "
                    "once that is fixed)"
                ) from exc
            raise
        async with self.store.write(model.name) as tx:
            await tx.machines.update(
                machine,
                instance_id=info.instance_id,
                hostname=info.hostname,
                address=info.address,
                status="pending",
                status_message="",
                status_since=time.time(),
                retry_at=time.time() + HELLO_GRACE,
            )
        return info

    async def _undo(self, enlister: Enlister, model_name: str, machine: MachineRecord) -> None:
        """Take back a failed enlistment: the agent and files (best effort), the record."""
        try:
            await enlister.destroy_machine(machine.model_uuid, machine.number)
        except errors.RunecraftError as exc:
            logger.warning("cleanup after failed enlistment", error=exc.message)
        enlister.forget(machine.model_uuid, machine.number)
        async with self.store.write(model_name) as tx:
            await tx.machines.delete(await tx.machines.get(machine.number))
        await self.credentials_changed()
        self.hub.changed()

    async def remove_machine(self, model_name: str, number: int, *, force: bool = False) -> str:
        """Remove a machine: now when it hosts no unit (`removed`), else with `force` once
        its units are gone (`dying`). A k8s model's machines are its pods' bookkeeping:
        they go with their units, never on their own."""
        check_machine_command(await self.store.model(model_name), "remove-machine")
        async with self.store.write(model_name) as tx:
            machine = await tx.machines.get(number)
            units = await tx.units.names_on_machine(number)
            if units and not force:
                raise errors.ConflictError(
                    f"machine {number} hosts {', '.join(units)}: remove those units first, "
                    "or use --force to remove them with the machine"
                )
            if units or machine.enlistment is None:
                deadline = _service.force_deadline(no_wait=False)
                for name in units:  # here `force` is given: past failing hooks too
                    unit = await tx.units.get(name)
                    after = min(deadline, unit.remove_after or deadline)
                    await tx.units.update(
                        unit, life="dying", force_removal=True, remove_after=after
                    )
                if machine.life == "alive":
                    await tx.machines.update(machine, life="dying")
                outcome = "dying"
            else:
                outcome = "removed"
        if outcome == "dying":
            self.hub.changed()
            return outcome
        enlister = self.enlister()
        try:
            await enlister.destroy_machine(machine.model_uuid, number)
        except errors.RunecraftError as exc:
            if not force:
                raise type(exc)(
                    f"{exc.message}; machine {number} was kept (run the command again, or use "
                    "--force to forget it without cleaning up the host)"
                ) from exc
            logger.warning("forgetting unreachable machine", machine=number, error=exc.message)
        enlister.forget(machine.model_uuid, number)
        async with self.store.write(model_name) as tx:
            await tx.machines.delete(await tx.machines.get(number))
        await self.credentials_changed()
        self.hub.changed()
        logger.info("machine removed", model=model_name, machine=number)
        return outcome
