#!/usr/bin/env python3
"""The `hello-sidecar` charm: a Pebble layer with an HTTP service and a check on it."""

from __future__ import annotations

import logging
import socket
import time

import ops

logger = logging.getLogger(__name__)

CONTAINER = "web"
SERVICE = "web"
CHECK = "web-up"
CHECK_WAIT = 30.0
"""Longest `web-pebble-ready` waits for the check's first success."""


class HelloSidecarCharm(ops.CharmBase):
    """Active once the web check has passed; maintenance while it fails."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self._stored.set_default(port=0)
        framework.observe(self.on.web_pebble_ready, self._on_pebble_ready)
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on.web_pebble_check_failed, self._on_check_failed)
        framework.observe(self.on.web_pebble_check_recovered, self._on_check_recovered)
        framework.observe(self.on.stop_web_action, self._on_stop_web)
        framework.observe(self.on.start_web_action, self._on_start_web)

    @property
    def _port(self) -> int:
        base = int(self.config.get("port", 0))
        if base:
            return base + int(self.unit.name.split("/")[1])
        if not self._stored.port:  # chosen once, so the layer stays the same
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self._stored.port = probe.getsockname()[1]
        return int(self._stored.port)

    def _layer(self) -> ops.pebble.LayerDict:
        return {
            "summary": "hello-sidecar",
            "services": {
                SERVICE: {
                    "override": "replace",
                    "summary": "the working directory over HTTP",
                    "command": f"python3 -m http.server {self._port} --bind 127.0.0.1",
                    "startup": "enabled",
                }
            },
            "checks": {
                CHECK: {
                    "override": "replace",
                    "level": "ready",
                    "period": "1s",
                    "threshold": 2,
                    "http": {"url": f"http://127.0.0.1:{self._port}/"},
                }
            },
        }

    def _configure(self) -> bool:
        """Add the layer and replan; False if Pebble is not there yet."""
        container = self.unit.get_container(CONTAINER)
        if not container.can_connect():
            self.unit.status = ops.WaitingStatus("waiting for Pebble")
            return False
        container.add_layer("hello-sidecar", self._layer(), combine=True)
        container.replan()
        return True

    def _on_pebble_ready(self, event: ops.PebbleReadyEvent) -> None:
        if not self._configure():
            return
        container = event.workload
        deadline = time.monotonic() + CHECK_WAIT
        while time.monotonic() < deadline:
            info = container.get_checks(CHECK).get(CHECK)
            if info is not None and info.status == ops.pebble.CheckStatus.UP and info.successes:
                self.unit.status = ops.ActiveStatus(f"serving on port {self._port}")
                return
            time.sleep(0.2)
        self.unit.status = ops.WaitingStatus(f"check {CHECK} has not passed yet")

    def _on_config_changed(self, event: ops.ConfigChangedEvent) -> None:
        if self._configure():
            self.unit.status = ops.ActiveStatus(f"serving on port {self._port}")

    def _on_check_failed(self, event: ops.PebbleCheckFailedEvent) -> None:
        logger.info("check %s failed", event.info.name)
        self.unit.status = ops.MaintenanceStatus(f"check failed: {event.info.name}")

    def _on_check_recovered(self, event: ops.PebbleCheckRecoveredEvent) -> None:
        logger.info("check %s recovered", event.info.name)
        self.unit.status = ops.ActiveStatus(f"serving on port {self._port}")

    def _on_stop_web(self, event: ops.ActionEvent) -> None:
        self.unit.get_container(CONTAINER).stop(SERVICE)
        event.set_results({"stopped": SERVICE})

    def _on_start_web(self, event: ops.ActionEvent) -> None:
        self.unit.get_container(CONTAINER).start(SERVICE)
        event.set_results({"started": SERVICE})


if __name__ == "__main__":  # pragma: nocover
    ops.main(HelloSidecarCharm)
