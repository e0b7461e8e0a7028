"""Every machine runs a machine agent, so what it imports is paid for once per machine, in
start time and in memory: the agent process never loads a console renderer (rich), an HTTP
client library (httpx: only the Pebble watchers of sidecar charms load it), structlog (it
logs through `runecraft._logging.configure_plain`) or anything of the controller or the
CLI. Checked in a fresh interpreter through `sys.modules`, after the agent's entry module is
imported, its logging configured and used, and a charm fetched the way a unit fetches it."""

from __future__ import annotations

import hashlib
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

NEVER = (
    "rich",
    "httpx",
    "httpcore",
    "anyio",
    "click",
    "prometheus_client",
    "runecraft.controller",
    "runecraft.cli",
    "opentelemetry",
    "structlog",
)
"""Not loaded by a machine agent whose units run machine charms (its metrics are counted
with the standard library: `runecraft.agents._metrics`; opentelemetry: while no OTLP
endpoint is configured, tracing is off; structlog: the agent's key-value lines are written
by `runecraft._logging` itself, the same lines, 3 MB less)."""

ARCHIVE = b"a charm"


class _Charms(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the stdlib's handler naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(ARCHIVE)))
        self.end_headers()
        self.wfile.write(ARCHIVE)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def api_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Charms)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def loaded_by_agent(api_url: str) -> set[str]:
    """The modules an agent process holds once it is imported and has fetched a charm."""
    sha = hashlib.sha256(ARCHIVE).hexdigest()
    script = f"""
import asyncio, json, sys
import runecraft.agents.__main__
from runecraft.agents import _charm_source, _main, machine
assert _main.main(["--config", "no-such-agent.json"]) == 2  # logging set up, an error logged
machine.logger.info("probe", at="start")
machine.logger.bind(unit="app/0").warning("probe")
source = _charm_source.HttpCharmSource({api_url!r}, "token")
assert asyncio.run(source.fetch({sha!r})) == {ARCHIVE!r}
sys.stdout.write(json.dumps(sorted(k for k, v in sys.modules.items() if v)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout))


def test_the_agent_loads_no_renderer_http_library_controller_or_cli(api_url: str) -> None:
    loaded = loaded_by_agent(api_url)
    assert "runecraft.agents.machine" in loaded  # the probe did import the agent
    stray = sorted(
        module
        for module in loaded
        for never in NEVER
        if module == never or module.startswith(never + ".")
    )
    assert stray == []
