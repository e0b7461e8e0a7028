"""The controller's parts, killed on purpose: a managed mosquitto is started again (and
`/v1/health` and status say how it is), `start-controller` repairs what died, leadership
does not move because the controller's own bus was down, and a killed local machine agent
is made again without any change to the model."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import yaml

from runecraft.controller.providers.local import agent_pids
from tests import _waiting as waiting
from tests.integration.conftest import EXAMPLES, Rune, until
from tests.integration.test_local_e2e import hook_log, leaders, units


def _config(rune: Rune) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (rune.home / "controller" / "controller.yaml").read_text()
    )
    return config


def health(rune: Rune) -> dict[str, str]:
    """The controller's `/v1/health` answer."""
    config = _config(rune)
    ca = ssl.create_default_context(cafile=str(rune.home / "controller" / "tls" / "ca.crt"))
    url = f"https://{config['api_host']}:{config['api_port']}/v1/health"
    answer: dict[str, str] = httpx.get(url, verify=ca, timeout=5).json()
    return answer


def mosquitto_pid(rune: Rune) -> int:
    """The managed mosquitto's pid, once its pid file holds one (a starting mosquitto
    truncates the file before it writes its pid)."""
    path = rune.home / "controller" / "mosquitto" / "mosquitto.pid"
    text = waiting.until("mosquitto's pid file", lambda: path.read_text().strip() or None)
    return int(text)


def kill_now(pid: int) -> None:
    """SIGKILL `pid` and return once it has exited (its sockets closed)."""
    fd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        readable, _, _ = select.select([fd], [], [], 10)
        assert readable, f"process {pid} did not exit"
    finally:
        os.close(fd)


def on_bus(rune: Rune) -> bool:
    answer = health(rune)
    return answer["bus"] == "connected" and answer["broker"] == "running"


def message_is(rune: Rune, app: str, text: str) -> Callable[[], bool]:
    def probe() -> bool:
        found = {d["workload-status"].get("message") for d in units(rune.status(), app).values()}
        return found == {text}

    return probe


def elections(rune: Rune) -> list[str]:
    """Every leadership change the controller made, from its lines in debug-log."""
    log = rune("debug-log", "--include", "controller-0", "--replay", "--no-tail").stdout
    return [line for line in log.splitlines() if "leaders elected" in line]


def deployed(rune: Rune, *args: str) -> None:
    rune("bootstrap", *args)
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "2")
    rune("wait", "--timeout", "5m")


def test_killed_mosquitto_is_restarted_and_start_controller_repairs(rune: Rune) -> None:
    deployed(rune, "--broker", "mosquitto")
    assert health(rune)["broker"] == "running"
    status = rune.status()
    assert status["controller"]["broker-status"] == {"current": "running"}

    # The broker alone dies: the controller starts it again; start-controller waits for that.
    first = mosquitto_pid(rune)
    kill_now(first)
    started = rune("start-controller", timeout=120)
    assert started.returncode == 0
    waiting.until("the controller back on its bus", lambda: on_bus(rune))
    assert mosquitto_pid(rune) != first and waiting.alive(mosquitto_pid(rune))
    rune("config", "hello-bash", "message=after-broker")
    until(rune, "default", "the agents' hooks", message_is(rune, "hello-bash", "after-broker"))

    # The controller dies and leaves mosquitto running: the new one adopts it, and watches it.
    adopted = mosquitto_pid(rune)
    kill_now(int((rune.home / "controller" / "controller.pid").read_text()))
    rune("start-controller", timeout=120)
    assert mosquitto_pid(rune) == adopted
    kill_now(adopted)
    waiting.until("the adopted broker restarted", lambda: mosquitto_pid(rune) != adopted)
    waiting.until("the controller back on its bus", lambda: on_bus(rune))

    # Both die: start-controller brings both back.
    both = mosquitto_pid(rune)
    kill_now(int((rune.home / "controller" / "controller.pid").read_text()))
    kill_now(both)
    rune("start-controller", timeout=120)
    assert mosquitto_pid(rune) != both and waiting.alive(mosquitto_pid(rune))
    rune("config", "hello-bash", "message=after-both")
    until(rune, "default", "the agents' hooks", message_is(rune, "hello-bash", "after-both"))
    assert health(rune)["broker"] == "running"


