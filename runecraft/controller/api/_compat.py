"""Whether one OpenAPI document breaks clients written against another: a pure comparison
of two documents (as JSON), so the committed `docs/openapi.json` can hold the API to its
contract version.

Breaking: a path or operation removed; a success status removed, or its media type; a
response field removed, or one always sent that may now be missing; a type narrowed where
a client sends it (a parameter, a request field) or widened where it reads it (a response
field, an enum that gains values); a new required parameter, body or request field; a
request field dropped from a body that refuses unknown fields. Everything else (new
paths, operations, optional inputs, response fields, error statuses) is compatible.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["allowed_breaks", "breaking_changes", "major"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_ANY = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})

Side = Literal["request", "response"]
"""Who writes a value: the client (a request: the server must go on accepting it) or the
server (a response: the client must go on understanding it)."""

Schema = Mapping[str, Any]


def major(document: Mapping[str, Any]) -> int:
    """The major number of `info.version` (`1.4.0` → 1)."""
    version = str(document.get("info", {}).get("version", ""))
    head = version.split(".", 1)[0]
    if not head.isdigit():
        raise ValueError(f"info.version {version!r} is not a semantic version (major.minor.patch)")
    return int(head)


def allowed_breaks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The breaking changes from `old` to `new` that its version does not own up to:
    none when `new` bumps the major version, else every one."""
    if major(new) > major(old):
        return []
    return breaking_changes(old, new)


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each way `new` breaks a client of `old`, one line each ("GET /v1/x: ...")."""
    found: list[str] = []
    new_paths = new.get("paths", {})
    for path, old_item in sorted(old.get("paths", {}).items()):
        new_item = new_paths.get(path)
        if new_item is None:
            found.append(f"{path}: path removed")
            continue
        for method in METHODS:
            if method not in old_item:
                continue
            where = f"{method.upper()} {path}"
            if method not in new_item:
                found.append(f"{where}: operation removed")
                continue
            found += _Comparison(old, new, where).operation(old_item[method], new_item[method])
    return found


@dataclass
class _Comparison:
    """One operation's comparison; `within` holds the schema pairs being compared, so a
    recursive schema is not entered again inside itself."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    where: str
    found: list[str] = field(default_factory=list)
    within: set[tuple[int, int, Side]] = field(default_factory=set)

    def operation(self, old: Schema, new: Schema) -> list[str]:
        self._parameters(old.get("parameters", []), new.get("parameters", []))
        self._body(old.get("requestBody"), new.get("requestBody"))
        self._responses(old.get("responses", {}), new.get("responses", {}))
        return self.found

    def _break(self, at: str, what: str) -> None:
        self.found.append(f"{self.where}: {at}{': ' if at else ''}{what}")

    def _parameters(self, old: list[Schema], new: list[Schema]) -> None:
        olds = {(p["in"], p["name"]): p for p in (self._resolve_in(p, self.old) for p in old)}
        for param in (self._resolve_in(p, self.new) for p in new):
            key = (param["in"], param["name"])
            at = f"{param['in']} parameter {param['name']!r}"
            before = olds.get(key)
            if param.get("required") and not (before and before.get("required")):
                self._break(at, "new and required" if before is None else "now required")
            if before is not None:
                self._schema(at, before.get("schema", {}), param.get("schema", {}), "request")

    def _body(self, old: Schema | None, new: Schema | None) -> None:
        old = self._resolve_in(old, self.old) if old else None
        new = self._resolve_in(new, self.new) if new else None
        if new is None:
            return
        if new.get("required") and not (old and old.get("required")):
            self._break("request body", "new and required" if old is None else "now required")
        if old is None:
            return
        for media, content in old.get("content", {}).items():
            if media not in new.get("content", {}):
                self._break(f"request body {media}", "no longer accepted")
                continue
            self._schema(
                f"request body {media}",
                content.get("schema", {}),
                new["content"][media].get("schema", {}),
                "request",
            )

    def _responses(self, old: Schema, new: Schema) -> None:
        for status, declared in sorted(old.items()):
            if not str(status).startswith("2"):
                continue  # error answers may come and go; a client handles any error
            at = f"answer {status}"
            if status not in new:
                self._break(at, "removed")
                continue
            answer = self._resolve_in(declared, self.old)
            now = self._resolve_in(new[status], self.new)
            for media, content in answer.get("content", {}).items():
                if media not in now.get("content", {}):
                    self._break(f"{at} {media}", "no longer sent")
                    continue
                self._schema(
                    f"{at} {media}",
                    content.get("schema", {}),
                    now["content"][media].get("schema", {}),
                    "response",
                )

    def _resolve_in(self, node: Any, document: Mapping[str, Any]) -> Any:
        while isinstance(node, Mapping) and "$ref" in node:
            node = _pointer(document, node["$ref"])
        return node

    def _schema(
        self, at: str, old: Schema, new: Schema, side: Side, path: tuple[str, ...] = ()
    ) -> None:
        """Compare a value's schemas; `at` names the value's root (a parameter, a body, an
        answer), `path` the field within it (`[]` an array's items, `{}` a map's values)."""
        old = self._resolve_in(old, self.old)
        new = self._resolve_in(new, self.new)
        if (id(old), id(new), side) in self.within:
            return
        label = f"{at} field {'.'.join(path)}" if path else at
        self._types(label, old, new, side)
        self._enum(label, old, new, side)
        old_one, new_one = self._single(old, self.old), self._single(new, self.new)
        if old_one is None or new_one is None:
            return
        entered = {(id(old), id(new), side), (id(old_one), id(new_one), side)}
        if entered & self.within:
            return
        self.within |= entered
        self._object(at, old_one, new_one, side, path)
        if "items" in old_one and "items" in new_one:
            self._schema(at, old_one["items"], new_one["items"], side, (*path, "[]"))
        old_values = old_one.get("additionalProperties")
        new_values = new_one.get("additionalProperties")
        if isinstance(old_values, Mapping) and isinstance(new_values, Mapping):
            self._schema(at, old_values, new_values, side, (*path, "{}"))
        self.within -= entered

    def _types(self, at: str, old: Schema, new: Schema, side: Side) -> None:
        before, after = _types(old, self.old), _types(new, self.new)
        if side == "request" and before - after:
            self._break(at, f"no longer accepts {', '.join(sorted(before - after))}")
        if side == "response" and after - before:
            self._break(at, f"may now be {', '.join(sorted(after - before))}")

    def _enum(self, at: str, old: Schema, new: Schema, side: Side) -> None:
        before, after = _enum(old), _enum(new)
        if side == "request" and after is not None:
            if before is None:
                self._break(at, f"now limited to {', '.join(sorted(after))}")
            elif before - after:
                self._break(at, f"no longer accepts {', '.join(sorted(before - after))}")
        if side == "response" and before is not None:
            if after is None:
                self._break(at, f"no longer limited to {', '.join(sorted(before))}")
            elif after - before:
                self._break(at, f"may now be {', '.join(sorted(after - before))}")

    def _single(self, schema: Schema, document: Mapping[str, Any]) -> Schema | None:
        """The one non-null form of a schema (`X | None` is X), if it has just one."""
        forms = [
            self._resolve_in(form, document)
            for form in schema.get("anyOf", schema.get("oneOf", schema.get("allOf", [schema])))
        ]
        forms = [form for form in forms if form.get("type") != "null"]
        return forms[0] if len(forms) == 1 else None

    def _object(self, at: str, old: Schema, new: Schema, side: Side, path: tuple[str, ...]) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))

        def field(name: str) -> str:
            return f"{at} field {'.'.join((*path, name))}"

        if side == "response":
            for name in sorted(old_props):
                if name not in new_props:
                    self._break(field(name), "removed")
                elif name in old_required and name not in new_required:
                    self._break(field(name), "may now be missing")
        else:
            for name in sorted(new_required - old_required):
                self._break(field(name), "new and required")
            if new.get("additionalProperties") is False:
                for name in sorted(set(old_props) - set(new_props)):
                    self._break(field(name), "no longer accepted")
        for name in sorted(set(old_props) & set(new_props)):
            self._schema(at, old_props[name], new_props[name], side, (*path, name))


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only references within the document are followed, not {ref!r}")
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _types(schema: Schema, document: Mapping[str, Any]) -> frozenset[str]:
    """The JSON types a schema allows (every type when it does not say); an integer is
    also a number."""
    if "$ref" in schema:
        return _types(_pointer(document, schema["$ref"]), document)
    forms = schema.get("anyOf", schema.get("oneOf"))
    if forms is not None:
        return frozenset().union(*(_types(form, document) for form in forms))
    if len(schema.get("allOf", [])) == 1:
        return _types(schema["allOf"][0], document)
    declared = schema.get("type")
    if declared is None:
        if "const" in schema or "enum" in schema:
            values = [schema["const"]] if "const" in schema else schema["enum"]
            return frozenset(map(_json_type, values))
        if "properties" in schema:
            return frozenset({"object"})
        return _ANY
    found = {declared} if isinstance(declared, str) else set(declared)
    if "number" in found:
        found.add("integer")
    return frozenset(found)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(schema: Schema) -> set[str] | None:
    """The values a schema is limited to, as JSON text (None: not limited to a list)."""
    if "const" in schema:
        return {json.dumps(schema["const"], sort_keys=True)}
    if "enum" in schema:
        return {json.dumps(value, sort_keys=True) for value in schema["enum"]}
    return None
