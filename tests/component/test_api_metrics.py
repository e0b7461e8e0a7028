"""`/metrics` on the controller API, in process over a real store: superusers only, in
Prometheus' text format (read back with its own parser), documented as `text/plain`."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from runecraft.controller import services
from runecraft.controller.state import Store
from tests.component._api import URL, api_client, controller_app
from tests.component.test_api import _charm, _upload


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


async def test_metrics_count_units_by_status_and_time_statements(
    store: Store, tmp_path: Path
) -> None:
    hub = services.ChangeHub()
    async with api_client(store, hub, published_revision=None) as http:
        assert (await http.post("/v1/models", json={"name": "m"})).status_code == 201
        sha = await _upload(http, _charm(tmp_path, "web", {}))
        body = {"application": "web", "charm_sha256": sha, "num_units": 3}
        response = await http.post("/v1/models/m/applications", json=body)
        assert response.status_code == 201, response.text
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    found = families(response.text)
    assert found["runecraft_units"] == [
        ("runecraft_units", {"model": "m", "workload_status": "waiting"}, 3.0)
    ]
    statements = {
        name: value for name, _, value in found["runecraft_db_statement_duration_seconds"]
    }
    assert statements["runecraft_db_statement_duration_seconds_count"] > 0
    assert found["runecraft_hook_duration_seconds"] == []  # no agent reported yet


async def test_metrics_need_a_superusers_token(store: Store) -> None:
    app = controller_app(store, services.ChangeHub(), published_revision=None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as http:
        anonymous = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 403
    assert anonymous.json()["error"]["message"] == "missing bearer token"
    assert wrong.status_code == 403
    # A user without superuser access: tests/component/test_isolation_users.py walks every
    # controller route (this one included) as a plain user and expects 403.


async def test_the_document_describes_metrics_as_text(store: Store) -> None:
    app = controller_app(store, services.ChangeHub(), published_revision=None)
    operation = app.openapi()["paths"]["/metrics"]["get"]
    ok = operation["responses"]["200"]
    assert "Prometheus text exposition format" in ok["description"]
    assert list(ok["content"]) == ["text/plain"]
    assert ok["content"]["text/plain"]["schema"] == {"type": "string"}
    assert operation["summary"] == "Prometheus metrics"
