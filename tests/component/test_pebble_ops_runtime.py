"""The runtime as a charm meets it: ops' client against a real `rune-pebble run`.

Failed starts as `ChangeError` with the workload's output, refusals as `APIError`, and a
check that fails and recovers as Juju's notices worker follows it (change-update notices,
then `GET /v1/changes/<key>`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import time
from pathlib import Path

import ops.pebble
import pytest

from tests.component._pebble import gone, launch, running_agent, short_dir, wait_until

TIMEOUT = 30.0


def test_failed_starts_and_refusals_reach_the_charm_as_ops_errors(tmp_path: Path) -> None:
    crash = "sh -c 'echo listening on :80; echo fatal: no database >&2; exit 4'"
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        with pytest.raises(ops.pebble.APIError) as none:
            client.autostart_services()
        assert (none.value.code, none.value.message) == (400, "no default services")
        assert none.value.body["result"]["kind"] == "no-default-services"
        layer = {
            "services": {"db": {"override": "replace", "command": crash, "startup": "enabled"}}
        }
        client.add_layer("db", layer)
        with pytest.raises(ops.pebble.ChangeError) as failed:
            client.replan_services(timeout=TIMEOUT)
        text = str(failed.value)
        assert failed.value.err == (
            "cannot perform the following tasks:\n"
            '- Start service "db" (service start attempt: exited quickly with code 4, '
            "will restart)"
        )
        assert "Most recent service output:\n    listening on :80\n    fatal: no database" in text
        [info] = client.get_services(["db"])
        assert info.current in ("backoff", ops.pebble.ServiceStatus.ACTIVE)
        with pytest.raises(ops.pebble.APIError) as unknown:
            client.start_services(["nope"])
        assert unknown.value.message == 'cannot start services: service "nope" does not exist'
        client.stop_services(["db"], timeout=TIMEOUT)
        [info] = client.get_services(["db"])
        assert info.current == ops.pebble.ServiceStatus.INACTIVE


def test_a_failing_check_is_seen_as_juju_sees_it(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    layer = {
        "checks": {
            "probe": {
                "override": "replace",
                "level": "alive",
                "period": "200ms",
                "threshold": 1,
                "exec": {"command": f"test -e {flag}"},
            }
        }
    }
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        client.add_layer("checks", layer)
        [check] = client.get_checks()
        assert check.change_id is not None and check.threshold == 1
        [first] = client.get_changes(select=ops.pebble.ChangeState.ALL)
        assert (first.kind, first.summary) == ("perform-check", 'Perform exec check "probe"')
        perform = first.id
        failed = client.wait_change(perform, timeout=TIMEOUT)
        assert failed.status == "Error" and failed.kind == "perform-check"
        assert failed.err is not None and "(exit status 1)" in failed.err
        [check] = client.get_checks(level=ops.pebble.CheckLevel.ALIVE)
        assert check.status == ops.pebble.CheckStatus.DOWN and check.failures >= 1
        recover = check.change_id
        assert recover is not None and recover != perform

        notices = client.get_notices(
            types=[ops.pebble.NoticeType.CHANGE_UPDATE], keys=[perform, recover]
        )
        data = {notice.key: notice.last_data for notice in notices}
        assert data[perform] == {"kind": "perform-check", "check-name": "probe"}
        assert data[recover] == {"kind": "recover-check", "check-name": "probe"}
        assert client.get_change(perform).status == "Error"

        flag.touch()
        recovered = client.wait_change(recover, timeout=TIMEOUT)
        assert recovered.status == "Done" and recovered.kind == "recover-check"
        [check] = client.get_checks()
        assert check.status == ops.pebble.CheckStatus.UP and check.successes == 1

        assert client.stop_checks(["probe"]) == ["probe"]
        [check] = client.get_checks()
        assert check.status == ops.pebble.CheckStatus.INACTIVE
        assert client.start_checks(["probe"]) == ["probe"]
        with pytest.raises(ops.pebble.APIError, match="cannot find checks in plan: nope"):
            client.start_checks(["nope"])


def test_a_service_that_dies_is_restarted_after_back_off(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    # Up past the 1 s okay delay, then a failure exit: on-failure restart with back-off.
    command = f"sh -c 'echo started >> {starts}; sleep 1.2; exit 3'"
    layer = {
        "services": {
            "flaky": {
                "override": "replace",
                "command": command,
                "backoff-delay": "100ms",
                "backoff-limit": "1s",
            }
        }
    }
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        client.add_layer("flaky", layer)
        client.start_services(["flaky"], timeout=TIMEOUT)
        seen: set[str] = set()
        deadline = time.monotonic() + TIMEOUT
        while not (starts.exists() and len(starts.read_text().splitlines()) >= 3):
            [info] = client.get_services(["flaky"])
            seen.add(str(info.current))
            assert time.monotonic() < deadline, f"not restarted twice; states seen: {seen}"
            time.sleep(0.02)
        # Three starts from one start request: Pebble restarted it itself, twice.
        [info] = client.get_services(["flaky"])
        assert info.current in (ops.pebble.ServiceStatus.ACTIVE, "backoff")
        client.stop_services(["flaky"], timeout=TIMEOUT)
        [info] = client.get_services(["flaky"])
        assert info.current == ops.pebble.ServiceStatus.INACTIVE


def test_a_service_dies_with_a_killed_daemon(tmp_path: Path) -> None:
    """As in a container: a SIGKILLed daemon leaves no service behind, not even one that
    ignores SIGTERM and has a long kill-delay (a restarted daemon would start a second)."""
    pid_file = tmp_path / "pid"
    # `exec` keeps the pid: the ignoring process is the daemon's own child.
    command = f"sh -c 'trap \"\" TERM; echo $$ > {pid_file}; exec sleep 600'"
    service = {"override": "replace", "command": command, "kill-delay": "10s"}
    layer = {"services": {"stubborn": service}}
    base = short_dir()
    agent = launch(base / "pebble", base / "pebble.socket", tmp_path, ["--hold"])
    try:
        agent.wait_for_log("Started daemon")
        client = agent.client()
        client.add_layer("stubborn", layer)
        client.start_services(["stubborn"], timeout=TIMEOUT)
        pid = int(pid_file.read_text())
        assert not gone(pid)
        agent.process.kill()
        agent.process.wait()
        wait_until(lambda: gone(pid), f"service {pid} outlived its daemon", TIMEOUT)
    finally:
        agent.process.kill()
        agent.process.wait()
        shutil.rmtree(base, ignore_errors=True)


def test_service_logs_as_pebble_logs_reads_them(tmp_path: Path) -> None:
    command = "sh -c 'echo one; echo two >&2; echo three; exec sleep 600'"
    layer = {"services": {"talker": {"override": "replace", "command": command}}}
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        client.add_layer("talker", layer)
        client.start_services(["talker"], timeout=TIMEOUT)

        def entries(query: str) -> list[dict[str, str]]:
            response = client._request_raw("GET", f"/v1/logs?{query}")
            assert response.headers["Content-Type"] == "application/x-ndjson"
            return [json.loads(line) for line in response.read().splitlines()]

        found = entries("services=talker&n=-1")
        assert sorted(e["message"] for e in found) == ["one\n", "three\n", "two\n"]
        assert {e["service"] for e in found} == {"talker"}
        assert all(e["time"].endswith("Z") for e in found)
        assert len(entries("services=talker&n=2")) == 2
        assert entries("services=nobody") == []
        with pytest.raises(ops.pebble.APIError) as bad:
            client._request("GET", "/v1/logs", {"n": "many"})
        assert (bad.value.code, bad.value.message) == (400, 'n must be a valid integer, got "many"')
        client.stop_services(["talker"], timeout=TIMEOUT)


def test_start_pulls_in_requirements_in_order_and_stop_takes_dependents(tmp_path: Path) -> None:
    order = tmp_path / "order"

    def service(name: str, **extra: object) -> dict[str, object]:
        command = f"sh -c 'echo {name} >> {order}; exec sleep 600'"
        return {"override": "replace", "command": command, **extra}

    layer = {
        "services": {
            "web": service("web", requires=["db"], after=["db"]),
            "db": service("db"),
            "other": service("other"),
        }
    }
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        client.add_layer("deps", layer)
        client.start_services(["web"], timeout=TIMEOUT)
        assert order.read_text().split() == ["db", "web"]
        status = {s.name: str(s.current.value) for s in client.get_services()}
        assert status == {"db": "active", "web": "active", "other": "inactive"}
        client.stop_services(["db"], timeout=TIMEOUT)
        status = {s.name: str(s.current.value) for s in client.get_services()}
        assert status == {"db": "inactive", "web": "inactive", "other": "inactive"}


def test_services_start_with_default_signals_whatever_the_daemon_inherited(
    tmp_path: Path,
) -> None:
    """A daemon started under `nohup` inherits SIGHUP ignored; its services must not (a
    shell cannot even trap a signal it started with ignored)."""
    report = tmp_path / "sigign"
    command = f"sh -c 'grep SigIgn /proc/self/status > {report}; exec sleep 600'"
    layer = {"services": {"s": {"override": "replace", "command": command}}}
    with contextlib.ExitStack() as stack:
        previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        try:
            agent = stack.enter_context(running_agent(tmp_path, ["--hold"]))
        finally:
            signal.signal(signal.SIGHUP, previous)
        client = agent.client()
        client.add_layer("s", layer)
        client.start_services(["s"], timeout=TIMEOUT)
        ignored = int(report.read_text().split()[1], 16)
        assert not ignored & (1 << (signal.SIGHUP - 1)), f"SigIgn {ignored:#x}"
        client.stop_services(["s"], timeout=TIMEOUT)
