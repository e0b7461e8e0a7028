"""A sidecar charm on the local substrate: the unit agent runs a Pebble daemon for the
charm's `web` container, the charm (unmodified ops) reaches it at
`/charm/containers/web/pebble.socket` through the fork server, and Pebble's check events
come back as hooks.

`tests/charms/ops-sidecar` adds its layer on `web-pebble-ready` and goes active once the
`http-up` check passes. The test then stops the service through Pebble itself (ops' own
client on the unit's socket) and sees `web-pebble-check-failed`, then starts it again and
sees `web-pebble-check-recovered`, both as the unit's status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ops

from tests.conftest import free_port
from tests.integration._conformance import CHARMS
from tests.integration.conftest import Rune, until

APP = "ops-sidecar"
UNIT = f"{APP}/0"


def workload_status(rune: Rune) -> dict[str, Any]:
    return dict(rune.status()["applications"][APP]["units"][UNIT]["workload-status"])


def status_is(rune: Rune, current: str, message: str) -> bool:
    found = workload_status(rune)
    return (found.get("current"), found.get("message")) == (current, message)


def pebble_socket(rune: Rune) -> Path:
    """The socket of the unit's `web` daemon, as the agent gave it to the daemon."""
    (pid_file,) = (rune.home / "machines").glob(f"*/*/units/{APP}-0/containers/web/pebble.pid")
    pid = pid_file.read_text().strip()
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    (socket,) = [v[len(b"PEBBLE_SOCKET=") :] for v in environ if v.startswith(b"PEBBLE_SOCKET=")]
    return Path(socket.decode())


def test_sidecar_charm_check_events_on_the_local_substrate(rune: Rune) -> None:
    port = free_port()
    serving = f"serving on port {port}"
    rune("bootstrap")
    # No --resource: the oci-image resource is only recorded off Kubernetes.
    rune("deploy", str(CHARMS / APP), "--config", f"port={port}")
    until(rune, "default", "active", lambda: status_is(rune, "active", serving))

    client = ops.pebble.Client(socket_path=str(pebble_socket(rune)))
    assert client.get_services(["http"])[0].is_running()
    client.stop_services(["http"])
    until(
        rune,
        "default",
        "check-failed",
        lambda: status_is(rune, "maintenance", "check failed: http-up"),
    )
    client.start_services(["http"])
    until(rune, "default", "check-recovered", lambda: status_is(rune, "active", serving))

    log = rune("debug-log", "--replay", "--no-tail", "-i", UNIT).stdout
    for hook in ("web-pebble-ready", "web-pebble-check-failed", "web-pebble-check-recovered"):
        assert f'running hook "{hook}"' in log, hook
    assert "cannot reach Pebble" not in log
