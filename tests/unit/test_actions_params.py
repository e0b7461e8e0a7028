"""Action parameters: schema validation and defaults (controller), `key=value` parsing and
Juju's task documents (CLI)."""

from __future__ import annotations

from typing import Any

import pytest

from runecraft import errors
from runecraft.cli import _run
from runecraft.controller.services import _params
from runecraft.schemas import api
from runecraft.schemas import charm as charm_schema

BACKUP = charm_schema.ActionSpec.model_validate(
    {
        "description": "Back up the database.",
        "params": {
            "target": {"type": "string", "description": "Where to."},
            "compress": {"type": "boolean", "default": True},
            "level": {"type": "integer", "minimum": 1, "maximum": 9, "default": 6},
            "mode": {"type": "string", "enum": ["full", "incremental"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "retention": {
                "type": "object",
                "properties": {
                    "days": {"type": "integer", "default": 7},
                    "keep-last": {"type": "integer"},
                },
            },
        },
        "required": ["target"],
    }
)
STRICT = charm_schema.ActionSpec.model_validate(
    {"params": {"n": {"type": "integer"}}, "additionalProperties": False}
)
EMPTY = charm_schema.ActionSpec.model_validate(None)


@pytest.mark.parametrize(
    ("spec", "given", "expected"),
    [
        pytest.param(
            BACKUP,
            {"target": "/srv"},
            {"target": "/srv", "compress": True, "level": 6},
            id="defaults-filled",
        ),
        pytest.param(
            BACKUP,
            {"target": "/srv", "compress": False, "level": 1},
            {"target": "/srv", "compress": False, "level": 1},
            id="given-values-win",
        ),
        pytest.param(
            BACKUP,
            {"target": "/srv", "retention": {"keep-last": 2}},
            {
                "target": "/srv",
                "compress": True,
                "level": 6,
                "retention": {"days": 7, "keep-last": 2},
            },
            id="nested-defaults",
        ),
        pytest.param(
            BACKUP,
            {"target": "/srv", "surprise": 1},
            {"target": "/srv", "compress": True, "level": 6, "surprise": 1},
            id="additional-properties-allowed-by-default-in-3.6",
        ),
        pytest.param(EMPTY, {}, {}, id="no-params"),
        pytest.param(EMPTY, {"x": "y"}, {"x": "y"}, id="no-params-but-extra"),
        pytest.param(STRICT, {"n": 3}, {"n": 3}, id="strict-ok"),
    ],
)
def test_valid_params_get_defaults(
    spec: charm_schema.ActionSpec, given: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _params.validate_params(spec, given, action="backup", unit="db/0") == expected


@pytest.mark.parametrize(
    ("spec", "given", "fragment"),
    [
        pytest.param(BACKUP, {}, "(root): 'target' is a required property", id="missing"),
        pytest.param(BACKUP, {"target": 3}, "target: 3 is not of type 'string'", id="type"),
        pytest.param(
            BACKUP,
            {"target": "/", "level": 10},
            "level: 10 is greater than the maximum of 9",
            id="maximum",
        ),
        pytest.param(
            BACKUP, {"target": "/", "mode": "half"}, "mode: 'half' is not one of", id="enum"
        ),
        pytest.param(
            BACKUP, {"target": "/", "compress": "yes"}, "compress: 'yes' is not of type", id="bool"
        ),
        pytest.param(BACKUP, {"target": "/", "tags": ["a", 1]}, "tags.1: 1 is not of", id="item"),
        pytest.param(
            BACKUP,
            {"target": "/", "retention": {"days": "x"}},
            "retention.days: 'x' is not of type 'integer'",
            id="nested",
        ),
        pytest.param(
            STRICT, {"n": 1, "m": 2}, "Additional properties are not allowed", id="strict-extra"
        ),
    ],
)
def test_bad_params_are_refused_naming_the_field(
    spec: charm_schema.ActionSpec, given: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(errors.InvalidSpecError) as caught:
        _params.validate_params(spec, given, action="backup", unit="db/0")
    message = caught.value.message
    assert message.startswith('invalid parameters for action "backup" on unit "db/0": ')
    assert fragment in message


def test_defaults_are_checked_before_being_filled_in() -> None:
    spec = charm_schema.ActionSpec.model_validate(
        {"params": {"n": {"type": "integer", "default": 1}}, "required": ["n"]}
    )
    with pytest.raises(errors.InvalidSpecError, match="'n' is a required property"):
        _params.validate_params(spec, {}, action="a", unit="u/0")


def test_a_broken_schema_is_reported_as_the_charm_s_fault() -> None:
    spec = charm_schema.ActionSpec.model_validate({"params": {"n": {"type": "number-ish"}}})
    with pytest.raises(errors.InvalidSpecError, match="invalid parameter schema"):
        _params.validate_params(spec, {"n": 1}, action="a", unit="u/0")


@pytest.mark.parametrize(
    ("pairs", "base", "string_args", "expected"),
    [
        (["a=1", "b=true", "c=hi", "d="], None, False, {"a": 1, "b": True, "c": "hi", "d": None}),
        (["a=1", "b=true"], None, True, {"a": "1", "b": "true"}),
        (["x.y=1", "x.z=two"], None, False, {"x": {"y": 1, "z": "two"}}),
        (["when=2024-01-02"], None, False, {"when": "2024-01-02"}),
        (["list=[1, 2]"], None, False, {"list": [1, 2]}),
        (["msg=a=b"], None, False, {"msg": "a=b"}),
        (["n=2"], {"n": 1, "m": 3}, False, {"n": 2, "m": 3}),
        (["bad=: ["], None, False, {"bad": ": ["}),
    ],
)
def test_parse_params(
    pairs: list[str], base: dict[str, Any] | None, string_args: bool, expected: dict[str, Any]
) -> None:
    assert _run.parse_params(pairs, base, string_args=string_args) == expected


@pytest.mark.parametrize("pair", ["novalue", "=x", "a..b=1", ".a=1"])
def test_parse_params_refuses(pair: str) -> None:
    with pytest.raises(errors.UsageError, match="expected KEY=VALUE"):
        _run.parse_params([pair])


def _task(status: str, **extra: Any) -> api.ActionInfo:
    return api.ActionInfo.model_validate(
        {
            "id": "7",
            "unit": "db/0",
            "name": "backup",
            "params": {},
            "status": status,
            "enqueued": 0.0,
            **extra,
        }
    )


def test_task_document_is_juju_shaped() -> None:
    task = _task(
        "completed",
        results={"path": "/x", "return-code": 0, "stdout": "ok\n", "stderr": ""},
        log=[{"timestamp": 60.0, "message": "halfway"}],
        started=30.0,
        completed=90.0,
    )
    assert _run.task_document(task) == {
        "id": "7",
        "status": "completed",
        "log": ["1970-01-01 00:01:00 +0000 UTC halfway"],
        "results": {"path": "/x", "return-code": 0, "stdout": "ok\n", "stderr": ""},
        "timing": {
            "enqueued": "1970-01-01 00:00:00 +0000 UTC",
            "started": "1970-01-01 00:00:30 +0000 UTC",
            "completed": "1970-01-01 00:01:30 +0000 UTC",
        },
        "unit": "db/0",
    }
    assert _run.task_document(_task("failed", message="boom"))["message"] == "boom"


def test_failure_message_is_what_jubilant_looks_for() -> None:
    assert _run.failure_message([_task("completed")]) is None
    message = _run.failure_message(
        [_task("completed"), _task("failed", message="disk full", results={"return-code": 1})]
    )
    assert message is not None
    assert "task failed" in message
    assert 'id "7" with return code 1: disk full' in message
