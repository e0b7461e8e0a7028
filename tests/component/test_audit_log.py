"""The audit log: every mutating API call leaves an entry with who, what (method, route
template, model), when and how it ended, refused calls included; reads leave none, request
bodies are never stored; `rune audit-log` lists it as a table, JSON or YAML."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml

from runecraft.controller import services
from runecraft.controller.state import Store
from runecraft.controller.state import _tables as t
from tests.component._api import URL, controller_app

from .test_cli_in_process import HELLO, Controller, controller

__all__ = ["controller"]

APP = "/v1/models/{model}/applications/{application}"


def _entries(controller: Controller, *args: str) -> list[dict[str, Any]]:
    document: Any = json.loads(controller.rune("audit-log", "--format", "json", *args))
    assert isinstance(document, list)
    return document


def _outcomes(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(e["method"], e["route"], e["model"], e["status"], e["error"]) for e in entries]


def test_deploy_config_and_remove_leave_entries_with_their_outcome(
    controller: Controller,
) -> None:
    started = time.time()
    controller.rune("deploy", HELLO, "-n", "0")
    controller.rune("config", "hello-bash", "message=hi")
    controller.rune("status")  # a read: no entry
    controller.rune("remove-application", "hello-bash")
    code, _, stderr = controller.run("remove-application", "nothing-here")
    assert code != 0 and "not found" in stderr

    entries = _entries(controller, "--model", "default")
    assert _outcomes(entries) == [
        ("POST", "/v1/models/{model}/applications", "default", 201, ""),
        ("PATCH", APP + "/config", "default", 200, ""),
        ("DELETE", APP, "default", 200, ""),
        ("DELETE", APP, "default", 404, "not-found"),
    ]
    assert all(started <= e["at"] <= time.time() for e in entries)
    assert {e["principal"] for e in entries} == {"user:admin"}
    everything = _entries(controller)
    assert len(everything) > len(entries)  # the charm upload (no model in its route) too
    assert _outcomes(_entries(controller, "--model", "default", "--limit", "1")) == [
        ("DELETE", APP, "default", 404, "not-found")
    ]
    as_yaml = yaml.safe_load(controller.rune("audit-log", "--format", "yaml", "-m", "default"))
    assert as_yaml == entries
    table = controller.rune("audit-log", "-m", "default")
    assert "/v1/models/{model}/applications/{application}/config" in table
    assert "404 not-found" in table


def test_request_bodies_are_never_recorded(controller: Controller, tmp_path: Path) -> None:
    secret, option = f"s3cret-{uuid.uuid4().hex}", f"opt-{uuid.uuid4().hex}"
    controller.rune("add-secret", "db-pass", f"password={secret}")
    controller.rune("deploy", HELLO, "-n", "0")
    controller.rune("config", "hello-bash", f"message={option}")

    async def audit_rows() -> list[str]:
        async with controller.store.engine.connect() as conn:
            return [repr(tuple(r)) for r in await conn.execute(sa.select(t.audit_log))]

    rows = asyncio.run(audit_rows())
    assert any("/v1/models/{model}/secrets" in row for row in rows)
    assert not any(secret in row or option in row or "db-pass" in row for row in rows)
    database = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*"))
    assert secret.encode() not in database


def test_rotating_the_secrets_key_is_a_command_and_is_audited(controller: Controller) -> None:
    controller.rune("add-secret", "api", "token=t1")
    old = controller.store.keyring.current
    code, _, stderr = controller.run("rotate-secrets-key")
    assert code == 0, stderr
    new = controller.store.keyring.current
    assert new != old and controller.store.keyring.key_ids == [new]
    assert f'"{new}" now seals 1 secret revision(s); dropped: {old}' in stderr
    shown = json.loads(controller.rune("show-secret", "api", "--reveal", "--format", "json"))
    assert [s["content"]["Data"] for s in shown.values()] == [{"token": "t1"}]
    assert _outcomes(_entries(controller))[-1] == (
        "POST",
        "/v1/controller/secrets-key/rotate",
        None,
        200,
        "",
    )


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[Store, httpx.AsyncClient, httpx.AsyncClient]]:
    """An admin and an unauthenticated raw HTTP client of one controller app."""
    store = asyncio.run(Store.open(f"sqlite+aiosqlite:///{tmp_path / 'state.db'}"))
    hub = services.ChangeHub()
    asyncio.run(services.ModelService(store, hub).add_model("default"))
    app = controller_app(store, hub, published_revision=None)
    transport = httpx.ASGITransport(app=app)
    admin = httpx.AsyncClient(
        transport=transport, base_url=URL, headers={"Authorization": "Bearer admin-token"}
    )
    anonymous = httpx.AsyncClient(transport=transport, base_url=URL)
    try:
        yield store, admin, anonymous
    finally:
        asyncio.run(store.close())


def test_refused_calls_are_recorded_with_their_outcome_and_caller(
    api: tuple[Store, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    store, admin, anonymous = api

    async def calls() -> dict[str, Any]:
        bad = await admin.post("/v1/models/default/applications", json={"application": 7})
        refused = await anonymous.delete("/v1/models/default/applications/x")
        missing = await admin.delete("/v1/models/default/applications/nothing-here")
        nowhere = await admin.post("/v1/no-such-route")
        read = await admin.get("/v1/models")
        assert [r.status_code for r in (bad, refused, missing, nowhere, read)] == [
            400,
            403,
            404,
            404,
            200,
        ]
        assert (await anonymous.get("/v1/audit")).status_code == 403
        page = await admin.get("/v1/audit", params={"limit": 10})
        assert page.status_code == 200
        return dict(page.json())

    page = asyncio.run(calls())
    rows = [
        (e["principal"], e["method"], e["route"], e["model"], e["status"], e["error"])
        for e in page["entries"]
    ]
    assert rows == [
        ("user:admin", "POST", "/v1/models/{model}/applications", "default", 400, "invalid"),
        ("anonymous", "DELETE", APP, "default", 403, "permission-denied"),
        ("user:admin", "DELETE", APP, "default", 404, "not-found"),
    ]  # a path no route serves called nothing: it is not logged (a flood must not grow it)
    del store


def test_a_limit_out_of_range_is_refused(
    api: tuple[Store, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    _, admin, _ = api

    async def call() -> httpx.Response:
        return await admin.get("/v1/audit", params={"limit": 0})

    response = asyncio.run(call())
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["message"]
