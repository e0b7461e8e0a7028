"""The runtime's API: changes, services, layers, plan, logs, checks, health and notices.

Texts and status codes are Pebble's (pebble.md §3.2-§3.11): ops and Juju's agent match on
some of them. Access follows Pebble's table: reads by any local user, writes by admins,
health for everyone, and notices (read and add) by any user with a uid.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from typing import Any

from . import _durations, _plan, _planstate, _runtime, _state
from ._http import PebbleError, Request, Response, Router, async_response, sync_response

__all__ = ["add_routes"]

_SELECT: dict[str, Callable[[_state.Change], bool]] = {
    "all": lambda change: True,
    "in-progress": lambda change: not change.ready,
    "ready": lambda change: change.ready,
}
_LEVELS = ("", "alive", "ready")


def add_routes(router: Router, runtime: _runtime.Runtime) -> None:
    """Register the runtime's endpoints on `router`."""
    api = _RuntimeApi(runtime)
    router.add("/v1/changes", {"GET": api.get_changes}, user=("GET",))
    router.add("/v1/changes/{id}", {"GET": api.get_change, "POST": api.post_change}, user=("GET",))
    router.add("/v1/changes/{id}/wait", {"GET": api.wait_change}, user=("GET",))
    router.add("/v1/services", {"GET": api.get_services, "POST": api.post_services}, user=("GET",))
    router.add("/v1/layers", {"POST": api.post_layers})
    router.add("/v1/plan", {"GET": api.get_plan})
    router.add("/v1/logs", {"GET": api.get_logs}, user=("GET",))
    router.add("/v1/checks", {"GET": api.get_checks, "POST": api.post_checks}, user=("GET",))
    router.add("/v1/health", {"GET": api.get_health}, open=True)
    router.add(
        "/v1/notices", {"GET": api.get_notices, "POST": api.post_notices}, user=("GET", "POST")
    )
    router.add("/v1/notices/{id}", {"GET": api.get_notice}, user=("GET",))


def _payload(request: Request, wording: str = "cannot decode data from request body") -> Any:
    try:
        body = request.json_object()
    except PebbleError as exc:
        detail = exc.message.removeprefix("cannot decode request body: ")
        raise PebbleError(400, f"{wording}: {detail}") from exc
    return body


def _strings(body: dict[str, Any], key: str, wording: str) -> list[str]:
    """A list-of-strings field (null or absent is empty)."""
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PebbleError(400, f'{wording}: "{key}" must be a list of strings')
    return value


