"""A full disk under a real controller and its machine agents (real tmpfs mounts): the
controller stays up, answers writes 503 with the JSON error naming the full disk while
status still answers, and resumes with no restart once space returns; a machine agent whose
machine directory is full keeps running, holds its hook back, and catches up."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from runecraft.controller.providers._local_isolation import MACHINES_ROOT
from runecraft.controller.providers.local import agent_pids
from tests import _waiting as waiting
from tests._tmpfs import fill, small_tmpfs
from tests.integration.conftest import EXAMPLES, Rune, until


def _logged(path: Path, text: str, timeout: float = 120) -> None:
    """Wait until the log file at `path` has a line with `text` (a condition, polled)."""
    waiting.until(
        f"{text!r} logged in {path}",
        lambda: text in path.read_text(errors="replace"),
        timeout,
        interval=0.2,
    )


def _api(rune: Rune) -> httpx.Client:
    config = yaml.safe_load((rune.home / "client.yaml").read_text())
    ca = config.get("ca_cert")
    verify: Any = True
    if ca:
        import ssl  # noqa: PLC0415

        verify = ssl.create_default_context(cadata=ca)
    return httpx.Client(
        base_url=config["endpoint"],
        headers={"Authorization": f"Bearer {config['token']}"},
        verify=verify,
        timeout=30,
    )


def _hello_message(rune: Rune, field: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        unit = rune.status()["applications"]["hello"]["units"]["hello/0"]
        return str(unit[field]["message"]) or None

    return probe


@pytest.mark.timeout(900)
def test_controller_and_agents_outlive_a_full_disk(rune: Rune) -> None:
    with small_tmpfs("32m") as db_dir:
        rune("bootstrap", "--database", f"sqlite+aiosqlite:///{db_dir / 'state.db'}")
        config = yaml.safe_load((rune.home / "controller" / "controller.yaml").read_text())
        # As root, machines live outside the home, in a directory of this controller's.
        at = MACHINES_ROOT / config["uuid"] if os.geteuid() == 0 else rune.home / "machines"
        try:
            with small_tmpfs("512m", mode="0711", at=at) as machines:
                try:
                    rune("deploy", str(EXAMPLES / "hello"), "hello", "--config", "greeting=hi")
                    rune("wait", "--timeout", "5m")
                    _full_database(rune, db_dir)
                    _full_machine_dir(rune, machines)
                finally:  # stop the agents before their disk goes
                    rune("kill-controller", "--no-prompt", config["name"], check=False)
        finally:
            rune("kill-controller", "--no-prompt", config["name"], check=False)


def _full_database(rune: Rune, db_dir: Path) -> None:
    controller_log = rune.home / "controller" / "controller.log"
    pid = int((rune.home / "controller" / "controller.pid").read_text())

    filler = fill(db_dir)
    with _api(rune) as api:
        refused = api.post("/v1/models", json={"name": "during"})
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "unavailable"
        assert error["message"].startswith(
            "the controller's database cannot be written: disk full ("
        )
        assert str(db_dir / "state.db") in error["message"]
        # The workers met it too (agents heartbeat every 10 s), and the controller is up.
        _logged(controller_log, "cannot store agent messages")
        assert waiting.alive(pid)
        assert api.get("/v1/health").status_code == 200
    assert rune.status()["applications"]["hello"]["units"]["hello/0"]  # reads answer
    failed = rune("config", "hello", "greeting=full", check=False)
    assert failed.returncode != 0
    assert "disk full" in failed.stderr

    filler.unlink()
    rune("config", "hello", "greeting=back")
    rune("wait", "--timeout", "5m")
    assert _hello_message(rune, "workload-status")() == "back"
    _logged(controller_log, "event='recovered' after='cannot store agent messages")
    assert waiting.alive(pid)


def _full_machine_dir(rune: Rune, machines: Path) -> None:
    agents = agent_pids(machines)
    assert agents
    filler = fill(machines)
    rune("config", "hello", "greeting=later")
    message = until(rune, "default", "the unit saying why it waits", _juju_waiting(rune))
    assert message == "cannot save unit state, retrying: no space left on device"
    assert all(waiting.alive(pid) for pid in agents)
    assert _hello_message(rune, "workload-status")() == "back"  # its hook is held back

    filler.unlink()
    rune("wait", "--timeout", "5m")
    assert _hello_message(rune, "workload-status")() == "later"
    assert agent_pids(machines) == agents  # the same agents, never restarted


def _juju_waiting(rune: Rune) -> Callable[[], str | None]:
    probe = _hello_message(rune, "juju-status")

    def waiting() -> str | None:
        message = probe()
        return message if message and message.startswith("cannot save unit state") else None

    return waiting
