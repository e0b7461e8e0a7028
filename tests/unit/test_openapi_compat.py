"""The OpenAPI compatibility check on small documents: what breaks a client of the old
document (and must be refused without a major version bump), and what does not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from runecraft.controller.api._compat import allowed_breaks, breaking_changes, major

Document = dict[str, Any]


def _base() -> Document:
    """One GET answering a `Thing` (a required and an optional field, an enum, a list of
    maps, a nullable reference), one POST taking a body that refuses unknown fields."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.2.0"},
        "paths": {
            "/v1/things/{name}": {
                "get": {
                    "parameters": [
                        {
                            "in": "path",
                            "name": "name",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {"in": "query", "name": "limit", "schema": {"type": "integer"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Thing"}
                                }
                            },
                        },
                        "404": {"description": "not found"},
                    },
                },
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Change"}}
                        },
                    },
                    "responses": {"201": {"description": "made"}},
                },
            }
        },
        "components": {
            "schemas": {
                "Thing": {
                    "type": "object",
                    "required": ["name", "life"],
                    "properties": {
                        "name": {"type": "string"},
                        "life": {"enum": ["alive", "dying"], "type": "string"},
                        "size": {"type": "integer"},
                        "tags": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": {"type": "string"}},
                        },
                        "parent": {
                            "anyOf": [{"$ref": "#/components/schemas/Thing"}, {"type": "null"}]
                        },
                    },
                },
                "Change": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "count": {"type": "number"},
                        "mode": {"enum": ["fast", "slow"], "type": "string"},
                    },
                },
            }
        },
    }


def _op(doc: Document, method: str = "get") -> Document:
    operation: Document = doc["paths"]["/v1/things/{name}"][method]
    return operation


def _thing(doc: Document) -> Document:
    schema: Document = doc["components"]["schemas"]["Thing"]
    return schema


def _change(doc: Document) -> Document:
    schema: Document = doc["components"]["schemas"]["Change"]
    return schema


Edit = Callable[[Document], object]

BREAKING: list[tuple[str, Edit, str]] = [
    (
        "path removed",
        lambda d: d["paths"].pop("/v1/things/{name}"),
        "/v1/things/{name}: path removed",
    ),
    (
        "operation removed",
        lambda d: d["paths"]["/v1/things/{name}"].pop("post"),
        "POST /v1/things/{name}: operation removed",
    ),
    (
        "success answer removed",
        lambda d: _op(d)["responses"].pop("200"),
        "GET /v1/things/{name}: answer 200: removed",
    ),
    (
        "media type dropped",
        lambda d: _op(d)["responses"]["200"].update(content={"text/plain": {}}),
        "answer 200 application/json: no longer sent",
    ),
    (
        "response field removed",
        lambda d: _thing(d)["properties"].pop("size"),
        "field size: removed",
    ),
    (
        "required response field made optional",
        lambda d: _thing(d)["required"].remove("life"),
        "field life: may now be missing",
    ),
    (
        "response field widened",
        lambda d: _thing(d)["properties"].update(size={"type": ["integer", "string"]}),
        "field size: may now be string",
    ),
    (
        "response field made nullable",
        lambda d: _thing(d)["properties"].update(
            name={"anyOf": [{"type": "string"}, {"type": "null"}]}
        ),
        "field name: may now be null",
    ),
    (
        "response enum gains a value",
        lambda d: _thing(d)["properties"]["life"]["enum"].append("dead"),
        'field life: may now be "dead"',
    ),
    (
        "nested map value changed",
        lambda d: _thing(d)["properties"]["tags"]["items"].update(
            additionalProperties={"type": "integer"}
        ),
        "field tags.[].{}: may now be integer",
    ),
    (
        "new required parameter",
        lambda d: _op(d)["parameters"].append(
            {"in": "query", "name": "x", "required": True, "schema": {}}
        ),
        "query parameter 'x': new and required",
    ),
    (
        "parameter made required",
        lambda d: _op(d)["parameters"][1].update(required=True),
        "query parameter 'limit': now required",
    ),
    (
        "parameter type narrowed",
        lambda d: _op(d)["parameters"][0].update(schema={"type": "integer"}),
        "path parameter 'name': no longer accepts string",
    ),
    (
        "number narrowed to integer",
        lambda d: _change(d)["properties"].update(count={"type": "integer"}),
        "field count: no longer accepts number",
    ),
    (
        "new required request field",
        lambda d: _change(d)["required"].append("count"),
        "field count: new and required",
    ),
    (
        "request enum loses a value",
        lambda d: _change(d)["properties"]["mode"]["enum"].remove("slow"),
        'field mode: no longer accepts "slow"',
    ),
    (
        "request field limited to an enum",
        lambda d: _change(d)["properties"].update(name={"type": "string", "enum": ["a"]}),
        'field name: now limited to "a"',
    ),
    (
        "request field dropped from a closed body",
        lambda d: _change(d)["properties"].pop("mode"),
        "field mode: no longer accepted",
    ),
    (
        "new required body",
        lambda d: _op(d).update(requestBody={"required": True, "content": {}}),
        "GET /v1/things/{name}: request body: new and required",
    ),
    (
        "body media type dropped",
        lambda d: _op(d, "post")["requestBody"].update(content={"text/plain": {}}),
        "request body application/json: no longer accepted",
    ),
]