def _string(body: dict[str, Any], key: str, wording: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PebbleError(400, f'{wording}: "{key}" must be a string')
    return value


def _duration(text: str, what: str) -> float:
    if not text:
        return 0.0
    try:
        seconds = _durations.parse_duration(text)
    except ValueError as exc:
        raise PebbleError(400, f"invalid {what}: {exc}") from exc
    if seconds < 0:
        raise PebbleError(400, f"invalid {what}: {text!r} is negative")
    return seconds


def _level(request: Request) -> str:
    level = request.arg("level")
    if level not in _LEVELS:
        raise PebbleError(400, 'level must be "alive" or "ready"')
    return level


class _RuntimeApi:
    """The handlers, over one runtime."""

    def __init__(self, runtime: _runtime.Runtime) -> None:
        self._runtime = runtime
        self._state = runtime.state

    # Changes.

    def _change(self, change_id: str) -> _state.Change:
        change = self._state.change(change_id)
        if change is None:
            raise PebbleError(404, f'cannot find change with id "{change_id}"')
        return change

    async def get_changes(self, request: Request) -> Response:
        selected = _SELECT.get(request.arg("select") or "in-progress")
        if selected is None:
            raise PebbleError(400, "select should be one of: all,in-progress,ready")
        service = request.arg("for")
        return sync_response(
            [
                change.to_json()
                for change in self._state.changes()
                if selected(change) and (not service or service in change.service_names)
            ]
        )

    async def get_change(self, request: Request) -> Response:
        return sync_response(self._change(request.params["id"]).to_json())

    async def post_change(self, request: Request) -> Response:
        change = self._change(request.params["id"])
        action = _string(_payload(request), "action", "cannot decode data from request body")
        if action != "abort":
            raise PebbleError(400, f'invalid action "{action}"')
        if change.ready:
            raise PebbleError(400, f"cannot abort change {change.id} with nothing pending")
        change.abort()
        return sync_response(change.to_json())

    async def wait_change(self, request: Request) -> Response:
        change = self._change(request.params["id"])
        timeout = _duration(request.arg("timeout"), "timeout")
        try:
            await change.wait(timeout or None)
        except TimeoutError:
            raise PebbleError(
                504, f"timed out waiting for change after {_durations.format_duration(timeout)}"
            ) from None
        return sync_response(change.to_json())

    # Services, layers, plan.

    async def get_services(self, request: Request) -> Response:
        return sync_response(self._runtime.services.services(request.args("names")))

    async def post_services(self, request: Request) -> Response:
        wording = "cannot decode data from request body"
        body = _payload(request)
        action = _string(body, "action", wording)
        change = self._runtime.services.act(action, _strings(body, "services", wording))
        if action == "replan":
            self._runtime.checks.replan()
        return async_response(change.id)

    async def post_layers(self, request: Request) -> Response:
        wording = "cannot decode request body"
        body = _payload(request, wording)
        if _string(body, "action", wording) != "add":
            raise PebbleError(400, f'invalid action "{_string(body, "action", wording)}"')
        label = _string(body, "label", wording)
        if not label:
            raise PebbleError(400, "label must be set")
        form = _string(body, "format", wording)
        if form != "yaml":
            raise PebbleError(400, f'invalid format "{form}"')
        try:
            layer = _plan.parse_layer(_string(body, "layer", wording), label)
        except _plan.PlanError as exc:
            raise PebbleError(400, str(exc)) from exc
        try:
            self._runtime.plans.add_layer(layer, bool(body.get("combine")))
        except (_planstate.LabelExistsError, _plan.PlanError) as exc:
            raise PebbleError(400, str(exc)) from exc
        return sync_response(True)

    async def get_plan(self, request: Request) -> Response:
        form = request.arg("format")
        if form != "yaml":
            raise PebbleError(400, f'invalid format "{form}"')
        return sync_response(_plan.plan_yaml(self._runtime.plans.plan))

    async def get_logs(self, request: Request) -> Response:
        """Services' recent output as newline-delimited JSON (`pebble logs`); following
        the output as it comes is not served (ops has no call for it)."""
        if request.arg("follow") not in ("", "false"):
            raise PebbleError(400, "follow is not supported by this agent")
        text = request.arg("n", "30")
        try:
            count = int(text)
        except ValueError:
            raise PebbleError(400, f'n must be a valid integer, got "{text}"') from None
        entries = self._runtime.services.log_entries(request.args("services"), count)
        body = "".join(json.dumps(entry) + "\n" for entry in entries).encode()
        return Response(status=200, body=body, content_type="application/x-ndjson")

    # Checks and health.

    async def get_checks(self, request: Request) -> Response:
        level = _level(request)
        return sync_response(self._runtime.checks.checks(level, request.args("names")))

    async def post_checks(self, request: Request) -> Response:
        wording = "cannot decode data from request body"
        body = _payload(request)
        action = _string(body, "action", wording)
        names = _strings(body, "checks", wording)
        if not names:
            raise PebbleError(400, f"must specify checks for {action} action")
        if action == "start":
            changed = self._runtime.checks.start_checks(names)
        elif action == "stop":
            changed = self._runtime.checks.stop_checks(names)
        else:
            raise PebbleError(400, f'invalid action "{action}"')
        return sync_response({"changed": changed})

    async def get_health(self, request: Request) -> Response:
        level = _level(request)
        healthy = self._runtime.checks.healthy(level, request.args("names"))
        return sync_response({"healthy": healthy}, 200 if healthy else 502)

    # Notices.

    async def get_notices(self, request: Request) -> Response:
        if request.uid is None:
            raise PebbleError(403, "cannot determine UID of request, so cannot retrieve notices")
        user_id = self._notice_user(request)
        types = [name for name in request.args("types") if name in _state.NOTICE_TYPES]
        if request.args("types") and not types:
            return sync_response([])
        after: datetime.datetime | None = None
        if request.arg("after"):
            try:
                after = _state.parse_time(request.arg("after"))
            except ValueError as exc:
                raise PebbleError(400, f'invalid "after" timestamp: {exc}') from exc
        timeout = _duration(request.arg("timeout"), "timeout")
        keys = request.args("keys")
        if timeout:
            found = await self._state.wait_notices(
                timeout=timeout, user_id=user_id, types=types, keys=keys, after=after
            )
        else:
            found = self._state.notices(user_id=user_id, types=types, keys=keys, after=after)
        return sync_response([notice.to_json() for notice in found])

    def _notice_user(self, request: Request) -> int | None:
        """Whose notices: the caller's (default), one user's, or all (None); admins only
        may choose."""
        user_id: int | None = request.uid
        if request.query.get("user-id"):
            if not request.admin:
                raise PebbleError(403, 'only admins may use the "user-id" filter')
            user_id = _user_id_filter(request.args("user-id"))
        if request.query.get("users"):
            if not request.admin:
                raise PebbleError(403, 'only admins may use the "users" filter')
            if request.query.get("user-id"):
                raise PebbleError(400, 'cannot use both "users" and "user-id" parameters')
            if request.arg("users") != "all":
                raise PebbleError(400, 'invalid "users" filter: must be "all"')
            user_id = None
        return user_id

    async def post_notices(self, request: Request) -> Response:
        if request.uid is None:
            raise PebbleError(403, "cannot determine UID of request, so cannot create notice")
        wording = "cannot decode request body"
        body = _payload(request, wording)
        action = _string(body, "action", wording)
        if action != "add":
            raise PebbleError(400, f'invalid action "{action}"')
        kind = _string(body, "type", wording)
        if kind != "custom":
            raise PebbleError(400, f'invalid type "{kind}" (can only add "custom" notices)')
        key = _string(body, "key", wording)
        repeat_after = _duration(_string(body, "repeat-after", wording), "repeat-after")
        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            raise PebbleError(400, "cannot decode notice data: expected a JSON object")
        try:
            strings = _state.validate_custom_notice(key, data)
        except _state.NoticeError as exc:
            raise PebbleError(400, str(exc)) from exc
        notice = self._state.add_notice(
            user_id=request.uid,
            type="custom",
            key=key,
            data=strings,
            repeat_after=repeat_after or None,
        )
        return sync_response({"id": notice.id})

    async def get_notice(self, request: Request) -> Response:
        if request.uid is None:
            raise PebbleError(403, "cannot determine UID of request, so cannot retrieve notice")
        notice_id = request.params["id"]
        notice = self._state.notice(notice_id)
        if notice is None:
            raise PebbleError(404, f'cannot find notice with ID "{notice_id}"')
        if notice.user_id is not None and not request.admin and notice.user_id != request.uid:
            raise PebbleError(403, f'not allowed to access notice with id "{notice_id}"')
        return sync_response(notice.to_json())


def _user_id_filter(values: Sequence[str]) -> int:
    if len(values) != 1:
        raise PebbleError(400, 'invalid "user-id" filter: must only include one "user-id"')
    try:
        user_id = int(values[0])
    except ValueError:
        raise PebbleError(
            400,
            f'invalid "user-id" filter: strconv.ParseInt: parsing "{values[0]}": invalid syntax',
        ) from None
    if not 0 <= user_id <= 0xFFFFFFFF:
        raise PebbleError(
            400, f'invalid "user-id" filter: user ID is not a valid uint32: {user_id}'
        )
    return user_id
