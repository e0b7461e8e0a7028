"""Rows as frozen records: what the rest of the controller sees of the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ApplicationRecord",
    "CharmRecord",
    "MachineRecord",
    "ModelRecord",
    "UnitRecord",
]


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

    @property
    def application(self) -> str:
        """The application name, from the unit name."""
        return self.name.split("/", 1)[0]
