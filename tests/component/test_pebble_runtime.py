"""The Pebble agent's runtime with real processes: services, back-off, replan, checks.

Workloads are `python3 -c` stubs and `sleep`; waits follow status listeners, changes and
notices; nothing is polled.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shlex
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import ops.pebble
import pytest

from runecraft.agents.pebble import _plan, _runtime, _state
from runecraft.agents.pebble._http import PebbleError
from tests import _waiting as waiting

TIMEOUT = 30.0
PY = shlex.quote(sys.executable)


def py(script: str) -> str:
    return f"{PY} -c {shlex.quote(script)}"


SERVE = py("import os, time\nprint('up', os.getpid(), flush=True)\ntime.sleep(3600)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service(name: str, command: str = SERVE, **fields: object) -> _plan.Service:
    return _plan.Service(name=name, override="replace", command=command, **fields)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


class Harness:
    """A runtime with its plan set directly, its output captured, and its services'
    status changes observable."""

    def __init__(self, pebble_dir: Path) -> None:
        self.output: list[bytes] = []
        self.runtime = _runtime.Runtime(pebble_dir, dict(os.environ), output=self._on_output)
        self.state = self.runtime.state
        self.services = self.runtime.services
        self.checks = self.runtime.checks
        self.events: list[tuple[str, str]] = []
        self._changed = asyncio.Event()
        self.services.add_listener(self._on_status)
        self.checks.add_listener(lambda name: self._changed.set())

    def _on_output(self, data: bytes) -> None:
        self.output.append(data)
        self._changed.set()

    def _on_status(self, name: str, status: str) -> None:
        self.events.append((name, status))
        self._changed.set()

    def set_plan(self, *services: _plan.Service, checks: tuple[_plan.Check, ...] = ()) -> None:
        plan = _plan.Plan(
            services={s.name: s for s in services}, checks={c.name: c for c in checks}
        )
        self.services.plan_changed(plan)
        self.checks.plan_changed(plan)

    def status(self, name: str) -> str:
        [info] = self.services.services([name])
        return str(info["current"])

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (on service status changes, check runs and output) for `predicate`."""
        async with asyncio.timeout(TIMEOUT):
            while not predicate():
                self._changed = asyncio.Event()
                await self._changed.wait()

    async def done(self, change: _state.Change) -> _state.Change:
        await change.wait(TIMEOUT)
        return change

    def text(self) -> str:
        return b"".join(self.output).decode()


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    await harness.runtime.stop()


def change_error(change: _state.Change) -> str:
    """What a charm sees: ops' ChangeError text (err plus every task's log)."""
    parsed = ops.pebble.Change.from_dict(change.to_json())
    assert parsed.err is not None
    return str(ops.pebble.ChangeError(parsed.err, parsed))


async def test_start_waits_the_okay_delay_and_stop_ends_the_process_group(
    harness: Harness,
) -> None:
    child = py(
        "import os, subprocess, time\n"
        "p = subprocess.Popen(['sleep', '3600'])\n"
        "print('child', p.pid, flush=True)\n"
        "time.sleep(3600)"
    )
    harness.set_plan(service("web", child))
    assert harness.status("web") == "inactive"
    change = await harness.done(harness.services.act("start", ["web"]))
    assert change.status == "Done" and change.summary == 'Start service "web"'
    [task] = change.tasks
    assert (task.kind, task.summary) == ("start", 'Start service "web"')
    assert harness.status("web") == "active"
    pid = harness.services.pid("web")
    assert pid is not None and alive(pid)
    await harness.until(lambda: "child" in harness.text())
    child_pid = int(harness.text().split("child ")[1].split()[0])
    assert "[web] child" in harness.text()

    again = await harness.done(harness.services.act("start", ["web"]))
    assert again.status == "Done" and again.tasks[0].logs[0].endswith(
        'INFO Service "web" already started.'
    )

    stop = await harness.done(harness.services.act("stop", ["web"]))
    assert stop.status == "Done" and stop.tasks[0].summary == 'Stop service "web"'
    assert harness.status("web") == "inactive"
    assert not alive(pid)
    # The group was sent SIGKILL; its other members die as the kernel gets to them.
    waiting.until("the service's child killed with its group", lambda: not alive(child_pid), 30)
    assert [e for e in harness.events if e[0] == "web"] == [("web", "active"), ("web", "inactive")]


