"""Health checks as Pebble runs them: `perform-check` and `recover-check` changes (§3.10).

A perform-check change runs its check every period; at the failure threshold its task
fails (the change goes to `Error`, services' `on-check-failure` actions fire) and a
recover-check change takes over until the first success, after which a new perform-check
change starts. Every status move of those changes is a `change-update` notice carrying
the check's name: that is how the unit agent fires `<c>-pebble-check-failed/recovered`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _children, _command, _durations, _plan, _services, _state, _users
from ._http import PebbleError

__all__ = ["CheckManager"]

logger = logging.getLogger(__name__)

PERFORM = "perform-check"
RECOVER = "recover-check"
_MAX_ERROR_BYTES = 512
_MAX_ERROR_LINES = 5

FailureHandler = Callable[[str], None]


class _CheckError(Exception):
    """A check's failure; the text is what the task log shows."""


@dataclasses.dataclass
class _Details:
    """A check change's running counts (Pebble keeps these in the task)."""

    name: str
    successes: int = 0
    failures: int = 0
    proceed: bool = False


@dataclasses.dataclass
class _CheckData:
    """What `GET /v1/checks` shows for one check."""

    name: str
    level: str
    startup: str
    status: str
    successes: int
    failures: int
    threshold: int
    change_id: str
    prev_change_id: str

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name}
        if self.level:
            body["level"] = self.level
        body.update(startup=self.startup, status=self.status, successes=self.successes)
        if self.failures:
            body["failures"] = self.failures
        body["threshold"] = self.threshold
        if self.change_id:
            body["change-id"] = self.change_id
        if self.prev_change_id:
            body["prev-change-id"] = self.prev_change_id
        return body


