"""Messages on the bus between the controller and machine agents (MQTT 3.1.1).

Every payload is one JSON `Envelope` with a schema version. Messages are *hints and
snapshots*, never deltas that must all arrive: the controller sends a machine agent the
whole desired state of its units (`MachineSnapshot`), and agents send whole unit reports
(`UnitReport`), each carrying a sequence number so a stale one is ignored (numbering and
acceptance rules: `runecraft.schemas.sequencing`). Losing any
message, or reordering two, therefore loses nothing: the next one repairs it.

Topics (see `topics`): the controller publishes to `agents/<agent>/down` and subscribes to
`agents/+/up`; an agent may only read its own `down` and write its own `up` (broker ACL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from runecraft.schemas import metrics
from runecraft.schemas.hooks import HookRun
from runecraft.schemas.resources import ResourceRemote
from runecraft.schemas.secrets import SecretOp, SecretRemote
from runecraft.schemas.storage import StorageRemote

__all__ = [
    "BATCH_BYTES",
    "MAX_CONFIG_BYTES",
    "MAX_PAYLOAD_BYTES",
    "ActionLog",
    "ActionOutcome",
    "ActionRequest",
    "AgentBody",
    "AgentMessage",
    "AgentMetrics",
    "AppStatusReport",
    "CharmRef",
    "ControllerMessage",
    "Envelope",
    "Heartbeat",
    "Hello",
    "HookCommit",
    "HookRun",
    "HookTimings",
    "LeaderSet",
    "LogAck",
    "LogBatch",
    "MachineSnapshot",
    "RelationRemote",
    "RelationWrite",
    "StatusValue",
    "UnitRemoteState",
    "UnitReport",
    "decode_agent_message",
    "decode_controller_message",
    "decode_traced_agent_message",
    "decode_traced_controller_message",
    "down_topic",
    "encode",
    "join_messages",
    "merge_settings",
    "split_messages",
    "up_topic",
]

SCHEMA_VERSION = 1
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
"""Payloads above this size are refused before parsing."""

MAX_CONFIG_BYTES = MAX_PAYLOAD_BYTES // 8
"""The most an application's config settings may take, JSON-encoded. A machine's snapshot
carries them for every unit on that machine, beside relation data, secrets and actions, in
one message of at most `MAX_PAYLOAD_BYTES`; the API refuses more, naming the option."""

BATCH_SEPARATOR = b"\n"
"""Between the messages of one publish: an encoded message is compact JSON, which holds no
raw newline."""

BATCH_BYTES = 128 * 1024
"""The most an agent joins into one publish when messages queue up (`join_messages`): a
backlog of reports crosses the bus in a round trip per batch, not one per message, and a
batch is a small part of what the controller handles between two awaits."""


def join_messages(payloads: Sequence[bytes]) -> bytes:
    """Several encoded messages as the payload of one publish, in order."""
    return BATCH_SEPARATOR.join(payloads)


def split_messages(payload: bytes) -> list[bytes]:
    """The encoded messages of one publish (one, from a sender that joined none); raises
    `ValueError` for a publish larger than one message may be."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"publish of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return payload.split(BATCH_SEPARATOR)


Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""Every number on the bus fits the database's 64-bit integers: a larger one (an agent's
`seq` of 2**64) is refused when parsed, not when stored."""
Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A sequence number, revision, version or offset."""

WorkloadStatusName = Literal[
    "active", "blocked", "maintenance", "waiting", "unknown", "error", "terminated"
]
AgentStatusName = Literal["allocating", "executing", "idle", "error", "failed", "lost"]


def merge_settings(current: Mapping[str, str], *changes: Mapping[str, str]) -> dict[str, str]:
    """Apply relation-set style changes in order: a value replaces, `""` deletes its key.

    The one rule for relation data, leader settings and charm state, on both sides of the
    bus: the agent applies it to what a hook reads back, the controller to what it stores.
    """
    merged = dict(current)
    for change in changes:
        for key, value in change.items():
            if value == "":
                merged.pop(key, None)
            else:
                merged[key] = value
    return merged


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
    revision: int = 0
    """The application's charm revision: refreshing with the same archive is still a new
    revision, which units upgrade to (`upgrade-charm`), as in Juju."""