async def test_a_service_that_exits_within_the_okay_delay_fails_its_start_with_its_output(
    harness: Harness,
) -> None:
    crash = py("print('loading config', flush=True)\nprint('bad value: 7')\nraise SystemExit(3)")
    harness.set_plan(service("app", crash, backoff_delay=60.0))
    change = await harness.done(harness.services.act("start", ["app"]))
    assert change.status == "Error"
    assert change.err == (
        "cannot perform the following tasks:\n"
        '- Start service "app" (service start attempt: exited quickly with code 3, '
        "will restart)"
    )
    text = change_error(change)
    assert "Most recent service output:\n    loading config\n    bad value: 7" in text
    assert harness.status("app") == "backoff"
    assert "[app] loading config" in harness.text()


async def test_a_service_that_cannot_be_spawned_says_why(harness: Harness) -> None:
    harness.set_plan(
        service("gone", "no-such-program-here --flag"),
        service("nowhere", "sleep 10", working_dir="/no/such/dir"),
    )
    change = await harness.done(harness.services.act("start", ["gone", "nowhere"]))
    assert change.status == "Error"
    assert change.summary == 'Start service "gone" and 1 more'
    assert change.err == (
        "cannot perform the following tasks:\n"
        '- Start service "gone" (cannot start service: exec: "no-such-program-here": '
        "executable file not found in $PATH)\n"
        '- Start service "nowhere" (cannot start service: chdir /no/such/dir: '
        "no such file or directory)"
    )
    assert harness.status("gone") == "inactive"


async def test_an_exited_service_restarts_after_back_off(harness: Harness) -> None:
    harness.set_plan(service("worker", "sleep 3600", backoff_delay=0.2))
    await harness.done(harness.services.act("start", ["worker"]))
    first = harness.services.pid("worker")
    assert first is not None
    harness.services.send_signal(["worker"], "SIGUSR1")
    await harness.until(lambda: ("worker", "backoff") in harness.events)
    await harness.until(lambda: harness.events[-1] == ("worker", "active"))
    assert [e for e in harness.events if e[0] == "worker"] == [
        ("worker", "active"),
        ("worker", "backoff"),
        ("worker", "active"),
    ]
    second = harness.services.pid("worker")
    assert second is not None and second != first and alive(second)
    [info] = harness.services.services(["worker"])
    assert info["current"] == "active" and info["startup"] == "disabled"
    assert ops.pebble.ServiceInfo.from_dict(info).is_running()


async def test_stop_sends_sigkill_after_the_kill_delay(harness: Harness) -> None:
    stubborn = py(
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(3600)"
    )
    harness.set_plan(service("stubborn", stubborn, kill_delay=0.2))
    await harness.done(harness.services.act("start", ["stubborn"]))
    await harness.until(lambda: "ready" in harness.text())
    pid = harness.services.pid("stubborn")
    assert pid is not None
    stop = await harness.done(harness.services.act("stop", ["stubborn"]))
    assert stop.status == "Done" and not alive(pid)


