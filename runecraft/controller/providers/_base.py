"""The provider contract: a small async Protocol, idempotent calls keyed by our ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from runecraft import errors
from runecraft.schemas.agent import AgentConfig, BrokerAddress

__all__ = [
    "ApplicationSpec",
    "CloudSpec",
    "InstanceInfo",
    "InstanceState",
    "MachineSpec",
    "Provider",
    "ProviderContext",
    "WorkloadProvider",
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
    units: tuple[str, ...] = ()
    """The units placed on the machine (on Kubernetes, the one unit its pod runs)."""

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
        units: tuple[str, ...] = (),
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
            units=units,
        )


@dataclass(frozen=True)
class InstanceInfo:
    """What the provider reports back about a running machine."""

    instance_id: str
    hostname: str
    address: str


@dataclass(frozen=True)
class InstanceState:
    """What the substrate says of a machine's instance now (a pod, on Kubernetes)."""

    running: bool
    """The agent is running, or the substrate itself is bringing it back (a pod the
    StatefulSet recreates): nothing for the controller to make."""
    address: str = ""
    message: str = ""
    """Why it is not up yet (a pending pod's reason), or what is wrong with it."""
    failed: bool = False
    """The substrate gave up on it for now (a crash-looping container, an image it
    cannot pull): an error status, not a pending one."""


@dataclass(frozen=True)
class CloudSpec:
    """A cloud as the operator added it: its name, provider type and settings."""

    name: str
    type: str
    endpoint: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderContext:
    """Controller facts a provider may use."""

    controller_uuid: str
    data_dir: Path
    """A directory the provider owns for its bookkeeping."""
    cloud: CloudSpec | None = None
    """The cloud this provider instance serves (None: a built-in cloud of the same name)."""
    changed: Callable[[str], None] = field(default=lambda model_uuid: None)
    """Wakes the reconciler for a model when the substrate changed behind its back."""


@dataclass(frozen=True)
class ApplicationSpec:
    """An application as a workload substrate runs it (a StatefulSet on Kubernetes)."""

    model_name: str
    model_uuid: str
    name: str
    charm: str
    scale: int
    """Units that must have a pod: the alive ones, and the dying ones still leaving."""
    containers: dict[str, str] = field(default_factory=dict)
    """Workload container name -> its image (from the charm's `oci-image` resource)."""
    agent_image: str = ""
    api_url: str = ""
    trust: bool = False
    exposed: bool = False
    ports: tuple[tuple[str, int, int], ...] = ()
    """Opened ports of its units: (protocol, from, to)."""


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


@runtime_checkable
class WorkloadProvider(Provider, Protocol):
    """A substrate that runs applications itself (Kubernetes): the controller says what
    each application is and how many units it has, and the substrate makes the pods."""

    async def ensure_application(self, spec: ApplicationSpec) -> None:
        """Make the application's objects match `spec` (idempotent)."""
        ...

    async def remove_application(self, model_name: str, model_uuid: str, name: str) -> None:
        """Remove everything of the application (idempotent)."""
        ...

    async def application_names(self, model_name: str, model_uuid: str) -> set[str]:
        """The applications the substrate runs for the model (what a restarted controller
        compares with the model's, to remove those that went while it was down)."""
        ...

    async def instance_states(
        self, model_uuid: str, instances: dict[int, str]
    ) -> dict[int, InstanceState]:
        """The state of each machine's instance (machine number -> instance id)."""
        ...

    async def release_model(self, model_name: str, model_uuid: str) -> None:
        """Remove what the provider made for the model as a whole (its namespace)."""
        ...


def provider_names() -> list[str]:
    """The provider types installed (one per `runecraft.providers` entry point)."""
    return sorted({ep.name for ep in metadata.entry_points(group="runecraft.providers")})


def load_provider(name: str, context: ProviderContext) -> Provider:
    """Instantiate the provider registered under `name` (a cloud's provider type)."""
    found = [ep for ep in metadata.entry_points(group="runecraft.providers") if ep.name == name]
    if not found:
        known = ", ".join(provider_names())
        raise errors.InvalidSpecError(
            f'no provider of cloud type "{name}" is installed (installed: {known})'
        )
    factory = found[0].load()
    provider: Provider = factory(context)
    return provider