class RelationRemote(_Frozen):
    """One relation as one unit sees it, with the data it may read.

    Change detection is by version, as in Juju: a unit runs `-changed` for remote unit X when
    `units[X]` differs from the version it last saw, and an app-level `-changed` when
    `app_version` moved past the version it last saw (0 means never written). A unit never
    sees its own unit bag as a remote change; for a peer relation the writing leader skips
    the app version its own commit produced.
    """

    id: Int64
    endpoint: str
    """The local endpoint name (`JUJU_RELATION`)."""
    interface: str
    role: Literal["provider", "requirer", "peer"]
    remote_application: str
    """The other side's application (for a peer relation: this unit's own application)."""
    life: Literal["alive", "dying"] = "alive"
    """`dying` once the relation was removed: the unit departs every remote unit, then runs
    `-broken` (never for peer relations, which only end with the unit)."""
    units: dict[str, int] = Field(default_factory=dict)
    """Remote units in scope (for peers: the other units) → their settings version."""
    app_version: Count = 0
    unit_data: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Databags of remote units, including ones that departed while the relation lives."""
    app_data: dict[str, str] = Field(default_factory=dict)
    """The remote application's databag (for peers: the own application's)."""
    local_unit_data: dict[str, str] = Field(default_factory=dict)
    """This unit's own databag as committed (seeded with `private-address` and
    `ingress-address`)."""
    local_app_data: dict[str, str] | None = None
    """The own application's databag: set when this unit is the leader, or for peers."""
    remote_model_uuid: str = ""


class ActionRequest(_Frozen):
    """An action queued for the unit; params are validated and have defaults filled in."""

    id: str
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class UnitRemoteState(_Frozen):
    """What the controller wants of one unit: the uniter's `remote_state`."""

    unit: str
    application: str
    life: Literal["alive", "dying"] = "alive"
    principal: str = ""
    """For a subordinate unit: the principal unit it runs beside (`JUJU_PRINCIPAL_UNIT`)."""
    charm: CharmRef
    config: dict[str, Any] = Field(default_factory=dict)
    """Charm config with defaults applied, null values left out (what `config-get` shows)."""
    config_hash: str
    leader: bool = False
    update_status_interval: float = 300.0
    """Seconds between `update-status` hooks (model config `update-status-hook-interval`)."""
    relations: tuple[RelationRemote, ...] = ()
    commit_seq: Count = 0
    """The highest `HookCommit.seq` of this unit the controller has applied: the agent keeps
    resending later commits until this moves past them (exactly-once, in order)."""
    leader_settings: dict[str, str] = Field(default_factory=dict)
    leader_settings_version: Count = 0
    """Moves on every `leader-set`; non-leaders run `leader-settings-changed` when it moved."""
    state: dict[str, str] = Field(default_factory=dict)
    """The unit's charm state (`state-get`), as committed."""
    actions: tuple[ActionRequest, ...] = ()
    """Actions waiting to run on this unit, oldest first."""
    resolved: Literal["none", "retry", "no-retry"] = "none"
    """Set by `rune resolve`: retry the failed hook now, or skip it."""
    resolved_seq: Count = 0
    """Moves on every `rune resolve`, so a second resolve of a new error is seen."""
    private_address: str = "127.0.0.1"
    retry_hooks: bool = True
    """Model config `automatically-retry-hooks`."""
    fork_hooks: bool = True
    """Model config `hook-fork-server`: ops hooks may fork from the unit's fork server."""
    log_level: str = "INFO"
    """The lowest `juju-log` level the agent keeps, from model config `logging-config`."""
    secrets: tuple[SecretRemote, ...] = ()
    """Secrets the unit owns or was granted (schemas/secrets.py)."""
    storage: tuple[StorageRemote, ...] = ()
    """Storage instances attached to the unit (schemas/storage.py)."""
    resources: tuple[ResourceRemote, ...] = ()
    """The application's attached resources (schemas/resources.py)."""
    report_seq: Count = 0
    """The highest report number (`UnitReport`, `LeaderSet`, `AppStatusReport`) the
    controller accepted from this unit: an agent that lost its state counts on from it."""
    force: bool = False
    """The unit is being removed with `--force`: a failing hook no longer holds its removal
    (it is skipped as if resolved), as in Juju."""


class MachineSnapshot(_Frozen):
    """The whole desired state of one machine's units; replaces any earlier snapshot."""

    kind: Literal["machine-snapshot"] = "machine-snapshot"
    revision: Count
    model_name: str
    model_uuid: str
    machine_id: str
    units: tuple[UnitRemoteState, ...] = ()


