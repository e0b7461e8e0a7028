"""Action parameters: checked against the action's JSON schema (draft 4, as Juju 3.6 does),
then completed with the schema's defaults. Pure functions."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonschema

from runecraft import errors
from runecraft.schemas import charm as charm_schema

__all__ = ["action_schema", "insert_defaults", "validate_params"]


def action_schema(spec: charm_schema.ActionSpec) -> dict[str, Any]:
    """The draft-4 object schema of an action (`additionalProperties` true unless the
    action says otherwise, as in Juju 3.6)."""
    schema = spec.json_schema(additional_properties=True)
    if not schema.get("required"):
        schema.pop("required", None)  # draft 4 wants a non-empty list, or none
    return schema


def insert_defaults(schema: Mapping[str, Any], value: Any) -> Any:
    """Fill in the `default` of every property that is missing, recursing into objects
    that are present."""
    if not isinstance(value, Mapping):
        return value
    result = dict(value)
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return result
    for name, sub in properties.items():
        if not isinstance(sub, Mapping):
            continue
        if name in result:
            result[name] = insert_defaults(sub, result[name])
        elif "default" in sub:
            result[name] = copy.deepcopy(sub["default"])
    return result


def validate_params(
    spec: charm_schema.ActionSpec, params: Mapping[str, Any], *, action: str, unit: str
) -> dict[str, Any]:
    """Refuse parameters that do not fit the action's schema, naming the first bad field;
    return them with defaults filled in (Juju validates before inserting defaults)."""
    schema = action_schema(spec)
    try:
        jsonschema.Draft4Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise errors.InvalidSpecError(
            f'action "{action}" of unit "{unit}" has an invalid parameter schema: {exc.message}'
        ) from exc
    problems = sorted(
        jsonschema.Draft4Validator(schema).iter_errors(dict(params)),
        key=lambda e: ([str(p) for p in e.absolute_path], e.message),
    )
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(root)"
        raise errors.InvalidSpecError(
            f'invalid parameters for action "{action}" on unit "{unit}": {where}: {first.message}'
        )
    filled: dict[str, Any] = insert_defaults(schema, params)
    return filled
