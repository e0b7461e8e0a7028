"""`start` (behind `rune start-controller`) on a controller that runs but is off its bus: it
waits while the controller restarts its broker, saying so, and names a broker that stays
down. The controller here is a stand-in: a process the pid file names and a real HTTP server
answering `/v1/health` as a controller in that state does."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from runecraft import errors
from runecraft.controller import _lifecycle
from runecraft.schemas.controller import BrokerSettings, ControllerConfig
from tests.conftest import free_port


class _Health:
    """The `/v1/health` answers to give, in turn (the last one for ever after)."""

    def __init__(self, answers: list[dict[str, str]]) -> None:
        self.answers = answers
        self.asked = 0

    def next(self) -> dict[str, str]:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return answer


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[tuple[Path, ControllerConfig, _Health]]:
    home = tmp_path / "home"
    directory = home / "controller"
    directory.mkdir(parents=True)
    config = ControllerConfig(
        name="c",
        uuid=str(uuid.uuid4()),
        api_port=free_port(),
        database_url="sqlite+aiosqlite:///unused",
        admin_token="t",
        broker=BrokerSettings(kind="mosquitto", port=free_port()),
    )
    (directory / "controller.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    health = _Health([])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "uuid": config.uuid, **health.next()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            del args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", config.api_port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # A running "controller" as `start` recognises one: its pid file and command line.
    stand_in = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()", "runecraft.controller"],
        stdin=subprocess.PIPE,
    )
    (directory / "controller.pid").write_text(str(stand_in.pid))
    try:
        # Right after exec its command line may read empty for a moment: until `start` sees
        # it, it would start a real controller.
        deadline = time.monotonic() + 10
        while _lifecycle._pid(directory) != stand_in.pid:
            assert time.monotonic() < deadline, "the stand-in is not taken for a controller"
            time.sleep(0.01)
        yield home, config, health
    finally:
        stand_in.kill()
        stand_in.wait()
        server.shutdown()
        server.server_close()


RESTARTING = {
    "bus": "connecting",
    "broker": "restarting",
    "broker_message": "mosquitto (pid 7) was killed by signal 9",
}


def test_start_waits_for_a_broker_being_restarted_and_says_so(
    controller: tuple[Path, ControllerConfig, _Health],
) -> None:
    home, config, health = controller
    health.answers = [
        RESTARTING,
        RESTARTING,
        {"bus": "connecting", "broker": "running"},
        {"bus": "connected", "broker": "running"},
    ]
    said: list[str] = []
    assert _lifecycle.start(home, said.append) == config
    assert said == [
        "waiting for the controller API",
        "the controller is restarting its broker (mosquitto (pid 7) was killed by signal 9)",
        "waiting for the controller to reach its broker",
    ]


def test_start_names_a_broker_that_stays_down(
    controller: tuple[Path, ControllerConfig, _Health], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _, health = controller
    monkeypatch.setattr(_lifecycle, "BROKER_DOWN_GRACE", 0.2)
    why = "cannot listen on 127.0.0.1:1883 for the broker: address already in use"
    health.answers = [{"bus": "connecting", "broker": "down", "broker_message": why}]
    said: list[str] = []
    with pytest.raises(errors.TemporaryError, match="its broker is down: cannot listen"):
        _lifecycle.start(home, said.append)
    assert said[-1] == f"the controller's broker is down ({why}); the controller keeps trying"
