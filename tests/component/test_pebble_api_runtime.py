"""The Pebble agent's runtime API through the route table: layers, plan, services, changes,
checks, health and notices, with Pebble's texts, status codes and access rules."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ops.pebble
import pytest
import yaml

from runecraft.agents.pebble import _api_runtime, _runtime, _state
from runecraft.agents.pebble._http import Request, Router

TIMEOUT = 30.0
ADMIN = 0
USER = 1000
OTHER = 1001


class Api:
    """Requests through the router as a given uid; replies as (status, envelope)."""

    def __init__(self, runtime: _runtime.Runtime) -> None:
        self.runtime = runtime
        self.router = Router()
        _api_runtime.add_routes(self.router, runtime)

    async def call(
        self, method: str, target: str, body: Any = None, uid: int | None = ADMIN
    ) -> tuple[int, dict[str, Any]]:
        parsed = urllib.parse.urlsplit(target)
        request = Request(
            method=method,
            path=parsed.path,
            query=urllib.parse.parse_qs(parsed.query),
            headers={"content-type": "application/json"},
            body=body if isinstance(body, bytes) else json.dumps(body).encode(),
            uid=uid,
        )
        response = await self.router.dispatch(request)
        assert response.content_type == "application/json"
        envelope = json.loads(response.body)
        assert envelope["status-code"] == response.status
        return response.status, envelope

    async def ok(self, method: str, target: str, body: Any = None, uid: int = ADMIN) -> Any:
        status, envelope = await self.call(method, target, body, uid)
        assert status in (200, 202), envelope
        return envelope.get("result") if status == 200 else envelope["change"]

    async def error(
        self, method: str, target: str, body: Any = None, uid: int | None = ADMIN
    ) -> tuple[int, str]:
        status, envelope = await self.call(method, target, body, uid)
        assert envelope["type"] == "error", envelope
        return status, envelope["result"]["message"]

    async def add_layer(self, label: str, layer: Any, combine: bool = False) -> Any:
        text = layer if isinstance(layer, str) else ops.pebble.Layer(layer).to_yaml()
        body = {"action": "add", "combine": combine, "label": label, "format": "yaml"}
        return await self.call("POST", "/v1/layers", {**body, "layer": text})

    async def plan(self) -> dict[str, Any]:
        return dict(yaml.safe_load(await self.ok("GET", "/v1/plan?format=yaml")) or {})

    async def wait(self, change_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.ok(
            "GET", f"/v1/changes/{change_id}/wait?timeout={TIMEOUT}s"
        )
        return result


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    runtime = _runtime.Runtime(tmp_path, dict(os.environ), output=None)
    await runtime.start(hold=True)
    yield Api(runtime)
    await runtime.stop()


SLEEPY = {
    "summary": "sleepy",
    "services": {
        "sleep": {"override": "replace", "command": "sleep 3600", "startup": "enabled"},
    },
}


async def test_add_layer_combine_and_plan(api: Api) -> None:
    assert await api.add_layer("base", SLEEPY) == (
        200,
        {"type": "sync", "status-code": 200, "status": "OK", "result": True},
    )
    plan = await api.plan()
    assert plan == {
        "services": {
            "sleep": {"override": "replace", "command": "sleep 3600", "startup": "enabled"}
        }
    }
    assert ops.pebble.Plan(yaml.safe_dump(plan)).services["sleep"].startup == "enabled"

    status, message = await api.error(
        "POST",
        "/v1/layers",
        {
            "action": "add",
            "combine": False,
            "label": "base",
            "format": "yaml",
            "layer": "services: {}",
        },
    )
    assert (status, message) == (400, 'layer "base" already exists')

    merge = {"services": {"sleep": {"override": "merge", "environment": {"A": "1"}}}}
    assert (await api.add_layer("base", merge, combine=True))[0] == 200
    services = (await api.plan())["services"]
    assert services["sleep"]["environment"] == {"A": "1"}
    assert services["sleep"]["command"] == "sleep 3600"
    assert [layer.label for layer in api.runtime.plans.layers] == ["base"]


async def test_bad_layers_leave_the_plan_unchanged(api: Api) -> None:
    await api.add_layer("base", SLEEPY)
    before = await api.plan()
    unknown_key = "services:\n  web:\n    override: replace\n    command: x\n    default: start\n"
    status, message = await api.error(
        "POST",
        "/v1/layers",
        {
            "action": "add",
            "combine": True,
            "label": "bad",
            "format": "yaml",
            "layer": unknown_key,
        },
    )
    assert status == 400 and message.startswith("cannot parse layer YAML: ")
    assert "default" in message
    no_command = {"services": {"idle": {"override": "replace", "summary": "no command"}}}
    status, envelope = await api.add_layer("incomplete", no_command)
    assert status == 400 and "idle" in envelope["result"]["message"]
    assert "command" in envelope["result"]["message"]
    status, message = await api.error("POST", "/v1/layers", {"action": "remove", "label": "x"})
    assert (status, message) == (400, 'invalid action "remove"')
    status, message = await api.error("POST", "/v1/layers", {"action": "add", "label": ""})
    assert (status, message) == (400, "label must be set")
    status, message = await api.error(
        "POST", "/v1/layers", {"action": "add", "label": "x", "format": "json"}
    )
    assert (status, message) == (400, 'invalid format "json"')
    assert await api.error("GET", "/v1/plan?format=json") == (400, 'invalid format "json"')
    assert await api.plan() == before
    assert [layer.label for layer in api.runtime.plans.layers] == ["base"]


async def test_services_through_the_api(api: Api) -> None:
    await api.add_layer("base", SLEEPY)
    before = await api.ok("GET", "/v1/changes?select=all")
    assert await api.error("POST", "/v1/services", {"action": "start", "services": ["nope"]}) == (
        400,
        'cannot start services: service "nope" does not exist',
    )
    status, envelope = await api.call("POST", "/v1/services", {"action": "autostart"})
    assert status == 202 and envelope["type"] == "async"
    change = ops.pebble.Change.from_dict(await api.wait(envelope["change"]))
    assert change.ready and change.status == "Done" and change.kind == "autostart"
    assert change.summary == 'Autostart service "sleep"'
    [info] = await api.ok("GET", "/v1/services?names=sleep,other")
    assert ops.pebble.ServiceInfo.from_dict(info).is_running()
    listed = await api.ok("GET", "/v1/changes?select=all&for=sleep")
    assert [c["id"] for c in listed] == [envelope["change"]]
    assert len(await api.ok("GET", "/v1/changes?select=all")) == len(before) + 1
    assert await api.ok("GET", "/v1/changes?select=in-progress") == []
    assert await api.error("GET", "/v1/changes?select=some") == (
        400,
        "select should be one of: all,in-progress,ready",
    )
    replan = await api.ok("POST", "/v1/services", {"action": "replan", "services": []})
    assert (await api.wait(replan))["summary"] == 'Replan service "sleep"'
    stop = await api.ok("POST", "/v1/services", {"action": "stop", "services": ["sleep"]})
    assert (await api.wait(stop))["status"] == "Done"
    assert (await api.ok("GET", "/v1/services"))[0]["current"] == "inactive"
    assert await api.error("POST", "/v1/services", {"action": "dance", "services": ["x"]}) == (
        400,
        'invalid action "dance"',
    )
    assert await api.error("POST", "/v1/services", b"[1]") == (
        400,
        "cannot decode data from request body: expected a JSON object",
    )
    status, message = await api.error("POST", "/v1/services", b"{nope")
    assert status == 400 and message.startswith("cannot decode data from request body: ")


async def test_a_failed_start_is_a_change_error_with_the_services_output(api: Api) -> None:
    layer = {
        "services": {
            "crash": {
                "override": "replace",
                "command": "sh -c 'echo cannot bind port; exit 2'",
                "startup": "enabled",
                "on-failure": "ignore",
            }
        }
    }
    await api.add_layer("crash", layer)
    change_id = await api.ok("POST", "/v1/services", {"action": "replan", "services": []})
    change = ops.pebble.Change.from_dict(await api.wait(change_id))
    assert change.status == "Error" and change.err is not None
    error = str(ops.pebble.ChangeError(change.err, change))
    assert "exited quickly with code 2, will ignore" in error
    assert "Most recent service output:\n    cannot bind port" in error
    assert (await api.ok("GET", "/v1/services?names=crash"))[0]["current"] == "error"


async def test_wait_times_out_abort_holds_and_unknown_changes(api: Api) -> None:
    layer = {
        "checks": {
            "slow": {"override": "replace", "period": "1h", "exec": {"command": "true"}},
        }
    }
    await api.add_layer("checks", layer)
    [check] = await api.ok("GET", "/v1/checks")
    change_id = check["change-id"]
    assert await api.error("GET", f"/v1/changes/{change_id}/wait?timeout=50ms") == (
        504,
        "timed out waiting for change after 50ms",
    )
    assert await api.error("GET", f"/v1/changes/{change_id}/wait?timeout=soon") == (
        400,
        'invalid timeout: time: invalid duration "soon"',
    )
    assert await api.error("POST", f"/v1/changes/{change_id}", {"action": "pause"}) == (
        400,
        'invalid action "pause"',
    )
    aborted = await api.ok("POST", f"/v1/changes/{change_id}", {"action": "abort"})
    assert aborted["id"] == change_id
    done = await api.wait(change_id)
    assert done["status"] == "Hold" and done["ready"]
    assert await api.error("POST", f"/v1/changes/{change_id}", {"action": "abort"}) == (
        400,
        f"cannot abort change {change_id} with nothing pending",
    )
    for method, target in (("GET", "/v1/changes/999"), ("GET", "/v1/changes/999/wait")):
        assert await api.error(method, target) == (404, 'cannot find change with id "999"')


async def test_checks_start_stop_and_health(api: Api) -> None:
    layer = {
        "checks": {
            "fails": {
                "override": "replace",
                "level": "ready",
                "period": "100ms",
                "threshold": 1,
                "exec": {"command": "false"},
            },
            "idle": {
                "override": "replace",
                "level": "alive",
                "startup": "disabled",
                "exec": {"command": "true"},
            },
        }
    }
    assert await api.ok("GET", "/v1/health", uid=None) == {"healthy": True}
    await api.add_layer("checks", layer)
    failing = next(c for c in await api.ok("GET", "/v1/checks") if c["name"] == "fails")
    await asyncio.wait_for(api.runtime.state.wait_change(failing["change-id"], None), TIMEOUT)
    status, envelope = await api.call("GET", "/v1/health?level=ready", uid=None)
    assert (status, envelope["result"]) == (502, {"healthy": False})
    assert envelope["type"] == "sync" and envelope["status"] == "Bad Gateway"
    assert await api.ok("GET", "/v1/health?level=alive", uid=None) == {"healthy": True}
    assert await api.error("GET", "/v1/health?level=deep", uid=None) == (
        400,
        'level must be "alive" or "ready"',
    )
    alive = await api.ok("GET", "/v1/checks?level=alive", uid=USER)
    assert [(c["name"], c["status"], c["startup"]) for c in alive] == [
        ("idle", "inactive", "disabled")
    ]
    start = {"action": "start", "checks": ["idle", "fails"]}
    assert await api.ok("POST", "/v1/checks", start) == {"changed": ["idle"]}
    stop = {"action": "stop", "checks": ["idle"]}
    assert await api.ok("POST", "/v1/checks", stop) == {"changed": ["idle"]}
    assert await api.error("POST", "/v1/checks", {"action": "start", "checks": []}) == (
        400,
        "must specify checks for start action",
    )
    assert await api.error("POST", "/v1/checks", {"action": "stop", "checks": ["zz"]}) == (
        400,
        "cannot stop checks: cannot find checks in plan: zz",
    )
    assert await api.error("POST", "/v1/checks", start, uid=USER) == (401, "access denied")


async def test_access_follows_pebbles_table(api: Api) -> None:
    for method, target in (
        ("GET", "/v1/plan?format=yaml"),
        ("POST", "/v1/layers"),
        ("POST", "/v1/services"),
        ("POST", "/v1/changes/1"),
    ):
        assert await api.error(method, target, {}, uid=USER) == (401, "access denied")
        assert await api.error(method, target, {}, uid=None) == (401, "access denied")
    for target in ("/v1/services", "/v1/changes", "/v1/checks", "/v1/notices"):
        assert (await api.call("GET", target, uid=USER))[0] == 200


async def test_notices_belong_to_their_caller(api: Api) -> None:
    add = {"action": "add", "type": "custom", "key": "example.com/ping", "data": {"n": "1"}}
    mine = await api.ok("POST", "/v1/notices", add, uid=USER)
    public = api.runtime.state.add_notice(user_id=None, type="custom", key="example.com/all")
    theirs = await api.ok("POST", "/v1/notices", add, uid=OTHER)
    assert mine["id"] != theirs["id"]
    seen = await api.ok("GET", "/v1/notices?types=custom", uid=USER)
    assert [n["id"] for n in seen] == [mine["id"], public.id]
    notice = ops.pebble.Notice.from_dict(seen[0])
    assert (notice.user_id, notice.key, notice.last_data) == (USER, "example.com/ping", {"n": "1"})
    assert notice.type == ops.pebble.NoticeType.CUSTOM
    everyone = await api.ok("GET", "/v1/notices?users=all&types=custom")
    assert len(everyone) == 3
    only = await api.ok("GET", f"/v1/notices?user-id={OTHER}&types=custom")
    assert [n["id"] for n in only] == [public.id, theirs["id"]]
    assert await api.error("GET", "/v1/notices?users=all", uid=USER) == (
        403,
        'only admins may use the "users" filter',
    )
    assert await api.error("GET", f"/v1/notices/{theirs['id']}", uid=USER) == (
        403,
        f'not allowed to access notice with id "{theirs["id"]}"',
    )
    assert (await api.ok("GET", f"/v1/notices/{theirs['id']}"))["user-id"] == OTHER
    assert await api.error("GET", "/v1/notices/999", uid=USER) == (
        404,
        'cannot find notice with ID "999"',
    )
    assert await api.ok("GET", "/v1/notices?types=bogus", uid=USER) == []
    assert await api.error("GET", "/v1/notices?after=yesterday", uid=USER) == (
        400,
        'invalid "after" timestamp: cannot parse "yesterday" as an RFC3339 time',
    )


async def test_bad_notices_are_refused(api: Api) -> None:
    cases = [
        ({"action": "add", "type": "custom", "key": "ping"}, 'invalid key "ping"'),
        ({"action": "add", "type": "warning", "key": "a.b/c"}, 'invalid type "warning"'),
        ({"action": "drop", "type": "custom", "key": "a.b/c"}, 'invalid action "drop"'),
        (
            {"action": "add", "type": "custom", "key": "a.b/c", "repeat-after": "often"},
            "invalid repeat-after:",
        ),
        (
            {"action": "add", "type": "custom", "key": "a.b/c", "repeat-after": "-5s"},
            "invalid repeat-after: '-5s' is negative",
        ),
        (
            {"action": "add", "type": "custom", "key": "a.b/c", "data": {"x": "y" * 5000}},
            "total size of data must be 4096 bytes or less",
        ),
    ]
    for body, message in cases:
        status, text = await api.error("POST", "/v1/notices", body, uid=USER)
        assert status == 400 and text.startswith(message), text
    assert api.runtime.state.notices(types=["custom"]) == []


async def test_a_notice_long_poll_is_woken_by_a_new_notice(api: Api) -> None:
    first = await api.ok(
        "POST", "/v1/notices", {"action": "add", "type": "custom", "key": "a.b/one"}
    )
    [seen] = await api.ok("GET", "/v1/notices?types=custom")
    assert seen["id"] == first["id"]
    after = urllib.parse.quote(seen["last-repeated"])
    poll = asyncio.create_task(
        api.ok("GET", f"/v1/notices?users=all&types=custom&after={after}&timeout=30s")
    )
    await asyncio.sleep(0)
    assert not poll.done()
    second = await api.ok(
        "POST", "/v1/notices", {"action": "add", "type": "custom", "key": "a.b/two"}, uid=USER
    )
    woken = await asyncio.wait_for(poll, TIMEOUT)
    assert [n["id"] for n in woken] == [second["id"]]
    empty = await api.ok("GET", "/v1/notices?types=custom&keys=a.b/none&timeout=10ms")
    assert empty == []


async def test_an_expired_notice_is_gone(tmp_path: Path) -> None:
    moment = [datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)]
    runtime = _runtime.Runtime(tmp_path, dict(os.environ), output=None, clock=lambda: moment[0])
    await runtime.start(hold=True)
    try:
        api = Api(runtime)
        add = {"action": "add", "type": "custom", "key": "example.com/old"}
        notice_id = (await api.ok("POST", "/v1/notices", add, uid=USER))["id"]
        assert (await api.ok("GET", f"/v1/notices/{notice_id}", uid=USER))["id"] == notice_id
        moment[0] += datetime.timedelta(days=7, seconds=1)
        assert await api.error("GET", f"/v1/notices/{notice_id}", uid=USER) == (
            404,
            f'cannot find notice with ID "{notice_id}"',
        )
        add["key"] = "example.com/new"
        await api.ok("POST", "/v1/notices", add, uid=USER)  # a prune is due, and a write
        saved = (tmp_path / _state.NOTICES_FILE).read_text()
        assert "example.com/new" in saved and "example.com/old" not in saved
    finally:
        await runtime.stop()
