"""What the API answers, made from the state's records: the records stay inside services."""

from __future__ import annotations

from runecraft.controller.state import ActionRecord, EndpointRecord, ModelRecord, RelationRecord
from runecraft.schemas import api

__all__ = ["action_info", "model_info", "relation_info"]


def model_info(model: ModelRecord) -> api.ModelInfo:
    return api.ModelInfo(
        name=model.name,
        uuid=model.uuid,
        cloud=model.cloud,
        life=model.life,
        revision=model.revision,
        type=model.type,
    )


def relation_info(relation: RelationRecord, endpoints: list[EndpointRecord]) -> api.RelationInfo:
    return api.RelationInfo(
        id=relation.id,
        key=relation.key,
        life=relation.life,
        interface=endpoints[0].interface if endpoints else "",
        endpoints=[
            api.RelationEndpointInfo(
                application=e.application,
                endpoint=e.endpoint,
                role=e.role,
                interface=e.interface,
                scope=e.scope,
                limit=e.relation_limit,
            )
            for e in endpoints
        ],
    )


def action_info(record: ActionRecord) -> api.ActionInfo:
    return api.ActionInfo(
        id=str(record.id),
        unit=record.unit,
        name=record.name,
        params=record.params,
        status=record.status,
        message=record.message,
        results=record.results,
        log=[api.ActionLogEntry.model_validate(entry) for entry in record.log],
        enqueued=record.enqueued,
        started=record.started,
        completed=record.completed,
    )