class LogAck(_Frozen):
    """The controller stored a log up to `offset`: the agent ships from there on."""

    kind: Literal["log-ack"] = "log-ack"
    source: str
    offset: Count
    generation: Count = 0
    """The generation of the file `offset` is in (see `LogBatch.generation`)."""


ControllerMessage = Annotated[MachineSnapshot | LogAck, Field(discriminator="kind")]


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
    seq: Count
    """The unit agent's report counter: strictly increasing per unit, shared with
    `LeaderSet` and `AppStatusReport` (see `runecraft.schemas.sequencing`)."""
    workload: StatusValue
    agent: StatusValue
    """Agent status: `allocating`, `executing`, `idle`, `error`."""
    workload_version: str = ""
    converged_hash: str = ""
    """`config_hash` of the remote state the unit had fully converged on when it went idle."""
    snapshot_revision: Count = 0
    """`MachineSnapshot.revision` of the latest snapshot the unit had seen when it reported;
    with agent status `idle` it tells the controller the unit has settled on that snapshot."""
    removed: bool = False
    """True once the `remove` hook ran: the controller may forget the unit."""


class RelationWrite(_Frozen):
    """What one hook wrote to one relation: `""` deletes a key."""

    unit: dict[str, str] = Field(default_factory=dict)
    app: dict[str, str] = Field(default_factory=dict)


class ActionOutcome(_Frozen):
    """How an action ended (sent in the commit of its run, even when it failed)."""

    id: str
    status: Literal["completed", "failed"]
    message: str = ""
    results: dict[str, Any] = Field(default_factory=dict)
    """`action-set` results plus `return-code`, `stdout`, `stderr` (and `*-encoding`)."""
    log: tuple[str, ...] = ()


class HookCommit(_Frozen):
    """The buffered writes of one successful hook (or the outcome of one action), applied by
    the controller exactly once: only when `seq` is above the unit's stored commit seq."""

    kind: Literal["hook-commit"] = "hook-commit"
    unit: str
    seq: Count
    """Strictly increasing per unit, with no gaps (1, 2, 3 …)."""
    hook: str
    relations: dict[Int64, RelationWrite] = Field(default_factory=dict)
    scope: dict[Int64, Literal["enter", "leave"]] = Field(default_factory=dict)
    """Scope changes: `enter` after `-relation-created`, `leave` after `-broken` (or when a
    dying unit departs)."""
    state_set: dict[str, str] = Field(default_factory=dict)
    state_delete: tuple[str, ...] = ()
    opened_ports: tuple[str, ...] = ()
    closed_ports: tuple[str, ...] = ()
    action: ActionOutcome | None = None
    secrets: tuple[SecretOp, ...] = ()
    """Buffered `secret-*` changes, applied in order."""
    storage_add: dict[str, int] = Field(default_factory=dict)
    """Buffered `storage-add`: storage name → instances to add to the unit."""


class LeaderSet(_Frozen):
    """`leader-set`: applied at once (not buffered), only while the unit leads."""

    kind: Literal["leader-set"] = "leader-set"
    unit: str
    seq: Count
    settings: dict[str, str]
    """`""` deletes a key."""


class ActionLog(_Frozen):
    """`action-log`: a progress message, shown to the user at once."""

    kind: Literal["action-log"] = "action-log"
    unit: str
    action_id: str
    message: str


class AppStatusReport(_Frozen):
    """Application status set by the leader (`status-set --application`)."""

    kind: Literal["app-status"] = "app-status"
    application: str
    unit: str
    seq: Count
    status: StatusValue


class LogBatch(_Frozen):
    """Whole lines of a log: bytes `offset` to `end` of the file.

    `source` is a unit name (its `unit.log`) or `machine-N` (the agent's own `machine.log`).
    Re-sent until a `LogAck` covers it, so the controller keeps a log without gaps across
    disconnects. An empty batch asks for the offset the controller holds.
    """

    kind: Literal["log-batch"] = "log-batch"
    source: str = Field(min_length=1, max_length=160)
    offset: Count
    end: Count
    lines: tuple[str, ...] = ()
    generation: Count = 0
    """Moves by one when the file was rotated or recreated: the batch of the next
    generation starts at offset 0 of the new file."""


MetricLabel = Annotated[str, Field(min_length=1, max_length=metrics.MAX_LABEL_LENGTH)]


