"""Rows as frozen records: what the rest of the controller sees of the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from runecraft.schemas import bus, sequencing
from runecraft.schemas import storage as storage_schema

__all__ = [
    "USER_GRANT",
    "ActionRecord",
    "ApplicationRecord",
    "CharmRecord",
    "CloudRecord",
    "CrossModelRecord",
    "DatabagRecord",
    "EndpointRecord",
    "GrantMatch",
    "MachineRecord",
    "ModelRecord",
    "OfferRecord",
    "RelationRecord",
    "ReportWrite",
    "ResourceRecord",
    "SaasRecord",
    "ScopeRecord",
    "SecretConsumerRecord",
    "SecretGrantRecord",
    "SecretRecord",
    "SecretRevisionRecord",
    "SecretRows",
    "SeqCheck",
    "StorageRecord",
    "StoredReport",
    "UnitKey",
    "UnitRecord",
    "accepted_seq",
]

USER_GRANT = -1
"""`relation_id` of a grant made by `grant-secret` (no relation)."""


@dataclass(frozen=True, slots=True)
class ModelRecord:
    uuid: str
    name: str
    cloud: str
    revision: int
    next_machine: int
    config: dict[str, Any]
    life: str
    created: float
    next_relation: int = 0
    next_action: int = 0
    constraints: dict[str, Any] = field(default_factory=dict)
    type: str = "iaas"
    """Juju's model type: "caas" on a Kubernetes cloud (units are pods), else "iaas"."""


@dataclass(frozen=True, slots=True)
class CloudRecord:
    """A cloud an operator added (`rune add-k8s`)."""

    name: str
    type: str
    endpoint: str
    config: dict[str, Any]
    created: float


@dataclass(frozen=True, slots=True)
class CharmRecord:
    sha256: str
    name: str
    meta: dict[str, Any]
    config: dict[str, Any]
    actions: dict[str, Any]
    size: int


@dataclass(frozen=True, slots=True)
class ApplicationRecord:
    id: int
    model_uuid: str
    name: str
    charm_sha256: str
    charm_revision: int
    config: dict[str, Any]
    life: str
    next_unit: int
    leader: str | None
    lease_expiry: float | None
    status: str | None
    status_message: str
    status_since: float | None
    status_seq: int
    created: float
    leader_settings: dict[str, str] = field(default_factory=dict)
    leader_settings_version: int = 0
    constraints: dict[str, Any] = field(default_factory=dict)
    trust: bool = False
    base: str = ""
    exposed: bool = False
    origin_source: str = "local"
    """Juju's charm origin: "charmhub" or "local"; for Charmhub, the charm's name there,
    the channel it follows (`latest/edge`) and its Charmhub revision."""
    origin_name: str = ""
    origin_channel: str = ""
    origin_revision: int | None = None


@dataclass(frozen=True, slots=True)
class MachineRecord:
    id: int
    model_uuid: str
    number: int
    life: str
    agent: str
    password_hash: str | None
    instance_id: str | None
    status: str
    status_message: str
    status_since: float
    hostname: str
    address: str
    retry_count: int
    retry_at: float | None
    created: float
    enlistment: dict[str, Any] | None = None
    """How the manual provider reaches an enlisted machine (None: provisioned)."""
    substrate: str | None = None
    """The provider that makes this machine when it is not the model's cloud's (`lxd`)."""
    kept: bool = False
    """Added on its own (`add-machine` with no target): made, and kept while it hosts no
    unit, until removed."""


