"""The provider contract: a small async Protocol, idempotent calls keyed by our ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

from runecraft import errors
from runecraft.schemas.agent import AgentConfig, BrokerAddress

__all__ = [
    "InstanceInfo",
    "MachineSpec",
    "Provider",
    "ProviderContext",
    "load_provider",
    "provider_names",
]


@dataclass(frozen=True)
class MachineSpec:
    """What a provider needs to make (or find) one machine and start its agent."""

    model_name: str
    model_uuid: str
    number: int
    agent_config: AgentConfig
    constraints: dict[str, Any] = field(default_factory=dict)
    """Juju constraints as stored (schemas/constraints.py: sizes in MiB, counts as ints)."""

    @classmethod
    def for_agent(
        cls,
        *,
        model_name: str,
        model_uuid: str,
        number: int,
        agent: str,
        password: str,
        broker: BrokerAddress,
        api_url: str,
        constraints: dict[str, Any] | None = None,
    ) -> MachineSpec:
        """The spec of machine `number`, whose agent logs in as `agent` with `password`
        (on the bus and the API); the provider fills in `data_dir`."""
        return cls(
            model_name=model_name,
            model_uuid=model_uuid,
            number=number,
            agent_config=AgentConfig(
                agent=agent,
                model_name=model_name,
                model_uuid=model_uuid,
                machine_id=str(number),
                data_dir="",
                broker=broker,
                api_url=api_url,
                api_token=f"{agent}:{password}",
            ),
            constraints=constraints or {},
        )


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


def provider_names() -> list[str]:
    """The clouds this installation can put models on (one per installed provider)."""
    return sorted({ep.name for ep in metadata.entry_points(group="runecraft.providers")})


def load_provider(name: str, context: ProviderContext) -> Provider:
    """Instantiate the provider registered under `name`."""
    found = [ep for ep in metadata.entry_points(group="runecraft.providers") if ep.name == name]
    if not found:
        known = ", ".join(provider_names())
        raise errors.InvalidSpecError(f'unknown cloud "{name}": known clouds are: {known}')
    factory = found[0].load()
    provider: Provider = factory(context)
    return provider
