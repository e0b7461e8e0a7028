"""End to end on the local substrate: the real CLI, controller, broker, machine agents, and
real `ops` and bash charms running their hooks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

from runecraft.controller.providers.local import agent_pids
from tests.integration.conftest import EXAMPLES, Rune


def units(status: dict[str, Any], app: str) -> dict[str, Any]:
    result: dict[str, Any] = status["applications"][app]["units"]
    return result


def leaders(status: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: sorted(u for u, doc in app["units"].items() if doc.get("leader"))
        for name, app in status["applications"].items()
    }


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def hook_log(rune: Rune, unit: str) -> list[str]:
    """Hook names in the order the unit agent ran them (from the unit's log)."""
    app, number = unit.split("/")
    logs = list((rune.home / "machines").glob(f"*/*/units/{app}-{number}/unit.log"))
    assert logs, f"no unit log for {unit}"
    ran = []
    for line in logs[0].read_text().splitlines():
        if "running hook" in line:
            ran.append(line.split("running hook", 1)[1].split()[0].strip("'\":= "))
    return ran


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_deploy_configure_scale_and_models(rune: Rune, broker: str) -> None:
    rune("bootstrap", "--broker", broker)
    rune("deploy", str(EXAMPLES / "hello"), "hello", "-n", "2", "--config", "greeting=hi")
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("wait", "--timeout", "5m")

    status = rune.status()
    assert status["applications"]["hello"]["application-status"]["current"] == "active"
    for doc in units(status, "hello").values():
        assert doc["workload-status"] == {
            **doc["workload-status"],
            "current": "active",
            "message": "hi",
        }
        assert doc["juju-status"]["current"] == "idle"
    assert units(status, "hello-bash")["hello-bash/0"]["workload-status"]["current"] == "active"
    assert leaders(status) == {"hello": ["hello/0"], "hello-bash": ["hello-bash/0"]}
    assert len(status["machines"]) == 3
    created = "hello-peers-relation-created"
    assert hook_log(rune, "hello/0")[:5] == [
        "install",
        created,
        "leader-elected",
        "config-changed",
        "start",
    ]
    assert hook_log(rune, "hello/1")[:5] == [
        "install",
        created,
        "leader-settings-changed",
        "config-changed",
        "start",
    ]

    rune("config", "hello", "greeting=bonjour")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert {d["workload-status"]["message"] for d in units(status, "hello").values()} == {"bonjour"}
    assert rune("config", "hello", "greeting").stdout.strip() == "bonjour"

    rune("add-unit", "hello", "-n", "1")
    rune("wait", "--timeout", "5m")
    assert sorted(units(rune.status(), "hello")) == ["hello/0", "hello/1", "hello/2"]

    rune("remove-unit", "hello/2")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert sorted(units(status, "hello")) == ["hello/0", "hello/1"]
    assert len(status["machines"]) == 3
    ran = hook_log(rune, "hello/0")
    assert ran.count("config-changed") >= 2

    rune("add-model", "staging")
    listing = json.loads(rune("models", "--format", "json").stdout)
    models = [m["short-name"] for m in listing["models"]]
    assert models == ["default", "staging"]
    assert rune.status()["model"]["name"] == "staging"
    # A second model's agents get their snapshots too (hellos are not consumed by the first).
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("wait", "--timeout", "5m")
    assert units(rune.status(), "hello-bash")["hello-bash/0"]["workload-status"]["current"] == (
        "active"
    )
    assert rune.status("-m", "default")["model"]["name"] == "default"
    assert "hello" in rune("-m", "default", "status").stdout


def test_kill_minus_nine_mid_deploy_converges(rune: Rune) -> None:
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "3")
    pid = int((rune.home / "controller" / "controller.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    rune("start-controller")
    rune("wait", "--timeout", "5m")
    before = rune.status()
    assert sorted(units(before, "hello-bash")) == ["hello-bash/0", "hello-bash/1", "hello-bash/2"]
    assert all(
        d["workload-status"]["current"] == "active" for d in units(before, "hello-bash").values()
    )
    assert len(leaders(before)["hello-bash"]) == 1

    pid = int((rune.home / "controller" / "controller.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    rune("start-controller")
    rune("wait", "--timeout", "5m")
    after = rune.status()
    assert leaders(after) == leaders(before)
    assert {u: d["workload-status"] for u, d in units(after, "hello-bash").items()} == {
        u: d["workload-status"] for u, d in units(before, "hello-bash").items()
    }
    assert sorted(after["machines"]) == sorted(before["machines"])


def test_kill_controller_stops_every_agent(rune: Rune) -> None:
    rune("bootstrap", "local", "doomed")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "2")
    rune("wait", "--timeout", "5m")
    pids = agent_pids(rune.home / "machines")
    assert len(pids) == 2
    rune("kill-controller", "doomed", "--no-prompt")
    for pid in pids:
        assert not _running(pid)
    assert not (rune.home / "controller").exists()


def test_bad_input_is_refused_and_changes_nothing(rune: Rune, tmp_path: Path) -> None:
    rune("bootstrap")
    again = rune("bootstrap", check=False)
    assert again.returncode == 1 and "already exists" in again.stderr

    not_a_charm = tmp_path / "empty"
    not_a_charm.mkdir()
    result = rune("deploy", str(not_a_charm), check=False)
    assert result.returncode == 1 and "is not a charm" in result.stderr
    result = rune("deploy", str(tmp_path / "missing"), check=False)
    assert result.returncode == 1 and "not found" in result.stderr

    result = rune("deploy", str(EXAMPLES / "hello-bash"), "--config", "nope=1", check=False)
    assert result.returncode == 1 and 'unknown option "nope"' in result.stderr
    result = rune("deploy", str(EXAMPLES / "hello"), "--config", "repeat=many", check=False)
    assert result.returncode == 1 and '"repeat"' in result.stderr
    assert rune.status()["applications"] == {}

    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "0")
    revision = rune.status()["model"]["revision"]
    for args, message in [
        (("config", "ghost", "a=1"), 'application "ghost" not found'),
        (("config", "hello-bash", "nope=1"), 'unknown option "nope"'),
        (("remove-unit", "hello-bash/9"), 'unit "hello-bash/9" not found'),
        (("add-unit", "ghost"), 'application "ghost" not found'),
        (("-m", "nope", "status"), 'model "nope" not found'),
        (("add-model", "default"), 'model "default" already exists'),
        (("kill-controller", "other", "--no-prompt"), 'controller "other" not found'),
    ]:
        result = rune(*args, check=False)
        assert result.returncode == 1, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert rune.status()["model"]["revision"] == revision

    result = rune("deploy", "--bogus-flag", check=False)
    assert result.returncode == 2
    result = rune("wait", "--timeout", "soon", check=False)
    assert result.returncode == 2 and "invalid duration" in result.stderr


def test_colocation_and_postgres_backed_controller(rune: Rune, postgres_url: str) -> None:
    rune("bootstrap", "--database", postgres_url)
    rune("deploy", str(EXAMPLES / "hello-bash"))
    rune("wait", "--timeout", "5m")
    rune("add-unit", "hello-bash", "--to", "0")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert {u: d["machine"] for u, d in units(status, "hello-bash").items()} == {
        "hello-bash/0": "0",
        "hello-bash/1": "0",
    }
    assert list(status["machines"]) == ["0"]
    result = rune("add-unit", "hello-bash", "--to", "5", check=False)
    assert result.returncode == 1 and 'machine "5" not found' in result.stderr

    # Removing one of two co-located units keeps the machine; removing the last removes it.
    rune("remove-unit", "hello-bash/1")
    rune("wait", "--timeout", "5m")
    assert list(rune.status()["machines"]) == ["0"]
    rune("remove-unit", "hello-bash/0")
    rune("wait", "--timeout", "5m")
    status = rune.status()
    assert units(status, "hello-bash") == {}
    assert status["machines"] == {}


@pytest.mark.parametrize("taken", ["--api-port", "--broker"])
def test_a_taken_port_is_named_and_leaves_nothing(rune: Rune, taken: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        value = str(port) if taken == "--api-port" else f"mosquitto:{port}"
        result = rune("bootstrap", taken, value, check=False)
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "address already in use" in result.stderr
    assert ("for the API" if taken == "--api-port" else "for the broker") in result.stderr
    assert not (rune.home / "controller").exists()
    assert rune("bootstrap").returncode == 0  # and the home is usable afterwards


def test_bootstrap_takes_jujus_model_flags_and_refuses_bad_ones(rune: Rune) -> None:
    for args, code, message in [
        (("--config", "bogus-key=1"), 1, 'unknown model config key "bogus-key"'),
        (("--config", "hook-fork-server=maybe"), 1, 'model config "hook-fork-server"'),
        (("--constraints", "gpu=1"), 1, 'unknown constraint "gpu"'),
        (("--bootstrap-base", "nope"), 1, "nope"),
        (("--to", "0"), 1, "bootstrap --to is not supported yet"),
        (("--config", "no-equals"), 2, 'invalid config "no-equals": expected KEY=VALUE'),
    ]:
        refused = rune("bootstrap", *args, check=False)
        assert refused.returncode == code, args
        assert message in refused.stderr
        assert not (rune.home / "controller").exists()
    rune(
        "bootstrap", "local", "c1", "--no-switch", "--config", "automatically-retry-hooks=false",
        "--model-default", "update-status-hook-interval=1m", "--constraints", "mem=1G",
        "--bootstrap-base", "ubuntu@24.04", "--credential", "mine", "--force",
    )  # fmt: skip
    config = json.loads(rune("model-config", "--format", "json").stdout)
    assert config["automatically-retry-hooks"]["Value"] is False
    assert config["update-status-hook-interval"]["Value"] == "1m"
    assert rune("model-constraints").stdout.strip() == "mem=1024M"


@pytest.mark.parametrize("failing", ["stop", "remove"])
def test_remove_application_force_gets_past_a_failing_teardown_hook(
    rune: Rune, tmp_path: Path, failing: str
) -> None:
    charm = tmp_path / "stuck"
    shutil.copytree(EXAMPLES / "hello-bash", charm)
    hook = charm / "hooks" / failing
    hook.write_text(f'#!/bin/sh\njuju-log "{failing} fails"\nexit 1\n')
    hook.chmod(0o755)
    rune("bootstrap")
    rune("deploy", str(charm), "stuck")
    rune("wait", "--timeout", "5m")

    # Without --force, the failing hook holds the removal: the unit stays, in error.
    rune("remove-application", "stuck")
    waited = rune("wait", "--timeout", "5m", check=False)
    assert waited.returncode != 0
    assert f'is in error: hook failed: "{failing}"' in waited.stderr
    unit = units(rune.status(), "stuck")["stuck/0"]
    assert unit["workload-status"]["message"] == f'hook failed: "{failing}"'

    # With --force, the failing hook is skipped as if resolved and the unit goes (its agent
    # reports the removal: the controller did not have to forget it).
    rune("remove-application", "stuck", "--force")
    rune("wait", "--timeout", "5m")
    assert "stuck" not in rune.status()["applications"]
    assert "forgotten" not in rune.controller_log(400)