@dataclass(frozen=True, slots=True)
class UnitRecord:
    id: int
    model_uuid: str
    application_id: int
    name: str
    number: int
    machine_number: int | None
    life: str
    workload_status: str
    workload_message: str
    workload_since: float
    agent_status: str
    agent_message: str
    agent_since: float
    workload_version: str
    report_seq: int
    converged_hash: str
    snapshot_revision: int
    created: float
    commit_seq: int = 0
    """The highest `HookCommit.seq` applied (exactly-once, in order)."""
    leader_set_seq: int = 0
    """The highest `LeaderSet.seq` applied."""
    charm_state: dict[str, str] = field(default_factory=dict)
    opened_ports: list[str] = field(default_factory=list)
    resolved: str = "none"
    resolved_seq: int = 0
    force_removal: bool = False
    """Removed with `--force`: a failing hook no longer holds the removal."""
    remove_after: float | None = None
    """With `--force`: when the controller forgets the unit even if its agent never
    reported its removal (Juju's max-wait; at once with `--no-wait`)."""
    principal: str | None = None
    """The principal unit a subordinate unit runs beside (None: a principal unit)."""

    @property
    def application(self) -> str:
        """The application name, from the unit name."""
        return self.name.split("/", 1)[0]

    def shares_container_with(self, other: UnitRecord) -> bool:
        """Whether a container-scoped relation joins the two units: a subordinate unit and
        its principal (for units of no subordinate, the same machine)."""
        if self.principal is not None or other.principal is not None:
            return other.principal == self.name or self.principal == other.name
        return other.machine_number == self.machine_number


@dataclass(frozen=True, slots=True)
class RelationRecord:
    """A relation; `id` is the Juju relation id, unique within the model."""

    model_uuid: str
    id: int
    key: str
    life: str
    created: float


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """One side of a relation (a peer relation has one)."""

    model_uuid: str
    relation_id: int
    application: str
    endpoint: str
    role: str
    interface: str
    scope: str
    relation_limit: int | None

    def __str__(self) -> str:
        return f"{self.application}:{self.endpoint}"


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """An application offer: `endpoints` are the offered endpoint names."""

    model_uuid: str
    name: str
    application: str
    endpoints: list[str]
    created: float


@dataclass(frozen=True, slots=True)
class SaasRecord:
    """A consumed offer in the consuming model (Juju's remote application), named by its
    alias; `endpoints` maps each offered endpoint to its `interface` and `role`."""

    model_uuid: str
    name: str
    offer_model_uuid: str
    offer_name: str
    url: str
    endpoints: dict[str, dict[str, str]]
    token: str
    life: str
    created: float

    @property
    def remote_name(self) -> str:
        """How the offering model names the consumer: Juju's `remote-<hex>`."""
        return f"remote-{self.token}"


@dataclass(frozen=True, slots=True)
class CrossModelRecord:
    """A consumer's relation (of its `application` with the SAAS) and its twin in the
    offering model (of `offer_application`, on the offered `endpoint`, with
    `remote-<token>`)."""

    model_uuid: str
    relation_id: int
    saas: str
    application: str
    offer_model_uuid: str
    offer_relation_id: int
    offer_name: str
    offer_application: str
    endpoint: str
    token: str

    @property
    def remote_name(self) -> str:
        """How the offering model names the consumer (`SaasRecord.remote_name`)."""
        return f"remote-{self.token}"


@dataclass(frozen=True, slots=True)
class ScopeRecord:
    """A unit in a relation's scope (it ran `-relation-created` and has not left)."""

    model_uuid: str
    relation_id: int
    unit: str
    remote: bool = False
    """A unit of the other model of a cross-model relation, under the name this model
    knows its application by (never stored: snapshots add it)."""


