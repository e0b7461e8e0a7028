"""The Juju-shaped status document (`rune status --format json`, `GET …/status`) and
`show-unit` document as the API's OpenAPI document declares them.

The controller builds the documents as plain JSON (the status service skips validation and
FastAPI's encoder for speed), so these models only describe them; component tests check
that real documents read back through them without losing a key. Keys Juju
leaves out when it has nothing to say have defaults (they are not required).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApplicationStatus",
    "Base",
    "ControllerStatus",
    "Integration",
    "MachineStatus",
    "ModelStatus",
    "RelatedApplication",
    "StatusDocument",
    "StatusInfo",
    "UnitDatabag",
    "UnitInfo",
    "UnitRelationInfo",
    "UnitStatus",
]


class _Document(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class StatusInfo(_Document):
    """Juju's `{current, message, since, version}`; `since` is `%d %b %Y %H:%M:%SZ`."""

    current: str
    message: str = ""
    since: str = ""
    version: str = ""


class Base(_Document):
    """An operating system base, `ubuntu` `24.04`."""

    name: str
    channel: str


class ModelStatus(_Document):
    """Juju's `model`, with Runecraft's `revision`, `reconciled`, `settled` and `generation`
    (the change generation to long-poll after)."""

    name: str
    type: str
    controller: str
    cloud: str
    region: str
    version: str
    model_status: StatusInfo = Field(alias="model-status")
    revision: int
    reconciled: bool
    settled: bool
    generation: int


class MachineStatus(_Document):
    juju_status: StatusInfo = Field(alias="juju-status")
    hostname: str
    dns_name: str = Field(alias="dns-name")
    ip_addresses: list[str] = Field(alias="ip-addresses")
    instance_id: str = Field(alias="instance-id")
    machine_status: StatusInfo = Field(alias="machine-status")
    modification_status: StatusInfo = Field(alias="modification-status")
    base: Base
    container_type: str = Field(default="", alias="container-type")
    """`lxd` for a container placed with `--to lxd`."""


class UnitStatus(_Document):
    """A unit; `settled`: idle on the latest snapshot sent to its machine, `observed`: has
    reported on it. On a k8s model `address` and `provider-id` name its pod."""

    workload_status: StatusInfo = Field(alias="workload-status")
    juju_status: StatusInfo = Field(alias="juju-status")
    life: str
    settled: bool
    observed: bool
    leader: bool = False
    machine: str = ""
    public_address: str = Field(default="", alias="public-address")
    address: str = ""
    provider_id: str = Field(default="", alias="provider-id")
    open_ports: list[str] = Field(default_factory=list, alias="open-ports")
    subordinates: dict[str, UnitStatus] = Field(default_factory=dict)
    """The subordinate units beside this (principal) unit."""


class RelatedApplication(_Document):
    related_application: str = Field(alias="related-application")
    interface: str
    scope: str


class ApplicationStatus(_Document):
    charm: str
    charm_origin: str = Field(alias="charm-origin")
    charm_name: str = Field(alias="charm-name")
    charm_rev: int = Field(alias="charm-rev")
    charm_channel: str = Field(default="", alias="charm-channel")
    """For a Charmhub charm: the channel the application follows (`latest/edge`)."""
    exposed: bool
    base: Base
    life: str
    application_status: StatusInfo = Field(alias="application-status")
    units: dict[str, UnitStatus]
    """Empty for a subordinate application: its units are under their principals'."""
    subordinate_to: list[str] = Field(default_factory=list, alias="subordinate-to")
    """For a subordinate application: the principal applications it is attached to."""
    version: str
    scale: int
    relations: dict[str, list[RelatedApplication]] = Field(default_factory=dict)
    """Per endpoint, the applications related on it."""


class Integration(_Document):
    """A relation, for `rune status --relations`."""

    id: int
    key: str
    provider: str
    requirer: str
    interface: str
    type: str
    scope: str
    life: str


class ControllerStatus(_Document):
    broker_status: StatusInfo = Field(alias="broker-status")


class UnitDatabag(_Document):
    in_scope: bool = Field(alias="in-scope")
    data: dict[str, str]


class UnitRelationInfo(_Document):
    """A relation of the unit's application, with its databags as Juju shows them."""

    relation_id: int = Field(alias="relation-id")
    endpoint: str
    related_endpoint: str = Field(alias="related-endpoint")
    application_data: dict[str, str] = Field(alias="application-data")
    local_unit: UnitDatabag = Field(alias="local-unit")
    related_units: dict[str, UnitDatabag] = Field(alias="related-units")


class UnitInfo(_Document):
    """Juju's `show-unit --format json` entry of one unit (the document is
    `{unit-name: UnitInfo}`)."""

    opened_ports: list[str] = Field(alias="opened-ports")
    charm: str
    leader: bool
    life: str
    relation_info: list[UnitRelationInfo] = Field(alias="relation-info")
    workload_version: str = Field(default="", alias="workload-version")
    machine: str = ""
    public_address: str = Field(default="", alias="public-address")
    address: str = ""
    provider_id: str = Field(default="", alias="provider-id")
    principal: str = ""
    """For a subordinate unit: the principal unit it runs beside."""


class StatusDocument(_Document):
    """A model's status: Juju's `status --format json` plus `integrations` and
    `controller.broker-status`."""

    model: ModelStatus
    machines: dict[str, MachineStatus]
    applications: dict[str, ApplicationStatus]
    integrations: list[Integration]
    controller: ControllerStatus | None = None