async def test_replan_restarts_only_services_whose_definition_changed(
    harness: Harness,
) -> None:
    harness.set_plan(
        service("a", startup="enabled"),
        service("b", startup="enabled"),
        service("c", startup="disabled"),
    )
    first = await harness.done(harness.services.act("replan", []))
    assert first.status == "Done" and first.summary == 'Replan service "a" and 1 more'
    assert sorted(t.summary for t in first.tasks) == ['Start service "a"', 'Start service "b"']
    pids = {name: harness.services.pid(name) for name in "ab"}
    assert harness.status("c") == "inactive"

    harness.set_plan(
        service("a", startup="enabled", environment={"LEVEL": "debug"}),
        service("b", startup="enabled"),
        service("c", startup="disabled"),
    )
    second = await harness.done(harness.services.act("replan", []))
    assert second.status == "Done"
    assert [(t.kind, t.summary) for t in second.tasks if t.kind == "stop"] == [
        ("stop", 'Stop service "a"')
    ]
    start_b = next(t for t in second.tasks if t.summary == 'Start service "b"')
    assert start_b.logs[0].endswith('Service "b" already started.')
    assert harness.services.pid("a") not in (None, pids["a"])
    assert harness.services.pid("b") == pids["b"]
    assert second.service_names == ("a", "b")

    third = await harness.done(harness.services.act("replan", []))
    assert third.summary == 'Replan service "a" and 1 more' and not third.err


async def test_empty_replan_autostart_without_defaults_and_bad_requests(
    harness: Harness,
) -> None:
    harness.set_plan(service("only", startup="disabled"))
    before = len(harness.state.changes())
    empty = harness.services.act("replan", [])
    assert (empty.status, empty.summary, empty.tasks) == ("Done", "Replan - no services", ())
    refusals = [
        (("autostart", []), 400, "no default services", "no-default-services"),
        (("start", ["nope"]), 400, 'cannot start services: service "nope" does not exist', None),
        (("stop", []), 400, "must specify services for stop action", None),
        (("replan", ["only"]), 400, "replan accepts no service names", None),
        (("launch", ["only"]), 400, 'invalid action "launch"', None),
    ]
    for (action, names), status, message, kind in refusals:
        with pytest.raises(PebbleError) as caught:
            harness.services.act(action, names)
        assert (caught.value.status, caught.value.message, caught.value.kind) == (
            status,
            message,
            kind,
        )
    assert len(harness.state.changes()) == before + 1
    assert harness.status("only") == "inactive"


