"""A sidecar charm end to end, on the local substrate and on Kubernetes: the example
`hello-sidecar` (ops, one `web` container) adds a Pebble layer on `web-pebble-ready`,
replans, and goes active once its HTTP check has passed; stopping the service through an
action makes Pebble's check fail (`web-pebble-check-failed`), starting it again makes it
recover (`web-pebble-check-recovered`). The charm is unmodified Juju code: the same
archive runs on both substrates."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import free_port
from tests.integration.conftest import EXAMPLES, Rune, until
from tests.k8s_cluster import ThreadedKubeCluster

APP = "hello-sidecar"
UNIT = f"{APP}/0"


def unit_status(rune: Rune, model: str) -> dict[str, Any]:
    units = rune.status("-m", model)["applications"][APP]["units"]
    return dict(units[UNIT]["workload-status"])


def status_is(rune: Rune, model: str, current: str, message: str) -> bool:
    found = unit_status(rune, model)
    return found.get("current") == current and found.get("message") == message


def check_fails_and_recovers(rune: Rune, model: str, port: int) -> None:
    serving = f"serving on port {port}"
    assert status_is(rune, model, "active", serving), unit_status(rune, model)

    rune("-m", model, "run", UNIT, "stop-web", "--wait", "2m")
    until(
        rune,
        model,
        "check-failed",
        lambda: status_is(rune, model, "maintenance", "check failed: web-up"),
    )
    rune("-m", model, "run", UNIT, "start-web", "--wait", "2m")
    until(rune, model, "check-recovered", lambda: status_is(rune, model, "active", serving))

    log = rune("-m", model, "debug-log", "--replay", "--no-tail", "-i", UNIT).stdout
    for hook in ("web-pebble-ready", "web-pebble-check-failed", "web-pebble-check-recovered"):
        assert f'running hook "{hook}"' in log, hook
    assert "cannot reach Pebble" not in log


def test_sidecar_charm_on_the_local_substrate(rune: Rune) -> None:
    port = free_port()
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / APP), "--config", f"port={port}")
    rune("wait", "--timeout", "5m")
    check_fails_and_recovers(rune, "default", port)
    # The oci-image resource is recorded and shown, not pulled, off Kubernetes.
    shown = rune("resources", APP, "--format", "json").stdout
    (image,) = json.loads(shown)["resources"]
    assert (image["name"], image["origin"], image["image"]) == (
        "web-image",
        "upstream",
        "python:3.12-slim",
    )


def test_sidecar_charm_on_k8s(rune: Rune, k8s_cluster: ThreadedKubeCluster) -> None:
    port = free_port()
    rune("bootstrap")
    rune("add-k8s", "test-k8s", "--kubeconfig", str(k8s_cluster.kubeconfig))
    rune("add-model", "side", "--cloud", "test-k8s")
    rune("-m", "side", "deploy", str(EXAMPLES / APP), "--config", f"port={port}")
    rune("-m", "side", "wait", "--timeout", "5m")
    check_fails_and_recovers(rune, "side", port)
