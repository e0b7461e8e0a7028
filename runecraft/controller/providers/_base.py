"""The provider contract: a small async Protocol, idempotent calls keyed by our ids."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

from runecraft import errors
from runecraft.schemas.agent import AgentConfig

__all__ = ["InstanceInfo", "MachineSpec", "Provider", "ProviderContext", "load_provider"]


@dataclass(frozen=True)
class MachineSpec:
    """What a provider needs to make (or find) one machine and start its agent."""

    model_name: str
    model_uuid: str
    number: int
    agent_config: AgentConfig


@dataclass(frozen=True)
class InstanceInfo:
    """What the provider reports back about a running machine."""

    instance_id: str
    hostname: str
    address: str


@dataclass(frozen=True)
class ProviderContext:
    """Controller facts a provider may use."""

    controller_uuid: str
    data_dir: Path
    """A directory the provider owns for its bookkeeping."""


class Provider(Protocol):
    """A substrate: makes machines that run a machine agent."""

    name: str

    async def ensure_machine(self, spec: MachineSpec) -> InstanceInfo:
        """Make the machine exist with its agent running (idempotent)."""
        ...

    async def machine_running(self, model_uuid: str, number: int) -> bool:
        """Whether the machine and its agent are up."""
        ...

    async def destroy_machine(self, model_uuid: str, number: int) -> None:
        """Stop the agent and remove everything the provider made (idempotent)."""
        ...

    async def close(self) -> None:
        """Release resources; machines keep running."""
        ...


def load_provider(name: str, context: ProviderContext) -> Provider:
    """Instantiate the provider registered under `name`."""
    found = [ep for ep in metadata.entry_points(group="runecraft.providers") if ep.name == name]
    if not found:
        raise errors.InvalidSpecError(f'no provider named "{name}" is installed')
    factory = found[0].load()
    provider: Provider = factory(context)
    return provider
