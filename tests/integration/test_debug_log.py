"""`rune debug-log`: unit and machine-agent logs shipped by the machine agents and the
controller's own lines, filtered in the controller, and complete under a burst;
`rune show-status-log`: the statuses units went through."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration import _conformance as c
from tests.integration.conftest import EXAMPLES, RUNE, Rune

pytestmark = pytest.mark.e2e

BURST = 10_000


def follow(rune: Rune, until: Callable[[str], bool], *args: str) -> list[str]:
    """Tail `rune debug-log ARGS` until a line satisfies `until`; returns the lines read."""
    env = {**os.environ, "RUNECRAFT_HOME": str(rune.home), "RUNECRAFT_CACHE_DIR": str(rune.cache)}
    with subprocess.Popen(
        [*RUNE, "debug-log", *args], env=env, stdout=subprocess.PIPE, text=True
    ) as tail:
        assert tail.stdout is not None
        lines = []
        try:
            for line in tail.stdout:
                lines.append(line.rstrip("\n"))
                if until(lines[-1]):
                    return lines
        finally:
            tail.kill()
    raise AssertionError(f"debug-log ended before the line awaited; read: {lines[-5:]}")


def test_debug_log_ships_filters_and_survives_a_burst(rune: Rune) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "2")
    rune("wait", "--timeout", "5m")

    # Tails until the install hook of hello-bash/1 has been shipped.
    shown = follow(rune, lambda line: 'running hook "install"' in line, "-i", "unit-hello-bash-1")
    assert all(line.startswith("unit-hello-bash-1: ") for line in shown)

    replay = rune("debug-log", "--replay", "--no-tail", "--include", "hello-bash/1").stdout
    assert replay.splitlines()[: len(shown)] == shown

    # A burst straight into the unit log, as a chatty charm would write it.
    (log,) = rune.home.glob("machines/*/*/units/hello-bash-0/unit.log")
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    with log.open("a") as file:
        for n in range(BURST):
            file.write(f"{now} CRITICAL unit.hello-bash/0.burst line {n:05d}\n")

    tailed = follow(rune, lambda line: line.endswith(f"{BURST - 1:05d}"), "--level", "CRITICAL")
    assert (
        tailed[-1] == f"unit-hello-bash-0: {now[11:]} CRITICAL unit.hello-bash/0.burst line 09999"
    )

    everything = rune("debug-log", "--limit", "0", "--level", "critical", "--date").stdout
    messages = [line.split(" unit.hello-bash/0.burst ", 1)[1] for line in everything.splitlines()]
    assert messages == [f"line {n:05d}" for n in range(BURST)]  # all, in order, each once
    assert everything.startswith(f"unit-hello-bash-0: {now} CRITICAL ")

    newest = rune("debug-log", "--limit", "3", "--level", "CRITICAL").stdout.splitlines()
    assert [line.rsplit(" ", 1)[1] for line in newest] == ["09997", "09998", "09999"]

    others = rune("debug-log", "--limit", "0", "--exclude", "hello-bash").stdout.splitlines()
    assert others and not [line for line in others if line.startswith("unit-")]

    # The machine agents' own logs and the controller's lines about the model are there too,
    # and the controller's whole log under `-m controller`.
    agent = follow(rune, lambda line: "unit agent started" in line, "--replay", "-i", "machine-1")
    assert agent[-1].startswith("machine-1: ") and " INFO runecraft.agents.machine " in agent[-1]
    ours = follow(rune, lambda line: " deployed " in line, "--replay", "-i", "controller-0")
    assert ours[-1].startswith("controller-0: ") and "application=hello-bash" in ours[-1]
    whole = follow(rune, lambda line: "controller started" in line, "--replay", "-m", "controller")
    assert all(line.startswith("controller-0: ") for line in whole)
    refused = rune("add-model", "controller", check=False)
    assert refused.returncode == 1 and 'model name "controller" is reserved' in refused.stderr

    history = json.loads(rune("show-status-log", "hello-bash/0", "--format", "json").stdout)
    assert ("juju-unit", "executing") in [(e["type"], e["status"]) for e in history]
    assert [e["status"] for e in history if e["type"] == "workload"][-1] == "active"
    assert history[-1]["type"] == "juju-unit" and history[-1]["status"] == "idle"
    workload = json.loads(
        rune(
            "show-status-log", "hello-bash/0", "--type", "workload", "-n", "1", "--format", "json"
        ).stdout
    )
    assert [(e["type"], e["status"]) for e in workload] == [("workload", "active")]
    table = rune("show-status-log", "hello-bash/1").stdout
    assert table.splitlines()[0].split() == ["Time", "Type", "Status", "Message"]


def test_a_failing_hooks_traceback_is_one_record_at_error(rune: Rune, tmp_path: Path) -> None:
    """ops logs an uncaught exception as one `juju-log` of many lines, a bash charm its own
    two-line `juju-log -l ERROR`: each shows whole at its level, not one line at ERROR and
    the rest at INFO."""
    rune("bootstrap")
    rune("model-config", "automatically-retry-hooks=false")
    for app in ("ops-provider", "bash-provider"):
        c.deploy(rune, app, tmp_path / "events", units=1, config=["fail-hook=install"])
    assert rune(*c.WAIT, check=False).returncode == 1

    # Once the last line of each is shipped (at any level), --level ERROR shows each whole.
    follow(rune, lambda line: line.endswith("RuntimeError: failing install on purpose"), "--replay")
    follow(rune, lambda line: line.endswith("second line of the failure"), "--replay")
    (traceback,) = [r for r in errors_of(rune, "ops-provider") if "Uncaught exception" in r[0]]
    assert traceback[0].startswith("unit-ops-provider-0: "), traceback
    assert traceback[0].endswith(
        " ERROR unit.ops-provider/0.juju-log Uncaught exception while in charm code:"
    ), traceback
    assert traceback[1] == "Traceback (most recent call last):", traceback
    assert any(line.startswith('  File "') for line in traceback), traceback
    assert traceback[-1] == "RuntimeError: failing install on purpose", traceback

    (failure,) = [r for r in errors_of(rune, "bash-provider/0") if "juju-log" in r[0]]
    assert failure[0].startswith("unit-bash-provider-0: "), failure
    assert failure[0].endswith(" ERROR unit.bash-provider/0.juju-log failing install on purpose")
    assert failure[1:] == ["second line of the failure"], failure


def errors_of(rune: Rune, entity: str) -> list[list[str]]:
    """The records `rune debug-log --level ERROR` shows of `entity` now, each as its lines
    (a record starts with the entity's tag; the lines of its message follow as they are)."""
    shown = rune("debug-log", "--replay", "--no-tail", "--level", "ERROR", "-i", entity)
    records: list[list[str]] = []
    for line in shown.stdout.splitlines():
        if line.startswith("unit-") or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return records


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--level", "LOUD"), 'invalid log level "LOUD"'),
        (("--include", "Not An Entity"), 'invalid entity "Not An Entity"'),
        (("--lines", "-1"), "Invalid value for '--lines'"),
    ],
)
def test_debug_log_refuses_bad_input(rune: Rune, args: tuple[str, ...], message: str) -> None:
    result = rune("debug-log", "--no-tail", *args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_status_log_refuses_bad_entities_and_types(rune: Rune) -> None:
    rune("bootstrap")
    bad_unit = rune("show-status-log", "Nope/x", check=False)
    assert bad_unit.returncode == 1
    assert 'invalid unit name "Nope/x"' in bad_unit.stderr
    bad_type = rune("show-status-log", "hello", "--type", "workload", check=False)
    assert bad_type.returncode == 1
    assert 'invalid status type "workload" for hello' in bad_type.stderr
    assert rune("show-status-log", "hello/7", "--format", "json").stdout.strip() == "[]"


def test_controller_log_is_json_lines_on_request(
    rune: Rune, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNECRAFT_LOG_FORMAT", "yaml")
    refused = rune("bootstrap", check=False)
    assert refused.returncode == 1
    assert 'invalid RUNECRAFT_LOG_FORMAT "yaml": expected one of text, json' in refused.stderr
    assert not (rune.home / "controller").exists()  # nothing made
    monkeypatch.delenv("RUNECRAFT_LOG_FORMAT")

    rune("bootstrap", "--log-format", "json")
    rune("add-model", "second")
    # Started again, the controller keeps the format bootstrap chose.
    os.kill(int((rune.home / "controller" / "controller.pid").read_text()), signal.SIGKILL)
    rune("start-controller")
    rune("add-model", "third")
    lines = (rune.home / "controller" / "controller.log").read_text().splitlines()
    documents = [json.loads(line) for line in lines]
    assert all({"timestamp", "level", "event"} <= set(d) for d in documents), lines
    started = [d for d in documents if d["event"] == "controller started"]
    assert len(started) == 2 and started[0]["level"] == "info", lines[:5]


def test_logging_config_drops_debug_juju_log_until_set(rune: Rune, tmp_path: Path) -> None:
    """As in Juju, the default `logging-config` (`<root>=INFO`) keeps ops' DEBUG lines
    ("Emitting Juju event ...") out of debug-log; `<root>=DEBUG` lets them through."""
    rune("bootstrap")
    config = json.loads(rune("model-config", "--format", "json").stdout)
    assert config["logging-config"]["Value"] == "<root>=INFO"
    c.deploy(rune, "ops-provider", tmp_path / "events", units=1)
    c.settle(rune)
    # Every line of the start hook is shipped once its last one is.
    follow(rune, lambda line: line.endswith('ran hook "start"'), "--replay")
    replay = rune("debug-log", "--replay", "--no-tail", "-i", "ops-provider/0").stdout
    assert 'ran hook "install"' in replay, replay
    assert "Emitting Juju event" not in replay, replay

    bad = rune("model-config", "logging-config=<root>=LOUD", check=False)
    assert bad.returncode != 0 and 'model config "logging-config"' in bad.stderr, bad.stderr
    config = json.loads(rune("model-config", "--format", "json").stdout)
    assert config["logging-config"]["Value"] == "<root>=INFO"
    rune("model-config", "logging-config=<root>=DEBUG")
    rune("config", "ops-provider", "token=t0ken-2")
    c.settle(rune)
    wanted = "DEBUG unit.ops-provider/0.juju-log Emitting Juju event config_changed."
    follow(rune, lambda line: line.endswith(wanted), "--replay", "-i", "ops-provider/0")