class CheckManager:
    """Runs the plan's checks as changes; answers check info and health."""

    def __init__(self, state: _state.State, environment: Mapping[str, str]) -> None:
        self._state = state
        self._environment = dict(environment)
        self._plan = _plan.Plan()
        self._checks: dict[str, _CheckData] = {}
        self._configs: dict[str, _plan.Check] = {}
        """The (service-context merged) check config each check change runs, by change id."""
        self._details: dict[str, _Details] = {}
        self._failure_handlers: list[FailureHandler] = []
        self._listeners: list[Callable[[str], None]] = []
        state.add_status_listener(self._change_status_changed)

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """Call `listener(check_name)` whenever a check's info changes (a run, a start)."""
        self._listeners.append(listener)

    def add_failure_handler(self, handler: FailureHandler) -> None:
        """Call `handler(check_name)` when a check reaches its failure threshold."""
        self._failure_handlers.append(handler)

    # Plan changes.

    def plan_changed(self, plan: _plan.Plan) -> None:
        """Abort changed checks' changes and start new or changed enabled checks."""
        self._plan = plan
        restart: set[str] = set()
        running: set[str] = set()
        for change in self._state.changes():
            if change.kind not in (PERFORM, RECOVER) or change.ready:
                continue
            old = self._configs.get(change.id)
            if old is None:
                change.abort()
                continue
            running.add(old.name)
            new = plan.checks.get(old.name)
            if new is not None:
                if self._merged(new) == old:
                    continue
                if new.startup == "disabled" and old.enabled:
                    continue
                restart.add(old.name)
            change.abort()
            self._checks.pop(old.name, None)
        for config in plan.checks.values():
            if config.name in running:
                continue
            if config.enabled:
                restart.add(config.name)
            else:
                self._update(config, "", "", 0, 0)
        for name in sorted(restart):
            config = plan.checks[name]
            self._update(config, self._perform(self._merged(config)), "", 0, 0)
        for name in self._checks.keys() - plan.checks.keys():
            del self._checks[name]

    def replan(self) -> None:
        """Start the enabled checks that are not running (a service replan does this)."""
        for config in self._plan.checks.values():
            data = self._checks.get(config.name)
            if data is None or not config.enabled or data.change_id:
                continue
            self._update(config, self._perform(self._merged(config)), "", 0, 0)

    # The API.

    def checks(self, level: str = "", names: Sequence[str] = ()) -> list[dict[str, Any]]:
        """`GET /v1/checks` entries, by name."""
        return [
            data.to_json()
            for name, data in sorted(self._checks.items())
            if (not level or data.level == level) and (not names or name in names)
        ]

    def healthy(self, level: str = "", names: Sequence[str] = ()) -> bool:
        """No matching check is down (a `ready` query counts `alive` checks too)."""
        for name, data in self._checks.items():
            level_match = (
                not level or data.level == level or (level == "ready" and data.level == "alive")
            )
            if level_match and (not names or name in names) and data.status == "down":
                return False
        return True

    def start_checks(self, names: Sequence[str]) -> list[str]:
        """Start the named checks that are not running; the names started, sorted."""
        self._require(names, "start")
        started = []
        for name in names:
            data = self._checks.get(name)
            if data is None or data.change_id:
                continue
            config = self._plan.checks[name]
            self._update(config, self._perform(self._merged(config)), "", 0, 0)
            started.append(name)
        return sorted(set(started))

    def stop_checks(self, names: Sequence[str]) -> list[str]:
        """Stop the named checks that are running (their counts stay); the names stopped."""
        self._require(names, "stop")
        stopped = []
        for name in names:
            data = self._checks.get(name)
            if data is None or not data.change_id:
                continue
            change = self._state.change(data.change_id)
            if change is not None:
                change.abort()
                stopped.append(name)
            config = self._plan.checks[name]
            self._update(config, "", data.prev_change_id, data.successes, data.failures)
        return sorted(set(stopped))

    def _require(self, names: Sequence[str], action: str) -> None:
        missing = sorted({name for name in names if name not in self._plan.checks})
        if missing:
            raise PebbleError(
                400, f"cannot {action} checks: cannot find checks in plan: {', '.join(missing)}"
            )

    # Changes.

    def _perform(self, config: _plan.Check) -> str:
        return self._check_change(PERFORM, "Perform", config, _Details(config.name))

    def _check_change(self, kind: str, verb: str, config: _plan.Check, details: _Details) -> str:
        summary = f'{verb} {config.kind} check "{config.name}"'
        change = self._state.new_change(kind, summary, notice_data={"check-name": config.name})
        change.add_task(kind, summary)
        self._configs[change.id] = config
        self._details[change.id] = details
        handler = self._do_perform if kind == PERFORM else self._do_recover
        self._state.run(change, handler)
        return change.id

    def _change_status_changed(self, change: _state.Change, old: str, new: str) -> None:
        """Hand over between perform-check and recover-check changes, as they finish. A
        finished change's config and counts are forgotten (its handler no longer runs)."""
        if new in _state.READY:
            details = self._details.pop(change.id, None)
            config = self._configs.pop(change.id, None)
        else:
            details = self._details.get(change.id)
            config = self._configs.get(change.id)
        if details is None or config is None or not details.proceed:
            return
        if change.kind == PERFORM and new == "Error":
            follow = _Details(config.name, details.successes, details.failures)
            change_id = self._check_change(RECOVER, "Recover", config, follow)
        elif change.kind == RECOVER and new == "Done":
            change_id = self._perform(config)
        else:
            return
        self._update(config, change_id, change.id, details.successes, details.failures)

    def _update(
        self,
        config: _plan.Check,
        change_id: str,
        prev_change_id: str,
        successes: int,
        failures: int,
    ) -> None:
        status = "inactive" if not change_id else "up"
        if change_id and failures >= config.effective_threshold:
            status = "down"
        self._checks[config.name] = _CheckData(
            name=config.name,
            level=config.level,
            startup=config.startup or "enabled",
            status=status,
            successes=successes,
            failures=failures,
            threshold=config.effective_threshold,
            change_id=change_id,
            prev_change_id=prev_change_id,
        )
        for listener in self._listeners:
            listener(config.name)

    def _prev_change_id(self, name: str) -> str:
        data = self._checks.get(name)
        return data.prev_change_id if data else ""

    # Task handlers.

    async def _do_perform(self, task: _state.Task) -> None:
        change_id = task.change.id
        config = self._configs[change_id]
        details = self._details[change_id]
        prev = self._prev_change_id(config.name)
        async for error in self._ticks(config):
            if error is None:
                details.successes += 1
                if details.failures:
                    count = details.failures
                    details.failures = 0
                    task.log(f"succeeded after {count} failure{'s' if count != 1 else ''}")
                self._update(config, change_id, prev, details.successes, 0)
                continue
            details.failures += 1
            logger.info(
                'Check "%s" failure %d/%d: %s',
                config.name,
                details.failures,
                config.effective_threshold,
                error,
            )
            if details.failures >= config.effective_threshold:
                details.proceed = True
                for handler in self._failure_handlers:
                    handler(config.name)
                raise _CheckError(error)
            task.log(error, "ERROR")
            self._update(config, change_id, prev, details.successes, details.failures)

    async def _do_recover(self, task: _state.Task) -> None:
        change_id = task.change.id
        config = self._configs[change_id]
        details = self._details[change_id]
        prev = self._prev_change_id(config.name)
        async for error in self._ticks(config):
            if error is None:
                details.successes = 1
                details.failures = 0
                details.proceed = True
                return
            details.failures += 1
            self._update(config, change_id, prev, details.successes, details.failures)
            task.log(error, "ERROR")

    async def _ticks(self, config: _plan.Check) -> Any:
        """Run the check once a period, yielding None or the failure's text."""
        loop = asyncio.get_running_loop()
        period = config.effective_period
        due = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due + period, loop.time())
            yield await self._run_check(config)

    async def _run_check(self, config: _plan.Check) -> str | None:
        timeout = config.effective_timeout
        try:
            async with asyncio.timeout(timeout):
                if config.http is not None:
                    await _http_check(config.http, timeout)
                elif config.tcp is not None:
                    await _tcp_check(config.tcp)
                elif config.exec is not None:
                    await _exec_check(config.exec, self._environment)
        except TimeoutError:
            return f"check timed out after {_durations.format_duration(timeout)}"
        except _CheckError as exc:
            return str(exc)
        return None

    def _merged(self, config: _plan.Check) -> _plan.Check:
        """An exec check with `service-context` takes that service's environment, user,
        group and working directory, its own settings winning."""
        if config.exec is None or not config.exec.service_context:
            return config
        service = self._plan.services.get(config.exec.service_context)
        if service is None:
            return config
        own = config.exec
        merged = dataclasses.replace(
            own,
            environment={**service.environment, **own.environment},
            user_id=own.user_id if own.user_id is not None else service.user_id,
            user=own.user or service.user,
            group_id=own.group_id if own.group_id is not None else service.group_id,
            group=own.group or service.group,
            working_dir=own.working_dir or service.working_dir,
        )
        return dataclasses.replace(config, exec=merged)


