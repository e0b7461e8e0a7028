"""The patch flavours a client may send, applied to plain JSON objects.

Merge patch (RFC 7386) is exact. Strategic merge patch is approximated by the same merge:
dict fields merge recursively and `null` removes a key, but lists are replaced whole (a real
server merges some lists by a key, e.g. containers by name); `$patch`-style directives are
dropped. JSON patch (RFC 6902) supports add, remove, replace and test. Server-side apply
(`application/apply-patch+yaml` with a JSON body) is also treated as a merge: fields a
manager stops sending are kept rather than removed.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


class PatchError(ValueError):
    """A patch that cannot apply (answered as 422 Invalid or 400 BadRequest)."""


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge of `patch` into a copy of `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"JSON patch path must start with '/': {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError) as exc:
            raise PatchError(f"JSON patch path not found at {part!r}") from exc
    return node


def _apply_op(doc: Any, op: dict[str, Any]) -> None:
    parts = _pointer(str(op.get("path", "")))
    parent, last = _parent(doc, parts), parts[-1]
    kind = op.get("op")
    if kind == "test":
        current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
        if current != op.get("value"):
            raise PatchError(f"JSON patch test failed at {op.get('path')!r}")
    elif kind == "remove":
        try:
            del parent[int(last) if isinstance(parent, list) else last]
        except (KeyError, IndexError) as exc:
            raise PatchError(f"JSON patch cannot remove {op.get('path')!r}") from exc
    elif kind in ("add", "replace"):
        value = copy.deepcopy(op.get("value"))
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, value)
            else:
                parent[index] = value
        else:
            parent[last] = value
    else:
        raise PatchError(f"JSON patch operation not supported: {kind!r}")


def json_patch(target: dict[str, Any], ops: Any) -> dict[str, Any]:
    """RFC 6902 patch (add, remove, replace, test) applied to a copy of `target`."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("a JSON patch operation must be an object")
        _apply_op(doc, op)
    return doc


def apply_patch(content_type: str, target: dict[str, Any], body: Any) -> dict[str, Any]:
    """The object after a PATCH with this content type."""
    kind = content_type.split(";", 1)[0].strip()
    if kind == JSON_PATCH:
        return json_patch(target, body)
    if kind in (MERGE, STRATEGIC, APPLY):
        if not isinstance(body, dict):
            raise PatchError("a merge patch must be a JSON object")
        result = merge(target, body)
        assert isinstance(result, dict)
        return result
    raise PatchError(f"unsupported patch content type: {kind!r}")
