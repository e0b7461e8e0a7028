"""The API's OpenAPI document, as the server really answers: every error as `ErrorBody`
with its class's status (`ERROR_STATUS`), the statuses each operation can answer derived
from what it takes (`error_statuses`), the bearer scheme on the operations that need it,
and a contract version (`API_VERSION`) that `docs/openapi.json` is kept at.

Regenerate the committed document with `python -m runecraft.controller.api --write
docs/openapi.json` (it refuses a document that breaks the committed one without a major
version bump; see `_compat`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from runecraft import errors
from runecraft.controller.api._audit import MUTATING
from runecraft.schemas import api

__all__ = [
    "API_VERSION",
    "ERROR_STATUS",
    "TITLE",
    "answers",
    "binary_answer",
    "binary_upload",
    "build_document",
    "cached_document",
    "declares",
    "error_statuses",
    "render",
    "status_of",
    "text_answer",
]

API_VERSION = "1.0.0"
"""The contract version (`info.version`, semver): a change that breaks a client of the
committed document (see `_compat.breaking_changes`) bumps the major, an addition the minor."""

TITLE = "Runecraft controller"

ERROR_STATUS: Mapping[type[errors.RunecraftError], int] = {
    errors.InvalidSpecError: 400,
    errors.UsageError: 400,
    errors.PermissionDeniedError: 403,
    errors.NotFoundError: 404,
    errors.TaskTargetNotFoundError: 404,
    errors.ConflictError: 409,
    errors.TemporaryError: 503,
    errors.UnavailableError: 503,
    errors.BrokerStoppedError: 503,
    errors.PermanentError: 500,
    errors.RunecraftError: 500,
}
"""The HTTP status of each error class (a class not listed, 500). The server answers no
401 (a missing or wrong credential is 403 permission-denied), no 413 (an oversized upload
is 400 invalid) and no 422 (a request that does not validate is 400 invalid)."""

_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}


def status_of(exc: errors.RunecraftError) -> int:
    """The HTTP status an error answers with (its class's; 500 for one not listed)."""
    return ERROR_STATUS.get(type(exc), 500)


_MEANING = {
    400: "Invalid request (bad input, an oversized upload); nothing changed",
    403: "Permission denied: a missing or wrong credential, or too little access",
    404: "Not found: a model, application, unit, ... the request names does not exist",
    409: "Conflict: the request contradicts what is stored",
    500: "Internal or permanent error: retrying will not help",
    503: "Temporarily unavailable (the database, the broker): retry later",
}


def _description(status: int) -> str:
    """What `status` means, with the error codes (`ErrorDetail.code`) it comes with, taken
    from the error tree."""
    codes = dict.fromkeys(cls.code for cls, code in ERROR_STATUS.items() if code == status)
    return f"{_MEANING[status]} ({', '.join(f'`{code}`' for code in codes)})"


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers a status `error_statuses` does not derive
    (`login` answers 403 without a credential of its own)."""
    return {
        status: {"model": api.ErrorBody, "description": _description(status)} for status in statuses
    }


_BINARY = {"type": "string", "format": "binary"}


def declares(model: Any) -> dict[str, Any]:
    """The route options (`**declares(model)`) that declare its answer as `model` while it
    still answers the plain JSON it builds (a Juju-shaped document), unvalidated."""
    return {
        "response_model": None,
        "responses": {200: {"model": model, "description": "Successful Response"}},
    }


def binary_upload(what: str) -> dict[str, Any]:
    """`openapi_extra=` for a route that reads its body itself (an upload): the body it
    takes, described as the document would for a declared one."""
    return {
        "requestBody": {
            "required": True,
            "description": what,
            "content": {"application/octet-stream": {"schema": _BINARY}},
        }
    }


def binary_answer(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers bytes of `media_type` (a download)."""
    return {200: {"description": what, "content": {media_type: {"schema": _BINARY}}}}


def text_answer(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route that answers text of `media_type` (`text/plain`), with
    `response_class` the matching response (FastAPI documents a route returning a
    `Response` itself as JSON otherwise)."""
    return {200: {"description": what, "content": {media_type: {"schema": {"type": "string"}}}}}


def error_statuses(method: str, operation: Mapping[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what it takes: any input can be
    invalid (400) or name what does not exist (404); a credential can be refused (403); a
    change can contradict what is stored (409); anything can fail (500) or meet an
    unavailable database (503)."""
    found = {500, 503}
    if operation.get("parameters") or operation.get("requestBody"):
        found |= {400, 404}
    if operation.get("security"):
        found.add(403)
    if method.upper() in MUTATING:
        found.add(409)
    return found


def build_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of `app`'s routes as the server answers."""
    document = get_openapi(title=TITLE, version=API_VERSION, routes=app.routes)
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    error_schema = api.ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    for path in document.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's; invalid requests answer 400
            for status in sorted(error_statuses(method, operation)):
                responses.setdefault(
                    str(status),
                    {
                        "description": _description(status),
                        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return document


def render(document: Mapping[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indents, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def cached_document(app: FastAPI) -> dict[str, Any]:
    """`app.openapi`: built once, a copy of it for each caller that might change it."""
    if app.openapi_schema is None:
        app.openapi_schema = build_document(app)
    return copy.deepcopy(app.openapi_schema)