@dataclass(frozen=True, slots=True)
class DatabagRecord:
    """One databag of a relation: a unit's (`owner_kind` "unit") or an application's."""

    model_uuid: str
    relation_id: int
    owner_kind: str
    owner: str
    data: dict[str, str]
    version: int

    @property
    def application(self) -> str:
        """The application owning the bag (for a unit bag: the unit's application)."""
        return self.owner.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An action queued on a unit; `id` is the model-wide action number."""

    model_uuid: str
    id: int
    unit: str
    name: str
    params: dict[str, Any]
    status: str
    """`pending`, `running`, `completed` or `failed`."""
    message: str
    results: dict[str, Any]
    log: list[dict[str, Any]]
    """`{"timestamp": seconds, "message": text}` entries, oldest first."""
    enqueued: float
    started: float | None
    completed: float | None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")


@dataclass(frozen=True, slots=True)
class SecretRecord:
    model_uuid: str
    id: str
    owner_kind: str
    owner: str
    name: str | None
    label: str
    description: str
    expire: str | None
    rotate: str
    rotates: float | None
    revision: int
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class SecretRevisionRecord:
    model_uuid: str
    secret_id: str
    revision: int
    content: dict[str, str]
    created: float


@dataclass(frozen=True, slots=True)
class SecretConsumerRecord:
    model_uuid: str
    secret_id: str
    unit: str
    revision: int
    label: str


@dataclass(frozen=True, slots=True)
class SecretGrantRecord:
    model_uuid: str
    secret_id: str
    subject_kind: str
    subject: str
    relation_id: int


@dataclass(frozen=True, slots=True)
class GrantMatch:
    """The grants of a secret matching every field given (None matches any)."""

    model_uuid: str
    secret_id: str
    relation_id: int | None = None
    subject_kind: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class SecretRows:
    """Every secret row of a model (or of all models)."""

    secrets: Sequence[SecretRecord] = ()
    revisions: Sequence[SecretRevisionRecord] = ()
    consumers: Sequence[SecretConsumerRecord] = ()
    grants: Sequence[SecretGrantRecord] = ()

    def for_model(self, model_uuid: str) -> SecretRows:
        """The rows of one model."""
        return SecretRows(
            secrets=[r for r in self.secrets if r.model_uuid == model_uuid],
            revisions=[r for r in self.revisions if r.model_uuid == model_uuid],
            consumers=[r for r in self.consumers if r.model_uuid == model_uuid],
            grants=[r for r in self.grants if r.model_uuid == model_uuid],
        )


@dataclass(frozen=True, slots=True)
class StorageRecord:
    model_uuid: str
    name: str
    number: int
    unit: str
    kind: str
    size_mib: int
    created: float

    @property
    def id(self) -> str:
        """`<name>/<number>`."""
        return f"{self.name}/{self.number}"

    def remote(self) -> storage_schema.StorageRemote:
        """The instance as the unit is told about it."""
        kind = "block" if self.kind == "block" else "filesystem"
        return storage_schema.StorageRemote(id=self.id, kind=kind, size_mib=self.size_mib)


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    model_uuid: str
    application: str
    name: str
    sha256: str
    size: int
    revision: int
    created: float


@dataclass(frozen=True, slots=True)
class SeqCheck:
    """The verdict on a numbered agent report, with the numbers it was made against."""

    verdict: sequencing.ReportVerdict
    stored: int
    """The number stored for that kind of report."""
    accepted: int
    """The highest number accepted from the unit (see `accepted_seq`)."""


UnitKey = tuple[str, int, str]
"""A unit as an agent names it: model uuid, machine number, unit name."""


@dataclass(frozen=True)
class StoredReport:
    """What a unit's last stored report set, as its next report is compared with it: the
    number, and the workload and agent status (status, message)."""

    seq: int
    workload: tuple[str, str]
    agent: tuple[str, str]


@dataclass(frozen=True)
class ReportWrite:
    """A unit report to store over `before`, what its writer holds as the stored one."""

    key: UnitKey
    report: bus.UnitReport
    before: StoredReport

    @property
    def after(self) -> StoredReport:
        report = self.report
        return StoredReport(
            report.seq,
            (report.workload.status, report.workload.message),
            (report.agent.status, report.agent.message),
        )


def accepted_seq(
    unit: str, report_seq: int, leader_set_seq: int, leader: str | None, app_status_seq: int
) -> int:
    """The highest report number the controller accepted from a unit: its unit reports,
    its leader-sets and, while it leads, its application's status."""
    return max(report_seq, leader_set_seq, app_status_seq if leader == unit else 0)
