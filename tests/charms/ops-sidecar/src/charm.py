#!/usr/bin/env python3
"""A sidecar charm: a Pebble layer with an HTTP service and a check on it."""

from __future__ import annotations

import time

import ops

SERVICE = "http"
CHECK = "http-up"
CHECK_WAIT = 30.0
"""Longest `web-pebble-ready` waits for the check's first success."""


class SidecarCharm(ops.CharmBase):
    """Active while the check is up; maintenance while it is down."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        framework.observe(self.on.web_pebble_ready, self._on_pebble_ready)
        framework.observe(self.on.web_pebble_check_failed, self._on_check_failed)
        framework.observe(self.on.web_pebble_check_recovered, self._on_check_recovered)

    @property
    def _port(self) -> int:
        return int(self.config["port"])

    def _layer(self) -> ops.pebble.LayerDict:
        url = f"http://127.0.0.1:{self._port}/"
        return {
            "summary": "ops-sidecar",
            "services": {
                SERVICE: {
                    "override": "replace",
                    "command": f"python3 -m http.server {self._port} --bind 127.0.0.1",
                    "startup": "enabled",
                }
            },
            "checks": {
                CHECK: {
                    "override": "replace",
                    "period": "0.5s",
                    "threshold": 1,
                    "http": {"url": url},
                }
            },
        }

    def _on_pebble_ready(self, event: ops.PebbleReadyEvent) -> None:
        container = event.workload
        container.add_layer("ops-sidecar", self._layer(), combine=True)
        container.replan()
        deadline = time.monotonic() + CHECK_WAIT
        while time.monotonic() < deadline:
            info = container.get_checks(CHECK).get(CHECK)
            if info is not None and info.status == ops.pebble.CheckStatus.UP and info.successes:
                self.unit.status = ops.ActiveStatus(f"serving on port {self._port}")
                return
            time.sleep(0.1)
        self.unit.status = ops.WaitingStatus(f"check {CHECK} has not passed yet")

    def _on_check_failed(self, event: ops.PebbleCheckFailedEvent) -> None:
        self.unit.status = ops.MaintenanceStatus(f"check failed: {event.info.name}")

    def _on_check_recovered(self, event: ops.PebbleCheckRecoveredEvent) -> None:
        self.unit.status = ops.ActiveStatus(f"serving on port {self._port}")


if __name__ == "__main__":  # pragma: nocover
    ops.main(SidecarCharm)
