"""The service supervisor: real processes under Pebble's state machine (pebble.md §3.5).

Each service is one process in its own process group. A start waits the 1 s okay delay
before its task is `Done`; an exit then runs the service's action (restart through
back-off, or ignore; the shutdown actions are logged and treated as ignore). A stop sends
SIGTERM to the group, SIGKILL after the kill-delay. Output goes to a 100 KiB ring buffer
per service (its last lines land in a failed start's task log) and to the daemon's output.

Timers are loop callbacks that re-check the state they were armed for: a timer armed
before a transition does nothing after it (the `epoch` counts transitions).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import random
import re
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import _children, _command, _gotext, _plan, _state, _users
from ._http import PebbleError

__all__ = ["ServiceManager", "exec_error"]

logger = logging.getLogger(__name__)

OKAY_DELAY = 1.0
"""How long a started process must live for its start to count as a success."""
FAIL_DELAY = 5.0
"""How long to wait after SIGKILL before declaring a process unkillable."""
MAX_LOG_BYTES = 100 * 1024
LAST_LOG_LINES = 20
_PREFIX = re.compile(rb"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z \[[^]]+\] ")
_ENTRY = re.compile(rb"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) \[([^]]+)\] (.*)", re.DOTALL)
_ACTIVE = frozenset({"starting", "running"})
_STATUS = {
    "starting": "active",
    "running": "active",
    "terminating": "inactive",
    "killing": "inactive",
    "stopped": "inactive",
    "backoff": "backoff",
}

Output = Callable[[bytes], None]
StatusListener = Callable[[str, str], None]
"""Called with (service name, new API status: active, backoff, error, inactive)."""


class _TaskError(Exception):
    """A start or stop task fails with this text."""


class _RingBuffer:
    """The last `MAX_LOG_BYTES` of a service's output, each line stamped as Pebble does."""

    def __init__(self, name: str, output: Output | None) -> None:
        self._name = name
        self._output = output
        self._data = bytearray()
        self._line_start = True

    def write(self, chunk: bytes) -> None:
        formatted = bytearray()
        for line in chunk.splitlines(keepends=True):
            if self._line_start:
                now = datetime.datetime.now(datetime.UTC)
                stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
                formatted += f"{stamp} [{self._name}] ".encode()
            formatted += line
            self._line_start = line.endswith(b"\n")
        self._data += formatted
        if len(self._data) > MAX_LOG_BYTES:
            del self._data[: len(self._data) - MAX_LOG_BYTES]
            cut = self._data.find(b"\n")
            del self._data[: cut + 1]
        if self._output is not None:
            self._output(bytes(formatted))

    def entries(self) -> list[tuple[str, str, str]]:
        """Every whole line kept, as (time, service, message with its newline)."""
        found = []
        for line in bytes(self._data).splitlines(keepends=True):
            match = _ENTRY.match(line)
            if match is not None:
                stamp, name, message = (part.decode(errors="replace") for part in match.groups())
                found.append((stamp, name, message))
        return found

    def last_lines(self, count: int) -> str:
        """Up to `count` lines without their stamps, indented, `(...)` first if cut."""
        lines = bytes(self._data).strip().split(b"\n")[-(count + 1) :]
        if not lines or lines == [b""]:
            return ""
        if len(lines) > count:
            lines[0] = b"(...)"
        text = [_PREFIX.sub(b"", line).decode(errors="replace") for line in lines]
        return "\n".join("    " + line for line in text)