COMPATIBLE: list[tuple[str, Edit]] = [
    ("unchanged", lambda d: None),
    ("new path", lambda d: d["paths"].update({"/v1/other": {"get": {"responses": {}}}})),
    ("new operation", lambda d: d["paths"]["/v1/things/{name}"].update(delete={"responses": {}})),
    (
        "new optional parameter",
        lambda d: _op(d)["parameters"].append({"in": "query", "name": "x", "schema": {}}),
    ),
    ("new response field", lambda d: _thing(d)["properties"].update(colour={"type": "string"})),
    ("new error answer", lambda d: _op(d)["responses"].update({"503": {"description": "later"}})),
    ("error answer removed", lambda d: _op(d)["responses"].pop("404")),
    (
        "response field narrowed",
        lambda d: _thing(d)["properties"].update(size={"type": "integer", "minimum": 0}),
    ),
    (
        "response enum loses a value",
        lambda d: _thing(d)["properties"]["life"]["enum"].remove("dying"),
    ),
    ("optional response field made required", lambda d: _thing(d)["required"].append("size")),
    (
        "request field widened",
        lambda d: _change(d)["properties"].update(count={"type": ["number", "string"]}),
    ),
    ("request parameter made optional", lambda d: _op(d)["parameters"][0].update(required=False)),
    (
        "new optional request field",
        lambda d: _change(d)["properties"].update(note={"type": "string"}),
    ),
    (
        "request enum gains a value",
        lambda d: _change(d)["properties"]["mode"]["enum"].append("auto"),
    ),
    ("descriptions change", lambda d: _op(d)["responses"]["200"].update(description="the thing")),
]


@pytest.mark.parametrize(
    ("edit", "expected"), [(e, x) for _, e, x in BREAKING], ids=[n for n, _, _ in BREAKING]
)
def test_a_breaking_change_is_found_and_refused_without_a_major_bump(
    edit: Edit, expected: str
) -> None:
    old = _base()
    new = copy.deepcopy(old)
    edit(new)
    found = breaking_changes(old, new)
    assert any(expected in line for line in found), found
    assert allowed_breaks(old, new) == found
    new["info"]["version"] = "2.0.0"
    assert allowed_breaks(old, new) == []


@pytest.mark.parametrize("edit", [e for _, e in COMPATIBLE], ids=[n for n, _ in COMPATIBLE])
def test_a_compatible_change_is_not_a_break(edit: Edit) -> None:
    old = _base()
    new = copy.deepcopy(old)
    edit(new)
    assert breaking_changes(old, new) == []


def test_a_recursive_schema_is_compared_once() -> None:
    """`Thing.parent` is a `Thing`: the comparison ends, and finds a break inside it once."""
    old = _base()
    new = copy.deepcopy(old)
    _thing(new)["properties"].pop("size")
    assert breaking_changes(old, new) == [
        "GET /v1/things/{name}: answer 200 application/json field size: removed"
    ]


@pytest.mark.parametrize(("version", "expected"), [("1.2.0", 1), ("0.1.0", 0), ("12.0.3", 12)])
def test_major(version: str, expected: int) -> None:
    assert major({"info": {"version": version}}) == expected


@pytest.mark.parametrize("version", ["", "v1.0.0", "latest"])
def test_a_version_that_is_not_semantic_is_refused(version: str) -> None:
    with pytest.raises(ValueError, match="not a semantic version"):
        major({"info": {"version": version}})