async def test_signals_reach_the_main_process_only_while_running(harness: Harness) -> None:
    trap = py(
        "import signal, time\n"
        "signal.signal(signal.SIGHUP, lambda *a: print('got HUP', flush=True))\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(3600)"
    )
    harness.set_plan(service("trap", trap), service("idle"))
    await harness.done(harness.services.act("start", ["trap"]))
    await harness.until(lambda: "ready" in harness.text())
    harness.services.send_signal(["trap"], "SIGHUP")
    await harness.until(lambda: "got HUP" in harness.text())
    with pytest.raises(PebbleError) as caught:
        harness.services.send_signal(["idle", "trap"], "SIGNOPE")
    assert caught.value.status == 500
    assert caught.value.message == (
        'cannot send signal to "idle": service is not running; '
        'cannot send signal to "trap": invalid signal name "SIGNOPE"'
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")
async def test_a_service_runs_as_its_user_with_home_and_user_set(harness: Harness) -> None:
    nobody = pwd.getpwnam("nobody")
    show = "sh -c 'echo ids $(id -u) $(id -g) $USER $HOME; exec sleep 3600'"
    harness.set_plan(service("as-nobody", show, user="nobody"))
    started = await harness.done(harness.services.act("start", ["as-nobody"]))
    assert started.status == "Done", started.err
    await harness.until(lambda: "ids" in harness.text())
    assert f"ids {nobody.pw_uid} {nobody.pw_gid} nobody {nobody.pw_dir}" in harness.text()


async def test_shutdown_stops_every_service(tmp_path: Path) -> None:
    harness = Harness(tmp_path)
    harness.set_plan(service("one", startup="enabled"), service("two", startup="enabled"))
    await harness.done(harness.services.act("autostart", []))
    pids = [harness.services.pid("one"), harness.services.pid("two")]
    await harness.runtime.stop()
    assert all(pid is not None and not alive(pid) for pid in pids)
    stop = harness.state.changes()[-1]
    assert (stop.kind, stop.summary, stop.status) == ("stop", "Stop all running services", "Done")


async def change_done(state: _state.State, change_id: str) -> _state.Change:
    change = await state.wait_change(change_id, TIMEOUT)
    return change


def check_info(harness: Harness, name: str) -> dict[str, object]:
    [info] = harness.checks.checks(names=[name])
    return info


async def test_a_check_fails_at_its_threshold_and_recovers_with_notices(
    harness: Harness, tmp_path: Path
) -> None:
    flag = tmp_path / "healthy"
    flag.touch()
    check = _plan.Check(
        name="chk",
        override="replace",
        level="alive",
        period=0.3,
        threshold=2,
        exec=_plan.ExecCheck(command=f"test -e {flag}"),
    )
    app = service("app", "sleep 3600", on_check_failure={"chk": "restart"}, backoff_delay=0.1)
    harness.set_plan(app, checks=(check,))
    await harness.done(harness.services.act("start", ["app"]))
    app_pid = harness.services.pid("app")
    info = check_info(harness, "chk")
    perform = str(info["change-id"])
    assert info["status"] == "up" and info["threshold"] == 2 and info["level"] == "alive"
    parsed = ops.pebble.CheckInfo.from_dict(info)
    assert parsed.status.value == "up" and parsed.change_id == perform
    await harness.until(lambda: int(str(check_info(harness, "chk")["successes"])) >= 1)
    cursor = harness.state.notices()[-1].last_repeated

    flag.unlink()
    failed = await change_done(harness.state, perform)
    assert failed.status == "Error" and failed.kind == "perform-check"
    assert failed.summary == 'Perform exec check "chk"'
    assert failed.err == (
        "cannot perform the following tasks:\n"
        '- Perform exec check "chk" (exit status 1)\n'
        '- Perform exec check "chk" (exit status 1)'
    )
    info = check_info(harness, "chk")
    recover = str(info["change-id"])
    assert info["status"] == "down" and info["failures"] == 2
    assert info["prev-change-id"] == perform and recover != perform
    assert not harness.checks.healthy("alive") and not harness.checks.healthy("ready")
    assert harness.checks.healthy("ready", ["other"])
    recovering = harness.state.change(recover)
    assert recovering is not None and recovering.summary == 'Recover exec check "chk"'
    await harness.until(lambda: harness.services.pid("app") not in (None, app_pid))

    flag.touch()
    recovered = await change_done(harness.state, recover)
    assert recovered.status == "Done"
    info = check_info(harness, "chk")
    assert info["status"] == "up" and info["successes"] == 1 and "failures" not in info
    assert info["prev-change-id"] == recover and info["change-id"] not in (perform, recover)
    assert harness.checks.healthy("ready")

    seen = {
        notice.key: (notice.last_data, harness.state.change(notice.key))
        for notice in harness.state.notices(types=["change-update"], after=cursor)
    }
    assert seen[perform][0] == {"kind": "perform-check", "check-name": "chk"}
    assert seen[recover][0] == {"kind": "recover-check", "check-name": "chk"}
    assert str(info["change-id"]) in seen


async def test_http_and_tcp_checks(harness: Harness) -> None:
    port = free_port()
    server = py(
        "import http.server\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        code = 200 if self.path == '/ok' else 503\n"
        "        self.send_response(code)\n"
        "        self.end_headers()\n"
        "        self.wfile.write(b'down for maintenance\\nsince noon\\n')\n"
        "    def log_message(self, *args): pass\n"
        f"s = http.server.HTTPServer(('127.0.0.1', {port}), H)\n"
        "print('listening', flush=True)\n"
        "s.serve_forever()"
    )
    closed = free_port()

    def check(name: str, **kind: object) -> _plan.Check:
        return _plan.Check(name=name, override="replace", period=0.2, threshold=1, **kind)  # type: ignore[arg-type]

    harness.set_plan(service("web", server))
    await harness.done(harness.services.act("start", ["web"]))
    await harness.until(lambda: "listening" in harness.text())
    harness.set_plan(
        service("web", server),
        checks=(
            check("ok", http=_plan.HttpCheck(url=f"http://127.0.0.1:{port}/ok")),
            check("bad", http=_plan.HttpCheck(url=f"http://127.0.0.1:{port}/bad")),
            check("port", tcp=_plan.TcpCheck(port=port, host="127.0.0.1")),
            check("shut", tcp=_plan.TcpCheck(port=closed, host="127.0.0.1")),
        ),
    )
    first = {name: str(check_info(harness, name)["change-id"]) for name in ("bad", "shut")}
    bad = await change_done(harness.state, first["bad"])
    assert bad.err == (
        "cannot perform the following tasks:\n"
        '- Perform HTTP check "bad" (non-2xx status code 503; down for maintenance\nsince noon)'
    )
    shut = await change_done(harness.state, first["shut"])
    assert shut.summary == 'Perform TCP check "shut"'
    assert shut.err == (
        "cannot perform the following tasks:\n"
        f'- Perform TCP check "shut" (dial tcp 127.0.0.1:{closed}: connect: connection refused)'
    )
    await harness.until(
        lambda: all(int(str(check_info(harness, n)["successes"])) > 0 for n in ("ok", "port"))
    )
    assert [check_info(harness, n)["status"] for n in ("bad", "ok", "port", "shut")] == [
        "down",
        "up",
        "up",
        "down",
    ]


async def test_check_start_stop_and_plan_changes(harness: Harness) -> None:
    def check(startup: str = "", period: float = 60.0) -> _plan.Check:
        return _plan.Check(
            name="lazy",
            override="replace",
            startup=startup,
            period=period,
            threshold=3,
            exec=_plan.ExecCheck(command="true"),
        )

    harness.set_plan(checks=(check("disabled"),))
    info = check_info(harness, "lazy")
    assert info["status"] == "inactive" and "change-id" not in info
    assert ops.pebble.CheckInfo.from_dict(info).status.value == "inactive"
    assert harness.checks.start_checks(["lazy"]) == ["lazy"]
    assert harness.checks.start_checks(["lazy"]) == []
    running = str(check_info(harness, "lazy")["change-id"])
    harness.set_plan(checks=(check("disabled"),))
    assert check_info(harness, "lazy")["change-id"] == running  # unchanged: keeps running
    harness.set_plan(checks=(check("enabled", period=30.0),))
    restarted = str(check_info(harness, "lazy")["change-id"])
    assert restarted != running
    old = await change_done(harness.state, running)
    assert old.status == "Hold"
    assert harness.checks.stop_checks(["lazy"]) == ["lazy"]
    stopped = await change_done(harness.state, restarted)
    assert stopped.status == "Hold" and check_info(harness, "lazy")["status"] == "inactive"
    with pytest.raises(PebbleError) as caught:
        harness.checks.start_checks(["lazy", "zz", "aa"])
    assert caught.value.status == 400
    assert caught.value.message == "cannot start checks: cannot find checks in plan: aa, zz"
    harness.checks.replan()
    assert check_info(harness, "lazy")["status"] == "up"


@pytest.mark.parametrize("hold", [False, True])
async def test_boot_loads_base_layers_and_autostarts_unless_held(
    tmp_path: Path, hold: bool
) -> None:
    layers = tmp_path / "layers"
    layers.mkdir()
    (layers / "001-base.yaml").write_text(
        "services:\n  boot:\n    override: replace\n    command: sleep 3600\n    startup: enabled\n"
    )
    harness = Harness(tmp_path)
    try:
        await harness.runtime.start(hold=hold)
        assert [layer.label for layer in harness.runtime.plans.layers] == ["base"]
        changes = harness.state.changes()
        if hold:
            assert changes == [] and harness.status("boot") == "inactive"
        else:
            [change] = changes
            await harness.done(change)
            assert (change.kind, change.status) == ("autostart", "Done")
            assert harness.status("boot") == "active"
    finally:
        await harness.runtime.stop()
