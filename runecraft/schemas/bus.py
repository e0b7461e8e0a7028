"""Messages on the bus between the controller and machine agents (MQTT 3.1.1).

Every payload is one JSON `Envelope` with a schema version. Messages are *hints and
snapshots*, never deltas that must all arrive: the controller sends a machine agent the
whole desired state of its units (`MachineSnapshot`), and agents send whole unit reports
(`UnitReport`), each carrying a sequence number so a stale one is ignored. Losing any
message, or reordering two, therefore loses nothing: the next one repairs it.

Topics (see `topics`): the controller publishes to `agents/<agent>/down` and subscribes to
`agents/+/up`; an agent may only read its own `down` and write its own `up` (broker ACL).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AgentMessage",
    "AppStatusReport",
    "CharmRef",
    "ControllerMessage",
    "Envelope",
    "Heartbeat",
    "Hello",
    "MachineSnapshot",
    "StatusValue",
    "UnitRemoteState",
    "UnitReport",
    "decode_agent_message",
    "decode_controller_message",
    "down_topic",
    "encode",
    "up_topic",
]

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Payloads above this size are refused before parsing."""

WorkloadStatusName = Literal[
    "active", "blocked", "maintenance", "waiting", "unknown", "error", "terminated"
]
AgentStatusName = Literal["allocating", "executing", "idle", "error", "failed", "lost"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StatusValue(_Frozen):
    """A status word with its message, as `status-set` writes it."""

    status: str
    message: str = ""


class CharmRef(_Frozen):
    """Which charm a unit runs; the agent fetches `/v1/charms/<sha256>` with its credential."""

    sha256: str
    name: str


class UnitRemoteState(_Frozen):
    """What the controller wants of one unit: the uniter's `remote_state`."""

    unit: str
    application: str
    life: Literal["alive", "dying"] = "alive"
    charm: CharmRef
    config: dict[str, Any] = Field(default_factory=dict)
    """Charm config with defaults applied, null values left out (what `config-get` shows)."""
    config_hash: str
    leader: bool = False
    update_status_interval: float = 300.0
    """Seconds between `update-status` hooks (model config `update-status-hook-interval`)."""


class MachineSnapshot(_Frozen):
    """The whole desired state of one machine's units; replaces any earlier snapshot."""

    kind: Literal["machine-snapshot"] = "machine-snapshot"
    revision: int
    model_name: str
    model_uuid: str
    machine_id: str
    units: tuple[UnitRemoteState, ...] = ()


ControllerMessage = Annotated[MachineSnapshot, Field(discriminator="kind")]


class Hello(_Frozen):
    """An agent (re)connected: the controller answers with a fresh snapshot."""

    kind: Literal["hello"] = "hello"
    agent: str
    units: tuple[str, ...] = ()


class Heartbeat(_Frozen):
    """Sent periodically; renews the leadership leases of `units` that are leaders."""

    kind: Literal["heartbeat"] = "heartbeat"
    agent: str
    units: tuple[str, ...] = ()


class UnitReport(_Frozen):
    """The whole reported state of one unit; later `seq` wins."""

    kind: Literal["unit-report"] = "unit-report"
    unit: str
    seq: int
    """Strictly increasing per unit (nanoseconds since the epoch is fine)."""
    workload: StatusValue
    agent: StatusValue
    """Agent status: `allocating`, `executing`, `idle`, `error`."""
    workload_version: str = ""
    converged_hash: str = ""
    """`config_hash` of the remote state the unit had fully converged on when it went idle."""
    snapshot_revision: int = 0
    """`MachineSnapshot.revision` of the latest snapshot the unit had seen when it reported;
    with agent status `idle` it tells the controller the unit has settled on that snapshot."""
    removed: bool = False
    """True once the `remove` hook ran: the controller may forget the unit."""


class AppStatusReport(_Frozen):
    """Application status set by the leader (`status-set --application`)."""

    kind: Literal["app-status"] = "app-status"
    application: str
    unit: str
    seq: int
    status: StatusValue


AgentMessage = Annotated[
    Hello | Heartbeat | UnitReport | AppStatusReport, Field(discriminator="kind")
]


class Envelope(BaseModel):
    """The versioned wrapper of every message."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    body: dict[str, Any]


class _AgentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: AgentMessage


class _ControllerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: ControllerMessage


def encode(message: BaseModel) -> bytes:
    """Serialise a message in its envelope."""
    return Envelope(body=message.model_dump(mode="json")).model_dump_json().encode()


def _envelope(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"message of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return Envelope.model_validate_json(payload).body


def decode_agent_message(payload: bytes) -> Hello | Heartbeat | UnitReport | AppStatusReport:
    """Parse a message from an agent; raises `ValueError` naming what is wrong."""
    return _AgentBody.model_validate({"body": _envelope(payload)}).body


def decode_controller_message(payload: bytes) -> MachineSnapshot:
    """Parse a message from the controller; raises `ValueError` naming what is wrong."""
    return _ControllerBody.model_validate({"body": _envelope(payload)}).body


def down_topic(agent: str) -> str:
    """Controller → agent."""
    return f"agents/{agent}/down"


def up_topic(agent: str) -> str:
    """Agent → controller."""
    return f"agents/{agent}/up"