class _Service:
    """One service's supervision record (kept once started, as Pebble keeps it)."""

    def __init__(
        self, config: _plan.Service, output: Output | None, notify: StatusListener
    ) -> None:
        self.name = config.name
        self._notify = notify
        self.config = config
        self.state = "initial"
        self.epoch = 0
        self.logs = _RingBuffer(config.name, output)
        self.process: asyncio.subprocess.Process | None = None
        self.started: asyncio.Future[str | None] | None = None
        self.stopped: asyncio.Future[str | None] | None = None
        self.backoff_num = 0
        self.backoff_time = 0.0
        self.restarting = False
        self.current_since = datetime.datetime.now(datetime.UTC)

    @property
    def status(self) -> str:
        return _STATUS.get(self.state, "error")

    @property
    def kill_delay(self) -> float:
        return self.config.effective_kill_delay

    def transition(self, state: str, restarting: bool = False) -> None:
        old = self.status
        logger.debug('Service "%s" transitioning to state "%s"', self.name, state)
        self.state = state
        self.restarting = restarting
        self.epoch += 1
        if self.status != old:
            self.current_since = datetime.datetime.now(datetime.UTC)
            self._notify(self.name, self.status)

    def signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        except OSError as exc:
            logger.warning("Cannot send %s to process: %s", signal.Signals(signum).name, exc)

    def resolve_started(self, message: str | None) -> None:
        if self.started is not None and not self.started.done():
            self.started.set_result(message)

    def resolve_stopped(self, message: str | None) -> None:
        if self.stopped is not None and not self.stopped.done():
            self.stopped.set_result(message)


