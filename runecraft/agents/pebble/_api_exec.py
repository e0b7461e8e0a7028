"""`/v1/exec` and its websockets: run a command with streamed stdio (pebble.md §3.8).

The POST checks everything it can up front (the executable on the daemon's PATH, the
service context, the user, the working directory) and answers 202 with an `exec` change of
one task. The process starts only once the client has connected `stdio` (and `stderr` when
split), within 5 seconds, so no output is lost. Data travels as binary frames and each
stream ends with the text frame `{"command":"end"}`; `control` carries signals. When the
process has exited and its output is sent, the task records `exit-code` and is Done: a
non-zero exit is the caller's business (ops raises ExecError), only a timeout, a spawn
failure or missing websockets make the change fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runecraft.agents.pebble import (
    _children,
    _durations,
    _gotext,
    _http,
    _plan,
    _state,
    _users,
    _websocket,
)

__all__ = ["ExecError", "Executions"]

logger = logging.getLogger(__name__)

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONNECT_TIMEOUT = 5.0
WAIT_DELAY = 1.0
"""After a timeout kill, how long output may still drain (Go's `Cmd.WaitDelay`)."""
_CHUNK = 64 * 1024
_END = json.dumps({"command": "end"}, separators=(",", ":"))


@dataclass(frozen=True, kw_only=True)
class _Setup:
    """A checked exec request: what to run, where, as whom, for how long."""

    command: list[str]
    executable: str
    environment: dict[str, str]
    working_dir: str
    timeout: float | None
    uid: int | None
    gid: int | None
    split_stderr: bool


class ExecError(Exception):
    """The exec task fails with this message (its change's `err`)."""


class Executions:
    """The exec endpoint and the executions still running (the state's task runner runs
    them; `close()` kills their processes)."""

    def __init__(
        self,
        state: _state.State,
        plan: Callable[[], _plan.Plan],
        environment: Mapping[str, str],
    ) -> None:
        self._state = state
        self._plan = plan
        self._env = dict(environment)
        self._running: dict[str, _Execution] = {}

    def add_routes(self, router: _http.Router) -> None:
        router.add("/v1/exec", {"POST": self.post})
        router.add("/v1/tasks/{task_id}/websocket/{websocket_id}", {"GET": self.websocket})

    def close(self) -> None:
        """Kill what still runs (the daemon is stopping)."""
        for execution in self._running.values():
            execution.kill()

    async def post(self, request: _http.Request) -> _http.Response:
        setup = self._setup(request.json_object())
        summary = f"Execute command {_gotext.go_quote(setup.command[0])}"
        change = self._state.new_change("exec", summary)
        task = change.add_task("exec", summary)
        self._running[task.id] = _Execution(task, setup)
        self._state.run(change, self._run)
        result = {
            "task-id": task.id,
            "environment": setup.environment,
            "working-dir": setup.working_dir,
        }
        return _http.async_response(change.id, result)

    async def _run(self, task: _state.Task) -> None:
        execution = self._running[task.id]
        try:
            await execution.run()
        finally:
            self._running.pop(task.id, None)

    async def websocket(self, request: _http.Request) -> _http.Response:
        task_id, name = request.params["task_id"], request.params["websocket_id"]
        task = self._state.task(task_id)
        if task is None:
            raise _http.PebbleError(404, f"cannot find task {_gotext.go_quote(task_id)}")
        if task.kind != "exec":
            raise _http.PebbleError(
                400, f"{_gotext.go_quote(task.kind)} tasks do not have websockets"
            )
        execution = self._running.get(task_id)
        if execution is None or name not in execution.sockets:
            if execution is None and task.change.ready:
                change = task.change.to_json()
                if change.get("err"):
                    raise _http.PebbleError(500, str(change["err"]))
            raise _http.PebbleError(
                404, f"cannot find {name} websocket for task {_gotext.go_quote(task_id)}"
            )
        if not execution.reserve(name):
            raise _http.PebbleError(500, f"{name} websocket already connected")

        async def accept(ws: _websocket.WebSocket) -> None:
            await execution.serve(name, ws)

        return _websocket.upgrade(accept)

    def _setup(self, body: dict[str, Any]) -> _Setup:
        fields = _fields(body)
        command = fields["command"]
        if not command:
            raise _http.PebbleError(400, "must specify command")
        if fields["terminal"] or fields["interactive"]:
            raise _http.PebbleError(400, "cannot exec with a terminal: not supported")
        timeout = None
        if fields["timeout"]:
            try:
                timeout = _durations.parse_duration(fields["timeout"])
            except ValueError as exc:
                raise _http.PebbleError(400, f"invalid timeout: {exc}") from None
        executable = shutil.which(command[0], path=self._env.get("PATH", DEFAULT_PATH))
        if executable is None:
            raise _http.PebbleError(400, f"cannot find executable {_gotext.go_quote(command[0])}")
        merged = self._service_context(fields)
        try:
            uid, gid = _users.normalize_uid_gid(merged["account"])
        except ValueError as exc:
            raise _http.PebbleError(400, str(exc)) from None
        environment = self._environment(merged["environment"], uid)
        try:
            working_dir = _working_dir(merged["working-dir"], environment.get("HOME", ""))
        except ValueError as exc:
            raise _http.PebbleError(500, f"cannot call exec: {exc}") from None
        return _Setup(
            command=command,
            executable=executable,
            environment=environment,
            working_dir=working_dir,
            timeout=timeout if timeout else None,
            uid=uid,
            gid=gid,
            split_stderr=fields["split-stderr"],
        )

    def _service_context(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The request's environment, user and working dir over its service context's."""
        account = _users.Account(
            user_id=fields["user-id"],
            user=fields["user"],
            group_id=fields["group-id"],
            group=fields["group"],
        )
        name = fields["service-context"]
        if not name:
            return {
                "environment": fields["environment"],
                "account": account,
                "working-dir": fields["working-dir"],
            }
        service = self._plan().services.get(name)
        if service is None:
            raise _http.PebbleError(400, f"context service {_gotext.go_quote(name)} not found")
        return {
            "environment": {**service.environment, **fields["environment"]},
            "account": _users.Account(
                user_id=service.user_id if account.user_id is None else account.user_id,
                user=account.user or service.user,
                group_id=service.group_id if account.group_id is None else account.group_id,
                group=account.group or service.group,
            ),
            "working-dir": fields["working-dir"] or service.working_dir,
        }

    def _environment(self, requested: Mapping[str, str], uid: int | None) -> dict[str, str]:
        """The daemon's environment, the request's over it, then Pebble's defaults."""
        environment = dict(self._env)
        if uid is not None and uid != os.getuid():
            environment.pop("HOME", None)
            environment.pop("USER", None)
        environment.update(requested)
        environment.setdefault("PATH", DEFAULT_PATH)
        if not environment.get("HOME") or not environment.get("USER"):
            found = _users.home_and_name(uid)
            if found is not None:
                environment["HOME"] = environment.get("HOME") or found[0]
                environment["USER"] = environment.get("USER") or found[1]
        environment.setdefault("LANG", "C.UTF-8")
        return environment


_FIELDS: dict[str, tuple[type, Any]] = {
    "command": (list, []),
    "service-context": (str, ""),
    "environment": (dict, {}),
    "working-dir": (str, ""),
    "timeout": (str, ""),
    "user-id": (int, None),
    "user": (str, ""),
    "group-id": (int, None),
    "group": (str, ""),
    "split-stderr": (bool, False),
    "terminal": (bool, False),
    "interactive": (bool, False),
}


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request's fields with JSON nulls as absent; 400 for a wrong type."""
    fields: dict[str, Any] = {}
    for name, (kind, default) in _FIELDS.items():
        value = body.get(name)
        if value is None:
            value = default
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _http.PebbleError(
                400, f"cannot decode request body: {name} must be a {kind.__name__}"
            )
        fields[name] = value
    if not all(isinstance(arg, str) for arg in fields["command"]):
        raise _http.PebbleError(400, "cannot decode request body: command must be strings")
    if not all(isinstance(v, str) for v in fields["environment"].values()):
        raise _http.PebbleError(400, "cannot decode request body: environment must be strings")
    return fields


def _working_dir(requested: str, home: str) -> str:
    """The working directory (default HOME, else `/`); ValueError if it is not a dir."""
    what = "working directory"
    if not requested:
        if not home:
            return "/"
        requested, what = home, "home directory"
    try:
        info = os.stat(requested)
    except FileNotFoundError:
        raise ValueError(f"{what} {_gotext.go_quote(requested)} does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot stat {what} {_gotext.go_quote(requested)}: {exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{what} {_gotext.go_quote(requested)} not a directory")
    return requested


class _Execution:
    """One exec task: its websockets, its process, and the order things happen in."""

    def __init__(self, task: _state.Task, setup: _Setup) -> None:
        self.task = task
        self.setup = setup
        names = ("control", "stdio", "stderr") if setup.split_stderr else ("control", "stdio")
        self.sockets: dict[str, _websocket.WebSocket | None] = dict.fromkeys(names)
        self._reserved: set[str] = set()
        self._io_connected = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._started = asyncio.Event()
        """Set once the process runs, or once it never will (then `_process` is None)."""
        self._finished = asyncio.Event()

    def reserve(self, name: str) -> bool:
        """Claim a websocket for one connection (a second connect is refused)."""
        if name in self._reserved:
            return False
        self._reserved.add(name)
        return True

    async def serve(self, name: str, ws: _websocket.WebSocket) -> None:
        """Hold one websocket until the execution is over (stdin and control are read
        meanwhile); the server closes it when this returns."""
        self.sockets[name] = ws
        if all(ws is not None for key, ws in self.sockets.items() if key != "control"):
            self._io_connected.set()
        reader = {"control": self._control, "stdio": self._stdin}.get(name)
        work = asyncio.ensure_future(reader(ws)) if reader else None
        try:
            await self._finished.wait()
        finally:
            if work is not None:
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work

    def kill(self) -> None:
        """SIGKILL the process group (the command's own children too, as Pebble does)."""
        process = self._process
        if process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)

    async def run(self) -> None:
        """Run to the end; ExecError (with `exit-code` -1) if it could not run or timed
        out. An abort (the handler cancelled) kills the process."""
        try:
            await self._run()
        except asyncio.CancelledError:
            self.kill()
            raise
        finally:
            self._started.set()
            self._finished.set()

    async def _run(self) -> None:
        self.task.data["exit-code"] = -1
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self._io_connected.wait()
        except TimeoutError:
            raise ExecError(
                f"exec {self.task.id}: timeout waiting for websocket connections: "
                "context deadline exceeded"
            ) from None
        try:
            process = await self._spawn()
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise ExecError(f"fork/exec {self.setup.executable}: {reason.lower()}") from None
        self._process = process
        self._started.set()
        code, timed_out = await self._output(process)
        self._finished.set()
        if process.stdin is not None:
            process.stdin.close()  # the stdin reader is done with it (or never got `end`)
        if timed_out:
            timeout = _durations.format_duration(self.setup.timeout or 0)
            raise ExecError(f"timed out after {timeout}: context deadline exceeded")
        self.task.data["exit-code"] = code

    async def _spawn(self) -> asyncio.subprocess.Process:
        setup = self.setup
        switch = setup.uid is not None and setup.gid is not None
        if switch and (setup.uid, setup.gid) == (os.getuid(), os.getgid()):
            switch = False
        return await asyncio.create_subprocess_exec(
            setup.command[0],
            *setup.command[1:],
            executable=setup.executable,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if setup.split_stderr else asyncio.subprocess.STDOUT,
            env=setup.environment,
            cwd=setup.working_dir,
            start_new_session=True,
            preexec_fn=_children.die_with_parent(),
            user=setup.uid if switch else None,
            group=setup.gid if switch else None,
            extra_groups=[] if switch else None,
        )

    async def _output(self, process: asyncio.subprocess.Process) -> tuple[int, bool]:
        """Wait for the exit while streaming output; (exit code, timed out)."""
        streams = [(process.stdout, self.sockets["stdio"])]
        if self.setup.split_stderr:
            streams.append((process.stderr, self.sockets["stderr"]))
        pumps = [asyncio.ensure_future(_pump(s, ws)) for s, ws in streams if s and ws]
        timed_out = False
        try:
            async with asyncio.timeout(self.setup.timeout):
                await process.wait()
        except TimeoutError:
            timed_out = True
            self.kill()
            await process.wait()
        _done, late = await asyncio.wait(pumps, timeout=WAIT_DELAY if timed_out else None)
        for pump in late:
            pump.cancel()
        for (_stream, ws), pump in zip(streams, pumps, strict=False):
            if pump in late and ws is not None:
                await ws.send(_END)
        code = process.returncode if process.returncode is not None else -1
        return (128 - code if code < 0 else code), timed_out

    async def _stdin(self, ws: _websocket.WebSocket) -> None:
        """Feed stdin from the `stdio` websocket until `end` (or it goes away)."""
        await self._started.wait()
        process = self._process
        pipe = process.stdin if process is not None else None
        while True:
            message = await ws.receive()
            if message is None:
                break
            if isinstance(message, str):
                if _command(message) == "end":
                    break
                continue
            if pipe is not None:
                try:
                    pipe.write(message)
                    await pipe.drain()
                except (ConnectionError, OSError):
                    pipe = None  # the process stopped reading; drain the rest unread
        if pipe is not None:
            pipe.close()

    async def _control(self, ws: _websocket.WebSocket) -> None:
        """Forward `signal` commands; a control socket lost abruptly kills the process."""
        await self._started.wait()
        process = self._process
        if process is None:
            return
        while True:
            message = await ws.receive()
            if message is None:
                if ws.abnormal and process.returncode is None:
                    self.kill()
                return
            if isinstance(message, str):
                _signal(process, message, self.task.id)


def _command(message: str) -> str:
    try:
        payload = json.loads(message)
    except ValueError:
        logger.info("cannot decode I/O command %r", message)
        return ""
    return str(payload.get("command", "")) if isinstance(payload, dict) else ""


def _signal(process: asyncio.subprocess.Process, message: str, task_id: str) -> None:
    """Apply one control command (only `signal` without a terminal)."""
    try:
        payload = json.loads(message)
    except ValueError:
        logger.info("exec %s: cannot decode control command", task_id)
        return
    if not isinstance(payload, dict) or payload.get("command") != "signal":
        logger.info("exec %s: invalid control command %r", task_id, message)
        return
    name = str((payload.get("signal") or {}).get("name", ""))
    number = signal.Signals.__members__.get(name)
    if number is None:
        logger.info("exec %s: invalid signal name %r", task_id, name)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, number)


async def _pump(stream: asyncio.StreamReader, ws: _websocket.WebSocket) -> None:
    """A process's output to a websocket, then `end` (keeps draining if the client left,
    so a full pipe never stalls the process)."""
    while chunk := await stream.read(_CHUNK):
        await ws.send(chunk)
    await ws.send(_END)
