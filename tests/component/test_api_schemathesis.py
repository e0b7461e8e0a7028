"""The controller API against its own OpenAPI document (schemathesis): every operation is
called with generated requests, as admin, on a real store; no answer is a server error and
every answer (status code, content type, body) is one the document declares.

Bounded and reproducible: a few derandomized examples per operation.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from runecraft.controller import services
from runecraft.controller.state import Store
from tests.component._api import TOKEN, controller_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class LiveController:
    """An ASGI app: the controller's API over a store opened on the loop that serves it
    (schemathesis runs in-process apps on an event loop of its own), with a model
    `default`."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="rc-schema-"))
        self._app: Any = None
        self._store: Store | None = None
        self._ready = asyncio.Lock()

    async def _start(self) -> Any:
        async with self._ready:
            if self._app is None:
                store = await Store.open(f"sqlite+aiosqlite:///{self.directory / 'state.db'}")
                hub = services.ChangeHub()
                await services.ModelService(store, hub).add_model("default")
                self._store = store
                self._app = controller_app(store, hub, published_revision=None)
        return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    if self._store is not None:
                        await self._store.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app = await self._start()
        await app(scope, receive, send)


UNSERVED = r"^/v1/models/\{model\}/(logs|status-log|machines)(/\{number\}|/new)?$"
"""Services an API-only setup does not have (the logs need the bus, enlisting a machine an
SSH provider): their operations answer a deliberate, documented 500 "this controller keeps
no logs", so they are held to their document but not to `not_a_server_error`."""

document = schemathesis.openapi.from_asgi("/openapi.json", LiveController())
schema = document.exclude(path_regex=UNSERVED)
unserved = document.include(path_regex=UNSERVED)

EXAMPLES = settings(
    max_examples=8,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@schema.parametrize()
@EXAMPLES
def test_api_conforms_to_its_document(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=CHECKS)


@unserved.parametrize()
@EXAMPLES
def test_unserved_operations_answer_only_what_they_document(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(
        response, checks=[check for check in CHECKS if check is not not_a_server_error]
    )


@document.parametrize()
@settings(EXAMPLES, max_examples=1)
def test_callers_without_credentials_get_documented_answers(case: schemathesis.Case) -> None:
    """Without a credential (or with whatever the generator makes up for the bearer
    scheme), an operation that needs one answers its documented 403."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    response = case.call()
    case.validate_response(
        response, checks=[check for check in CHECKS if check is not not_a_server_error]
    )
    if case.method.lower() == case.operation.method and case.operation.definition.raw.get(
        "security"
    ):  # (the generator also tries methods a path lacks: 405, before any credential)
        assert response.status_code == 403, response.text


def test_every_operation_is_checked() -> None:
    """The two tests above cover the whole document between them, with the status-code
    check (no answer the document does not list) in both."""
    everything, checked, rest = (
        {(o.ok().method, o.ok().path) for o in part.get_all_operations()}
        for part in (document, schema, unserved)
    )
    assert checked | rest == everything
    assert len(rest) == 5  # logs, status-log and three machine operations
    assert status_code_conformance in CHECKS