class ServiceManager:
    """Starts, stops and watches the plan's services; service actions are changes."""

    def __init__(
        self,
        state: _state.State,
        environment: Mapping[str, str],
        output: Output | None = None,
    ) -> None:
        self._state = state
        self._environment = dict(environment)
        self._output = output
        self._plan = _plan.Plan()
        self._services: dict[str, _Service] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._random = random.Random()
        self._listeners: list[StatusListener] = []

    def add_listener(self, listener: StatusListener) -> None:
        """Call `listener(name, status)` whenever a service's API status changes."""
        self._listeners.append(listener)

    def _status_changed(self, name: str, status: str) -> None:
        for listener in self._listeners:
            listener(name, status)

    def plan_changed(self, plan: _plan.Plan) -> None:
        """The plan listener: later starts and replans use this plan."""
        self._plan = plan

    # Queries.

    def services(self, names: Sequence[str] = ()) -> list[dict[str, Any]]:
        """`GET /v1/services` entries for the plan's services (all, or those named)."""
        infos = []
        for name in sorted(self._plan.services):
            if names and name not in names:
                continue
            config = self._plan.services[name]
            info: dict[str, Any] = {
                "name": name,
                "startup": "enabled" if config.enabled else "disabled",
                "current": "inactive",
            }
            service = self._services.get(name)
            if service is not None:
                info["current"] = service.status
                info["current-since"] = _state.format_time(service.current_since)
            infos.append(info)
        return infos

    def default_services(self) -> list[str]:
        """The `startup: enabled` services, in start order."""
        enabled = [name for name, config in self._plan.services.items() if config.enabled]
        if not enabled:
            return []
        return [name for lane in _plan.start_lanes(self._plan, enabled) for name in lane]

    def log_entries(self, names: Sequence[str], count: int) -> list[dict[str, str]]:
        """`GET /v1/logs`: the last `count` lines (all if negative) of the named services
        (all if none named), oldest first, as Pebble's log entries."""
        entries = sorted(
            entry
            for name, service in self._services.items()
            if not names or name in names
            for entry in service.logs.entries()
        )
        kept = entries if count < 0 else entries[len(entries) - count :] if count else []
        return [{"time": t, "service": name, "message": m} for t, name, m in kept]

    def logs(self, name: str) -> str:
        """The service's recent output, for diagnostics."""
        service = self._services.get(name)
        return service.logs.last_lines(LAST_LOG_LINES) if service else ""

    def pid(self, name: str) -> int | None:
        """The main process id of a service that is running (tests and diagnostics)."""
        service = self._services.get(name)
        if service is None or service.state not in _ACTIVE or service.process is None:
            return None
        return service.process.pid

    # Actions (pebble.md §3.5 `POST /v1/services`).

    def act(self, action: str, names: Sequence[str]) -> _state.Change:
        """Validate an action as Pebble's API does and start its change; `PebbleError`."""
        names = list(names)
        if action in ("replan", "autostart"):
            if names:
                raise PebbleError(400, f"{action} accepts no service names")
            if action == "autostart":
                names = self.default_services()
                if not names:
                    raise PebbleError(400, "no default services", kind="no-default-services")
        elif action not in ("start", "stop", "restart"):
            raise PebbleError(400, f'invalid action "{action}"')
        elif not names:
            raise PebbleError(400, f"must specify services for {action} action")
        for name in names:
            if name not in self._plan.services:
                raise PebbleError(400, f'cannot {action} services: service "{name}" does not exist')
        try:
            stop, start, names = self._lanes(action, names)
        except _plan.PlanError as exc:
            raise PebbleError(400, f"cannot {action} services: {exc}") from exc
        return self._service_change(action, names, stop, start)

    def _lanes(
        self, action: str, names: list[str]
    ) -> tuple[list[list[str]], list[list[str]], list[str]]:
        if action == "replan":
            return self._replan_lanes()
        if action == "stop":
            return _plan.stop_lanes(self._plan, names), [], names
        start = _plan.start_lanes(self._plan, names)
        if action != "restart":
            return [], start, names
        wanted = set(names)
        stop = [
            kept
            for lane in _plan.stop_lanes(self._plan, names)
            if (kept := [name for name in lane if name in wanted])
        ]
        return stop, start, names

    def _replan_lanes(self) -> tuple[list[list[str]], list[list[str]], list[str]]:
        """Restart what changed since it was started, and start what is enabled."""
        restart = []
        for name, service in self._services.items():
            config = self._plan.services.get(name)
            if config is None or config == service.config:
                continue
            service.config = config
            restart.append(name)
        start = [
            name
            for name, config in self._plan.services.items()
            if name in restart or config.enabled
        ]
        stop_lanes = _plan.stop_lanes(self._plan, restart) if restart else []
        start_lanes = _plan.start_lanes(self._plan, start) if start else []
        touched = {name for lane in stop_lanes + start_lanes for name in lane}
        return stop_lanes, start_lanes, sorted(touched)

    def _service_change(
        self, action: str, names: list[str], stop: list[list[str]], start: list[list[str]]
    ) -> _state.Change:
        title = action.title()
        if not stop and not start:
            change = self._state.new_change(action, f"{title} - no services")
            change.set_status("Done")
            return change
        counted = [name for lane in start or stop for name in lane]
        if action == "replan":
            counted = names
        summary = f'{title} service "{names[0]}"'
        if len(counted) > 1:
            summary += f" and {len(counted) - 1} more"
        change = self._state.new_change(action, summary)
        change.service_names = tuple(names)
        self._add_tasks(change, stop, start)
        return change

    def _add_tasks(
        self, change: _state.Change, stop: list[list[str]], start: list[list[str]]
    ) -> None:
        targets: dict[str, str] = {}
        lane = 0
        stop_tasks = []
        for names in stop:
            lane += 1
            for name in names:
                task = change.add_task("stop", f'Stop service "{name}"', lane)
                targets[task.id] = name
                stop_tasks.append(task)
        for names in start:
            lane += 1
            for name in names:
                task = change.add_task("start", f'Start service "{name}"', lane, stop_tasks)
                targets[task.id] = name

        async def handle(task: _state.Task) -> None:
            if task.kind == "start":
                await self._do_start(task, targets[task.id])
            else:
                await self._do_stop(task, targets[task.id])

        self._state.run(change, handle)

    def autostart_at_boot(self) -> _state.Change | None:
        """What `pebble run` without `--hold` does: autostart, logging a refusal."""
        try:
            return self.act("autostart", [])
        except PebbleError as exc:
            logger.info("Cannot start default services: %s", exc.message)
            return None

    async def stop_all(self) -> None:
        """Stop every running service (daemon shutdown), then kill any left over."""
        running = [
            name
            for name, service in self._services.items()
            if service.state in ("starting", "running", "backoff")
        ]
        if running:
            lanes = [
                kept
                for lane in _plan.stop_lanes(self._plan, running)
                if (kept := [name for name in lane if name in running])
            ]
            logger.info("Stopping all running services.")
            change = self._state.new_change("stop", "Stop all running services")
            self._add_tasks(change, lanes, [])
            delay = max([s.kill_delay for s in self._services.values()] + [5.0])
            try:
                await change.wait(delay + FAIL_DELAY + 0.1)
            except TimeoutError:
                logger.warning("Timeout stopping running services.")
        await self.close()

    async def close(self) -> None:
        """Cancel timers and watchers; SIGKILL any process group still alive."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for service in self._services.values():
            service.epoch += 1
            if service.process is not None and service.process.returncode is None:
                service.signal_group(signal.SIGKILL)
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    # Signals and checks.

    def send_signal(self, names: Sequence[str], signame: str) -> None:
        """Signal each named service's main process; 500 naming every one that failed."""
        errors = []
        for name in names:
            service = self._services.get(name)
            if service is None or service.state not in _ACTIVE or service.process is None:
                errors.append(f'cannot send signal to "{name}": service is not running')
                continue
            try:
                signum = signal.Signals[signame]
            except KeyError:
                errors.append(f'cannot send signal to "{name}": invalid signal name "{signame}"')
                continue
            logger.info('Sending %s to service "%s"', signame, name)
            try:
                os.kill(service.process.pid, signum)
            except OSError as exc:
                errors.append(f'cannot send signal to "{name}": {exc.strerror}')
        if errors:
            raise PebbleError(500, "; ".join(errors))

    def check_failed(self, check: str) -> None:
        """A check hit its threshold: run each service's `on-check-failure` action."""
        for service in self._services.values():
            action = service.config.on_check_failure.get(check)
            if action is None:
                continue
            if service.state not in ("running", "backoff", "exited"):
                continue
            if action in ("shutdown", "success-shutdown", "failure-shutdown"):
                logger.warning(
                    'Service "%s" on-check-failure action is "%s": not supported, ignoring',
                    service.name,
                    action,
                )
            elif action == "restart":
                self._restart_for_check(service)

    def _restart_for_check(self, service: _Service) -> None:
        if service.state == "running":
            logger.info(
                'Service "%s" on-check-failure action is "restart", terminating process '
                "before restarting",
                service.name,
            )
            service.signal_group(signal.SIGTERM)
            service.transition("terminating", restarting=True)
            self._arm(service, service.kill_delay, self._terminate_elapsed)
        elif service.state == "exited":
            self._backoff(service, "restart", "on-check-failure")

    # Task handlers.

    async def _do_start(self, task: _state.Task, name: str) -> None:
        config = self._plan.services.get(name)
        if config is None:
            raise _TaskError(f'cannot find service "{name}" in plan')
        service = self._services.get(name)
        if service is None:
            service = _Service(config, self._output, self._status_changed)
            self._services[name] = service
        else:
            service.config = config
            if service.state in ("initial", "starting", "running"):
                task.log(f'Service "{name}" already started.')
                return
            if service.state in ("backoff", "stopped", "exited"):
                service.backoff_num = 0
                service.backoff_time = 0.0
                service.transition("initial")
        if service.state != "initial":
            raise _TaskError(f"cannot start service while {service.state}")
        started = asyncio.get_running_loop().create_future()
        service.started = started
        try:
            await self._spawn(service)
        except _TaskError:
            service.transition("stopped")
            raise
        service.transition("starting")
        self._arm(service, OKAY_DELAY, self._okay_elapsed)
        try:
            result = await started
        except asyncio.CancelledError:
            if service.state in _ACTIVE:
                service.transition("stopped")
                service.signal_group(signal.SIGKILL)
            raise
        if result is not None:
            output = service.logs.last_lines(LAST_LOG_LINES)
            if output:
                task.log(f"Most recent service output:\n{output}")
            raise _TaskError(f"service start attempt: {result}")

    async def _do_stop(self, task: _state.Task, name: str) -> None:
        service = self._services.get(name)
        message = ""
        if service is None:
            message = f'Service "{name}" has never been started.'
        elif service.state in ("terminating", "killing"):
            message = f'Service "{name}" already stopping.'
        elif service.state == "stopped":
            message = f'Service "{name}" already stopped.'
        elif service.state == "exited":
            service.transition("stopped")
            message = f'Service "{name}" had already exited.'
        if service is None or message:
            task.log(message)
            return
        stopped = asyncio.get_running_loop().create_future()
        service.stopped = stopped
        if service.state == "starting":
            service.resolve_started(f"stopped before the {OKAY_DELAY:g}s okay delay")
        if service.state in _ACTIVE:
            service.signal_group(signal.SIGTERM)
            service.transition("terminating")
            self._arm(service, service.kill_delay, self._terminate_elapsed)
        elif service.state == "backoff":
            logger.info('Service "%s" stopped while waiting for backoff', name)
            service.transition("stopped")
            stopped.set_result(None)
        else:
            raise _TaskError(f"cannot stop service while {service.state}")
        error = await stopped
        if error is not None:
            raise _TaskError(f"cannot stop service: {error}")

    # The process.

    async def _spawn(self, service: _Service, epoch: int | None = None) -> bool:
        """Start the process (no await after it exists, so no exit is missed). With
        `epoch`, a service that moved on meanwhile gets no process (False)."""
        config = service.config
        try:
            base, extra = _command.parse_command(config.command)
        except ValueError as exc:
            message = f"cannot parse service {_gotext.go_quote(config.name)} command: {exc}"
            raise _TaskError(message) from None
        argv = base + extra
        try:
            options = self._spawn_options(config)
        except ValueError as exc:
            raise _TaskError(f"cannot start service: {exc}") from None
        logger.info('Service "%s" starting: %s', config.name, config.command)
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
            raise _TaskError(f"cannot start service: {exec_error(argv[0], exc, options)}") from None
        if epoch is not None and epoch != service.epoch:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            self._spawn_worker(_reap(process))
            return False
        service.process = process
        self._watch(service, process)
        self._arm_reset(service, process)
        return True

    def _spawn_options(self, config: _plan.Service) -> dict[str, Any]:
        env = dict(self._environment)
        env.update(config.environment)
        options: dict[str, Any] = {"env": env}
        if config.working_dir:
            options["cwd"] = config.working_dir
        account = _users.Account(
            user_id=config.user_id, user=config.user, group_id=config.group_id, group=config.group
        )
        uid, gid = _users.normalize_uid_gid(account)
        if uid is None or gid is None:
            return options
        found = _users.home_and_name(uid)
        if found is not None:
            # The user's own unless the service sets them (the daemon's are not theirs).
            env["HOME"] = config.environment.get("HOME") or found[0]
            env["USER"] = config.environment.get("USER") or found[1]
        if (uid, gid) != (os.getuid(), os.getgid()):
            if os.geteuid() != 0:
                raise ValueError(
                    f"cannot run as uid {uid} gid {gid}: the agent is not running as root"
                )
            options.update(user=uid, group=gid, extra_groups=[])
        return options

    def _watch(self, service: _Service, process: asyncio.subprocess.Process) -> None:
        async def watch() -> None:
            reader = asyncio.get_running_loop().create_task(self._read(service, process))
            code = await process.wait()
            wait_delay = max(service.kill_delay * 0.9, 0.1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), wait_delay)
            reader.cancel()
            if code < 0:
                code = 128 - code
            self._exited(service, process, code)

        self._spawn_worker(watch())

    async def _read(self, service: _Service, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            service.logs.write(chunk)

    def _spawn_worker(self, coro: Any) -> None:
        worker = asyncio.get_running_loop().create_task(coro)
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    # State transitions (Pebble's handlers.go).

    def _exited(self, service: _Service, process: Any, code: int) -> None:
        if process is not service.process:
            return
        state = service.state
        if state in _ACTIVE:
            action, on_type = _exit_action(service.config, code)
            if state == "starting":
                service.resolve_started(f"exited quickly with code {code}, will {action}")
            logger.info('Service "%s" stopped unexpectedly with code %d', service.name, code)
            if action == "restart":
                self._backoff(service, action, on_type)
                return
            if action != "ignore":
                logger.warning(
                    'Service "%s" %s action is "%s": not supported, ignoring',
                    service.name,
                    on_type,
                    action,
                )
            service.transition("stopped" if code == 0 else "exited")
        elif state in ("terminating", "killing"):
            if service.restarting:
                logger.info('Service "%s" exited after check failure, restarting', service.name)
                self._backoff(service, "restart", "on-check-failure")
            else:
                logger.info('Service "%s" stopped', service.name)
                service.transition("stopped")
                service.resolve_stopped(None)

    def _backoff(self, service: _Service, action: str, on_type: str) -> None:
        config = service.config
        service.backoff_num += 1
        if service.backoff_time == 0:
            service.backoff_time = config.effective_backoff_delay
        else:
            service.backoff_time = min(
                service.backoff_time * config.effective_backoff_factor,
                config.effective_backoff_limit,
            )
        logger.info(
            'Service "%s" %s action is "%s", waiting ~%.3gs before restart (backoff %d)',
            service.name,
            on_type,
            action,
            service.backoff_time,
            service.backoff_num,
        )
        service.transition("backoff")
        delay = service.backoff_time + self._random.uniform(0, service.backoff_time * 0.1)
        self._arm(service, delay, self._backoff_elapsed)

    def _backoff_elapsed(self, service: _Service) -> None:
        async def restart() -> None:
            try:
                if await self._spawn(service, service.epoch):
                    service.transition("running")
            except _TaskError as exc:
                logger.warning('Cannot restart service "%s": %s', service.name, exc)

        self._spawn_worker(restart())

    def _okay_elapsed(self, service: _Service) -> None:
        if service.state == "starting":
            service.transition("running")
            service.resolve_started(None)

    def _terminate_elapsed(self, service: _Service) -> None:
        if service.state == "terminating":
            service.signal_group(signal.SIGKILL)
            service.transition("killing", service.restarting)
            self._arm(service, FAIL_DELAY, self._kill_elapsed)

    def _kill_elapsed(self, service: _Service) -> None:
        if service.state == "killing":
            logger.warning('Service "%s" still running after SIGTERM and SIGKILL', service.name)
            if not service.restarting:
                service.resolve_stopped("process still running after SIGTERM and SIGKILL")
            service.transition("stopped")

    def _arm(self, service: _Service, delay: float, then: Callable[[_Service], None]) -> None:
        """Call `then(service)` after `delay` unless the service has moved on since."""
        epoch = service.epoch

        def fire() -> None:
            self._timers.discard(handle)
            if service.epoch == epoch:
                then(service)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def _arm_reset(self, service: _Service, process: Any) -> None:
        """Forget the back-off once the process has run for the back-off limit."""

        def fire() -> None:
            self._timers.discard(handle)
            if service.process is process and service.state == "running":
                service.backoff_num = 0
                service.backoff_time = 0.0

        delay = service.config.effective_backoff_limit
        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)


async def _reap(process: asyncio.subprocess.Process) -> None:
    await process.wait()


def _exit_action(config: _plan.Service, code: int) -> tuple[str, str]:
    return config.exit_action(code), "on-success" if code == 0 else "on-failure"


def exec_error(program: str, exc: OSError, options: Mapping[str, Any]) -> str:
    """Go's wording for a failed exec, which charms may match on."""
    reason = (exc.strerror or str(exc)).lower()
    cwd = options.get("cwd")
    if cwd and exc.filename == cwd:
        return f"chdir {cwd}: {reason}"
    if isinstance(exc, FileNotFoundError) and "/" not in program:
        return f'exec: "{program}": executable file not found in $PATH'
    return f"fork/exec {program}: {reason}"