@contextlib.contextmanager
def broker_port_taken(rune: Rune, port: int, attempts: int = 5) -> Iterator[None]:
    """Kill mosquitto and hold its port, so that the controller's restarts fail until the
    block ends. The controller's first restart comes at least 0.4 s after the kill, and the
    port is taken the moment the process has exited; should a restart win all the same, the
    new mosquitto is killed again (at most `attempts` times)."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        for _ in range(attempts):
            kill_now(mosquitto_pid(rune))
            try:
                holder.bind(("127.0.0.1", port))
            except OSError:
                waiting.until(
                    "the restarted broker's pid", lambda: waiting.alive(mosquitto_pid(rune))
                )
                continue
            holder.listen()
            break
        else:
            raise AssertionError("the controller restarted its broker before its port was taken")
        yield
    finally:
        holder.close()


@pytest.mark.timeout(600)
def test_a_broker_outage_longer_than_the_lease_moves_no_leader(rune: Rune) -> None:
    rune("bootstrap", "--broker", "mosquitto")
    # The shortest lease Juju's guarantee allows, so the outage can outlast it.
    path = rune.home / "controller" / "controller.yaml"
    config = _config(rune)
    config["lease_seconds"] = 30.0
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    pid = int((rune.home / "controller" / "controller.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    waiting.until("the controller to stop", lambda: not waiting.alive(pid))
    rune("start-controller")
    rune("deploy", str(EXAMPLES / "hello-bash"), "-n", "2")
    rune("wait", "--timeout", "5m")
    before = leaders(rune.status())
    assert before == {"hello-bash": ["hello-bash/0"]}
    elected = elections(rune)
    assert len(elected) == 1

    outage = config["lease_seconds"] + config.get("reconcile_interval", 5.0) + 5
    began = time.monotonic()
    with broker_port_taken(rune, int(config["broker"]["port"])):
        waiting.until("the broker reported down", lambda: health(rune)["broker"] == "down")
        answer = health(rune)
        assert answer["bus"] == "connecting"
        assert "address already in use" in answer["broker_message"]
        table = rune("status").stdout
        assert "broker down" in table
        # The fault lasts longer than any lease the agents renewed before it.
        waiting.until(
            "an outage longer than the lease",
            lambda: health(rune)["broker"] == "down" and time.monotonic() - began > outage,
            timeout=outage + 30,
        )
    waiting.until("the broker started again", lambda: on_bus(rune), timeout=120)
    rune("wait", "--timeout", "5m")
    assert leaders(rune.status()) == before
    assert elections(rune) == elected  # not even moved and moved back
    assert hook_log(rune, "hello-bash/0").count("leader-elected") == 1
    assert "leader-elected" not in hook_log(rune, "hello-bash/1")
    rune("config", "hello-bash", "message=after-outage")
    until(rune, "default", "the agents' hooks", message_is(rune, "hello-bash", "after-outage"))
    assert leaders(rune.status()) == before
    assert elections(rune) == elected


def test_killed_local_machine_agent_comes_back(rune: Rune) -> None:
    deployed(rune)
    machines = rune.home / "machines"
    before = set(agent_pids(machines))
    assert len(before) == 2
    victim = min(before)
    kill_now(victim)
    # No change to the model: the reconciler's sweep finds the agent gone (within
    # SWEEP_INTERVAL plus one reconcile interval) and makes it again.
    until(
        rune,
        "default",
        "the agent made again",
        lambda: len(set(agent_pids(machines)) - before) == 1,
        timeout=120,
    )
    assert victim not in agent_pids(machines)
    rune("config", "hello-bash", "message=after-agent")
    until(rune, "default", "the agents' hooks", message_is(rune, "hello-bash", "after-agent"))
