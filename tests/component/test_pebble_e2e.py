"""A real `rune-pebble run` end to end, as a sidecar charm and Juju's agent use it: a layer
added and replanned, services and the plan read back, a workload's `pebble notify` seen
through a notices long-poll, signals and exec in a service's context, and a rock's layers
seeded by PEBBLE_COPY_ONCE."""

from __future__ import annotations

import os
import shutil
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import ops.pebble
import pytest

from runecraft.agents.pebble import __main__ as pebble_cli
from tests.component._pebble import Agent, launch, running_agent, short_dir


def long_poll(agent: Agent, **query: str) -> dict[str, Any]:
    """`GET /v1/notices?...&timeout=` as Juju's agent sends it (ops has no call for it)."""
    return pebble_cli.request(agent.socket, "GET", "/v1/notices?" + urllib.parse.urlencode(query))


class Poll(threading.Thread):
    """A long-poll running beside the test."""

    def __init__(self, agent: Agent, **query: str) -> None:
        super().__init__(daemon=True)
        self._agent, self._query = agent, query
        self.reply: dict[str, Any] = {}

    def run(self) -> None:
        self.reply = long_poll(self._agent, **self._query)


SERVICE = (
    'sh -c \'trap "pebble notify example.com/hup got=hup" HUP; '
    'while [ ! -e "$TRIGGER" ]; do sleep 0.05; done; '
    "pebble notify example.com/ready from=$MARK; "
    "while :; do sleep 0.05; done'"
)


def test_layer_replan_plan_services_and_a_notice_from_the_workload(tmp_path: Path) -> None:
    trigger = tmp_path / "trigger"
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        layer = ops.pebble.Layer(
            {
                "summary": "the workload",
                "services": {
                    "notifier": {
                        "override": "replace",
                        "command": SERVICE,
                        "startup": "enabled",
                        "environment": {"TRIGGER": str(trigger), "MARK": "service"},
                    }
                },
            }
        )
        client.add_layer("app", layer, combine=True)
        [before] = client.get_services()
        assert before.current == ops.pebble.ServiceStatus.INACTIVE
        poll = Poll(agent, types="custom", keys="example.com/ready", timeout="30s")
        poll.start()
        client.replan_services(timeout=30)
        [service] = client.get_services()
        assert service.name == "notifier" and service.is_running()
        assert client.get_plan().services == layer.services
        assert poll.is_alive()  # nothing to report yet: the long-poll waits
        trigger.touch()
        poll.join(timeout=60)
        [notice] = poll.reply["result"]
        assert (notice["type"], notice["key"], notice["last-data"]) == (
            "custom",
            "example.com/ready",
            {"from": "service"},
        )
        assert notice["user-id"] == os.getuid()

        hup = Poll(agent, keys="example.com/hup", timeout="30s")
        hup.start()
        assert client.send_signal("SIGHUP", ["notifier"]) is None
        hup.join(timeout=60)
        assert [n["last-data"] for n in hup.reply["result"]] == [{"got": "hup"}]

        out, _ = client.exec(["sh", "-c", "echo $MARK"], service_context="notifier").wait_output()
        assert out == "service\n"
        recorded, _ = client.exec(["pebble", "notify", "example.com/from-exec"]).wait_output()
        assert recorded.startswith("Recorded notice ")
        notices = client.get_notices(keys=["example.com/from-exec"])
        assert [n.id for n in notices] == [recorded.split()[-1]]


def test_signals_need_running_services(tmp_path: Path) -> None:
    with running_agent(tmp_path, ["--hold"]) as agent:
        client = agent.client()
        client.add_layer(
            "app", {"services": {"idle": {"override": "replace", "command": "sleep 60"}}}
        )
        with pytest.raises(ops.pebble.APIError) as not_running:
            client.send_signal("SIGHUP", ["idle"])
        assert not_running.value.code == 500
        assert 'cannot send signal to "idle": service is not running' in not_running.value.message
        with pytest.raises(ops.pebble.APIError, match="must specify one or more services"):
            client.send_signal("SIGHUP", [])


def test_rock_layers_seeded_once_and_started_without_hold(tmp_path: Path) -> None:
    rock = tmp_path / "rock"
    (rock / "layers").mkdir(parents=True)
    base_layer = rock / "layers" / "001-base.yaml"
    base_layer.write_text(
        "services:\n  web:\n    override: replace\n    command: sleep 60\n    startup: enabled\n"
    )
    base = short_dir()
    try:
        for _ in range(2):
            agent = launch(
                base / "pebble",
                base / "pebble.socket",
                tmp_path,
                env={"PEBBLE_COPY_ONCE": str(rock)},
            )
            try:
                agent.wait_for_log("Started daemon")
                client = agent.client()
                [autostart] = client.get_changes(select=ops.pebble.ChangeState.ALL)
                assert client.wait_change(autostart.id, timeout=30).err is None
                [web] = client.get_services()
                assert web.name == "web" and web.is_running()
            finally:
                assert agent.stop() == 0
            # The second start finds $PEBBLE seeded: a changed rock is not copied again.
            base_layer.write_text("services: {}\n")
        assert "command: sleep 60" in (base / "pebble" / "layers" / "001-base.yaml").read_text()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_notices_survive_a_daemon_restart(tmp_path: Path) -> None:
    base = short_dir()
    try:
        first = launch(base / "pebble", base / "pebble.socket", tmp_path, ["--hold"])
        try:
            first.wait_for_log("Started daemon")
            client = first.client()
            before = client.notify(
                ops.pebble.NoticeType.CUSTOM, "example.com/keep", data={"n": "1"}
            )
            client.notify(ops.pebble.NoticeType.CUSTOM, "example.com/other")
        finally:
            assert first.stop() == 0, "".join(first.log)
        second = launch(base / "pebble", base / "pebble.socket", tmp_path, ["--hold"])
        try:
            second.wait_for_log("Started daemon")
            client = second.client()
            notice = client.get_notice(before)
            assert (notice.key, notice.last_data) == ("example.com/keep", {"n": "1"})
            after = client.notify(ops.pebble.NoticeType.CUSTOM, "example.com/new")
            assert int(after) > int(before) + 1
        finally:
            assert second.stop() == 0, "".join(second.log)
    finally:
        shutil.rmtree(base, ignore_errors=True)
