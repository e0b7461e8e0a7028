"""Controller state records for pure tests: every field has a plain default and any can be
overridden by keyword, so a test states only the fields it depends on."""

from __future__ import annotations

import dataclasses
from typing import Any

from runecraft.controller.state import (
    ActionRecord,
    ApplicationRecord,
    CharmRecord,
    DatabagRecord,
    EndpointRecord,
    MachineRecord,
    ModelRecord,
    RelationRecord,
    UnitRecord,
)

MODEL_UUID = "m"
CHARM_SHA256 = "c" * 64


def model(**changes: Any) -> ModelRecord:
    record = ModelRecord(
        uuid=MODEL_UUID,
        name="m",
        cloud="local",
        revision=1,
        next_machine=0,
        config={},
        life="alive",
        created=0.0,
    )
    return dataclasses.replace(record, **changes)


def charm(**changes: Any) -> CharmRecord:
    record = CharmRecord(sha256=CHARM_SHA256, name="c", meta={}, config={}, actions={}, size=1)
    return dataclasses.replace(record, **changes)


def app(name: str = "app1", **changes: Any) -> ApplicationRecord:
    record = ApplicationRecord(
        id=1,
        model_uuid=MODEL_UUID,
        name=name,
        charm_sha256=CHARM_SHA256,
        charm_revision=0,
        config={},
        life="alive",
        next_unit=0,
        leader=None,
        lease_expiry=None,
        status=None,
        status_message="",
        status_since=None,
        status_seq=0,
        created=0.0,
    )
    return dataclasses.replace(record, **changes)


def unit(name: str = "app1/0", **changes: Any) -> UnitRecord:
    """A unit of application 1, numbered as its name says, on no machine."""
    record = UnitRecord(
        id=1,
        model_uuid=MODEL_UUID,
        application_id=1,
        name=name,
        number=int(name.rpartition("/")[2]),
        machine_number=None,
        life="alive",
        workload_status="active",
        workload_message="",
        workload_since=0.0,
        agent_status="idle",
        agent_message="",
        agent_since=0.0,
        workload_version="",
        report_seq=0,
        converged_hash="",
        snapshot_revision=0,
        created=0.0,
    )
    return dataclasses.replace(record, **changes)


def machine(number: int = 0, **changes: Any) -> MachineRecord:
    """A pending machine, its row id and agent name following its number."""
    record = MachineRecord(
        id=number + 1,
        model_uuid=MODEL_UUID,
        number=number,
        life="alive",
        agent=f"machine-{number}.{changes.get('model_uuid', MODEL_UUID)}",
        password_hash=None,
        instance_id=None,
        status="pending",
        status_message="",
        status_since=0.0,
        hostname="",
        address="",
        retry_count=0,
        retry_at=None,
        created=0.0,
    )
    return dataclasses.replace(record, **changes)


def relation(number: int, key: str, life: str = "alive", **changes: Any) -> RelationRecord:
    record = RelationRecord(model_uuid=MODEL_UUID, id=number, key=key, life=life, created=0.0)
    return dataclasses.replace(record, **changes)


def endpoint(relation_id: int, application: str, name: str, **changes: Any) -> EndpointRecord:
    """A global requirer endpoint with no limit."""
    record = EndpointRecord(
        model_uuid=MODEL_UUID,
        relation_id=relation_id,
        application=application,
        endpoint=name,
        role="requirer",
        interface="x",
        scope="global",
        relation_limit=None,
    )
    return dataclasses.replace(record, **changes)


def bag(
    relation_id: int, kind: str, owner: str, data: dict[str, str], version: int, **changes: Any
) -> DatabagRecord:
    record = DatabagRecord(MODEL_UUID, relation_id, kind, owner, data, version)
    return dataclasses.replace(record, **changes)


def action(number: int, status: str = "pending", **changes: Any) -> ActionRecord:
    """A `go` action queued on app1/0."""
    record = ActionRecord(
        model_uuid=MODEL_UUID,
        id=number,
        unit="app1/0",
        name="go",
        params={},
        status=status,
        message="",
        results={},
        log=[],
        enqueued=0.0,
        started=None,
        completed=None,
    )
    return dataclasses.replace(record, **changes)