def _with_details(message: str, lines: list[str]) -> str:
    """Pebble's error text with details: `message; <lines>`."""
    return message if lines == [""] else message + "; " + "\n".join(lines)


async def _http_check(check: _plan.HttpCheck, timeout: float) -> None:
    """GET the URL (in a thread: urllib), any 2xx passes; proxies are not used."""

    def get() -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(check.url, headers=dict(check.headers))
        try:
            with opener.open(request, timeout=timeout):
                pass
        except urllib.error.HTTPError as exc:
            lines = exc.read(_MAX_ERROR_BYTES).decode(errors="replace").strip().split("\n")
            if len(lines) > _MAX_ERROR_LINES:
                lines = [*lines[:_MAX_ERROR_LINES], "(...)"]
            raise _CheckError(_with_details(f"non-2xx status code {exc.code}", lines)) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, OSError):
                reason = _reason(reason)
            raise _CheckError(f'Get "{check.url}": {reason}') from exc

    await asyncio.to_thread(get)


def _reason(exc: OSError) -> str:
    """An OS error as Go words it (`connection refused`)."""
    return (os.strerror(exc.errno) if exc.errno else str(exc)).lower()


async def _tcp_check(check: _plan.TcpCheck) -> None:
    host, port = check.effective_host, check.port
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        raise _CheckError(f"dial tcp {host}:{port}: connect: {_reason(exc)}") from exc
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _exec_check(check: _plan.ExecCheck, environment: Mapping[str, str]) -> None:
    """Run the command (its own process group, killed on timeout); exit 0 passes."""
    try:
        argv = _command.split_command(check.command)
    except ValueError as exc:
        raise _CheckError(f"cannot parse command: {exc}") from None
    env = {**environment, **check.environment}
    options: dict[str, Any] = {"env": env}
    if check.working_dir:
        options["cwd"] = check.working_dir
    account = _users.Account(
        user_id=check.user_id, user=check.user, group_id=check.group_id, group=check.group
    )
    try:
        uid, gid = _users.normalize_uid_gid(account)
    except ValueError as exc:
        raise _CheckError(str(exc)) from None
    if uid is not None and gid is not None and (uid, gid) != (os.getuid(), os.getgid()):
        options.update(user=uid, group=gid, extra_groups=[])
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_children.die_with_parent(),
            **options,
        )
    except OSError as exc:
        raise _CheckError(_services.exec_error(argv[0], exc, options)) from exc
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    code = process.returncode or 0
    if code:
        code = code if code > 0 else 128 - code
        tail = output[-_MAX_ERROR_BYTES:].decode(errors="replace").strip().split("\n")
        lines = tail[-(_MAX_ERROR_LINES + 1) :]
        if len(lines) > _MAX_ERROR_LINES:
            lines[0] = "(...)"
        raise _CheckError(_with_details(f"exit status {code}", lines))