class HookTimings(_Frozen):
    """How long one charm's hook took each time it ended one way, on one agent since its
    boot: a count per bucket of `metrics.HOOK_BUCKETS` (not cumulative), `+Inf` last."""

    charm: MetricLabel
    hook: MetricLabel
    outcome: Literal["succeeded", "failed", "missing"]
    buckets: tuple[Count, ...]
    sum: float = Field(ge=0, allow_inf_nan=False)
    """Seconds, all of them together."""

    @field_validator("buckets")
    @classmethod
    def _one_per_bucket(cls, buckets: tuple[int, ...]) -> tuple[int, ...]:
        wanted = len(metrics.HOOK_BUCKETS) + 1
        if len(buckets) != wanted:
            raise ValueError(
                f"must have {wanted} counts (one per bucket and +Inf), not {len(buckets)}"
            )
        return buckets


class AgentMetrics(_Frozen):
    """A machine agent's own figures since its process started, sent whole now and then
    (cumulative; rules: `runecraft.schemas.metrics`)."""

    kind: Literal["agent-metrics"] = "agent-metrics"
    agent: str = Field(min_length=1, max_length=160)
    boot: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    """Random per agent process: values of another boot are not comparable."""
    seq: Count
    """Moves by at least one per message of a boot; a message not above the last is stale."""
    connects: Count = 0
    """Bus sessions the agent established (the first and every reconnect)."""
    hooks: tuple[HookTimings, ...] = Field(default=(), max_length=metrics.MAX_HOOK_SERIES)

    @field_validator("hooks")
    @classmethod
    def _distinct(cls, hooks: tuple[HookTimings, ...]) -> tuple[HookTimings, ...]:
        seen: set[tuple[str, str, str]] = set()
        for timing in hooks:
            key = (timing.charm, timing.hook, timing.outcome)
            if key in seen:
                raise ValueError(f"names {key[0]} {key[1]} {key[2]} twice")
            seen.add(key)
        return hooks


AgentBody = (
    Hello
    | Heartbeat
    | UnitReport
    | AppStatusReport
    | HookCommit
    | HookRun
    | LeaderSet
    | ActionLog
    | LogBatch
    | AgentMetrics
)
"""Any message an agent sends."""

AgentMessage = Annotated[AgentBody, Field(discriminator="kind")]


class Envelope(BaseModel):
    """The versioned wrapper of every message."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1
    body: dict[str, Any]
    traceparent: str | None = None
    """The W3C trace context of the span that sent it, only while tracing is on
    (`runecraft._tracing`): the receiver's span continues that trace (a malformed one is
    ignored, never the message). Left out when there is none, so an untraced message is
    what it always was."""


class _AgentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: AgentMessage


class _ControllerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: ControllerMessage


def encode(message: BaseModel, traceparent: str | None = None) -> bytes:
    """Serialise a message in its envelope (with `traceparent`, when given)."""
    envelope = Envelope(body=message.model_dump(mode="json"), traceparent=traceparent)
    leave_out = {"traceparent"} if traceparent is None else None
    return envelope.model_dump_json(exclude=leave_out).encode()


def _envelope(payload: bytes) -> Envelope:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"message of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return Envelope.model_validate_json(payload)


def decode_agent_message(payload: bytes) -> AgentBody:
    """Parse a message from an agent; raises `ValueError` naming what is wrong."""
    return decode_traced_agent_message(payload)[0]


def decode_traced_agent_message(payload: bytes) -> tuple[AgentBody, str | None]:
    """`decode_agent_message`, with the envelope's `traceparent`."""
    envelope = _envelope(payload)
    return _AgentBody.model_validate({"body": envelope.body}).body, envelope.traceparent


def decode_controller_message(payload: bytes) -> MachineSnapshot | LogAck:
    """Parse a message from the controller; raises `ValueError` naming what is wrong."""
    return decode_traced_controller_message(payload)[0]


def decode_traced_controller_message(
    payload: bytes,
) -> tuple[MachineSnapshot | LogAck, str | None]:
    """`decode_controller_message`, with the envelope's `traceparent`."""
    envelope = _envelope(payload)
    return _ControllerBody.model_validate({"body": envelope.body}).body, envelope.traceparent


def down_topic(agent: str) -> str:
    """Controller → agent."""
    return f"agents/{agent}/down"


def up_topic(agent: str) -> str:
    """Agent → controller."""
    return f"agents/{agent}/up"
