"""The API's OpenAPI document: the committed `docs/openapi.json` is the one the API serves,
no change breaks it without a major version bump, and it says what the server answers
(its error body and statuses, its security, a typed answer for every operation)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runecraft.controller.api import __main__ as command
from runecraft.controller.api._app import openapi_document
from runecraft.controller.api._compat import allowed_breaks
from runecraft.controller.api._openapi import API_VERSION, render
from runecraft.schemas import api

ROOT = Path(__file__).parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"
UNAUTHENTICATED = {("get", "/v1/health"), ("post", "/v1/login")}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    return openapi_document()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_committed_document_is_the_live_one(live: dict[str, Any]) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(live), (
        f"docs/openapi.json is not the API's document: regenerate it with `{command.REGENERATE}`"
    )


def _breaks_message(breaks: list[str], against: str) -> str:
    return (
        f"the API breaks {against} without a major version bump (API_VERSION "
        f"{API_VERSION}):\n" + "\n".join(breaks)
    )


def test_the_live_document_does_not_break_the_committed_one(live: dict[str, Any]) -> None:
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    breaks = allowed_breaks(committed, live)
    assert not breaks, _breaks_message(breaks, "docs/openapi.json")


def test_the_live_document_does_not_break_the_last_commit_s(live: dict[str, Any]) -> None:
    """Against the last commit's document too: regenerating the working copy's does not
    hide a break."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    shown = subprocess.run(
        [git, "show", "HEAD:docs/openapi.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        pytest.skip("docs/openapi.json is not in the last commit")
    breaks = allowed_breaks(json.loads(shown.stdout), live)
    assert not breaks, _breaks_message(breaks, "the last commit's docs/openapi.json")


def test_the_version_is_the_api_s_and_semantic(live: dict[str, Any]) -> None:
    assert live["info"]["version"] == API_VERSION
    assert re.fullmatch(r"\d+\.\d+\.\d+", API_VERSION)


def test_errors_are_documented_as_the_server_answers_them(live: dict[str, Any]) -> None:
    """One error body, the server's (`{"error": {code, message}}`); no FastAPI 422 (the
    server answers 400); every operation may fail (500) or meet an unavailable database
    (503), and one that takes input may find it invalid (400)."""
    schemas = live["components"]["schemas"]
    declared = api.ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    assert schemas["ErrorDetail"] == declared.pop("$defs")["ErrorDetail"]
    assert schemas["ErrorBody"] == declared
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in schemas
    for method, path, operation in _operations(live):
        answers = operation["responses"]
        errors = {status for status in answers if not status.startswith("2")}
        assert "422" not in answers, (method, path)
        assert {"500", "503"} <= errors, (method, path)
        if operation.get("parameters") or operation.get("requestBody"):
            assert {"400", "404"} <= errors, (method, path)
        for status in errors:
            body = answers[status]["content"]["application/json"]["schema"]
            assert body == ERROR_BODY, (method, path, status)


def test_the_bearer_scheme_is_on_every_operation_but_health_and_login(
    live: dict[str, Any],
) -> None:
    (scheme,) = live["components"]["securitySchemes"].values()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path, operation in _operations(live):
        secured = operation.get("security") == [{"HTTPBearer": []}]
        assert secured == ((method, path) not in UNAUTHENTICATED), (method, path)
        assert ("403" in operation["responses"]) == (secured or path == "/v1/login")


def test_every_answer_is_typed(live: dict[str, Any]) -> None:
    """Every success answer with a body declares its schema (the status document too,
    though the server sends it unvalidated)."""
    for method, path, operation in _operations(live):
        for status, answer in operation["responses"].items():
            if status.startswith("2") and status != "204":
                for media, content in answer["content"].items():
                    assert content.get("schema"), (method, path, status, media)
    status = live["paths"]["/v1/models/{model}/status"]["get"]["responses"]["200"]
    assert status["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusDocument"
    }


def test_the_command_writes_prints_and_checks(
    tmp_path: Path, live: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "openapi.json"
    assert command.main(["--check", str(target)]) == 1  # none yet
    assert "regenerate it with" in capsys.readouterr().err
    assert command.main(["--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == render(live)
    assert command.main(["--check", str(target)]) == 0
    assert command.main(["--openapi"]) == 0
    assert capsys.readouterr().out == render(live)


def test_the_command_refuses_to_write_over_a_document_it_breaks(
    tmp_path: Path, live: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed document with an operation the API no longer has: writing the live one
    over it would hide a break, and is refused, leaving the file as it was."""
    older = json.loads(render(live))
    older["paths"]["/v1/gone"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    target = tmp_path / "openapi.json"
    target.write_text(render(older), encoding="utf-8")
    assert command.main(["--write", str(target)]) == 1
    assert "/v1/gone: path removed" in capsys.readouterr().err
    assert json.loads(target.read_text(encoding="utf-8")) == older
    assert command.main(["--check", str(target)]) == 1
