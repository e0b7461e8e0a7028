#!/usr/bin/env python3
"""The `hello` charm: greets with its configured greeting, as an active status."""

from __future__ import annotations

import logging

import ops

logger = logging.getLogger(__name__)

WORKLOAD_VERSION = "1.0"


class HelloCharm(ops.CharmBase):
    """Active with the greeting as its message once started."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        framework.observe(self.on.install, self._on_install)
        framework.observe(self.on.config_changed, self._on_config_changed)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.leader_elected, self._on_leader_elected)
        framework.observe(self.on.greet_action, self._on_greet_action)

    @property
    def _greeting(self) -> str:
        return str(self.config.get("greeting", "hello"))

    def _on_install(self, event: ops.InstallEvent) -> None:
        self.unit.status = ops.MaintenanceStatus("installing")
        self.unit.set_workload_version(WORKLOAD_VERSION)
        logger.info("installed hello %s", WORKLOAD_VERSION)

    def _on_config_changed(self, event: ops.ConfigChangedEvent) -> None:
        self.unit.status = ops.ActiveStatus(self._greeting)

    def _on_start(self, event: ops.StartEvent) -> None:
        self.unit.set_workload_version(WORKLOAD_VERSION)
        self.unit.status = ops.ActiveStatus(self._greeting)

    def _on_leader_elected(self, event: ops.LeaderElectedEvent) -> None:
        logger.info("leader elected; is_leader=%s", self.unit.is_leader())

    def _on_greet_action(self, event: ops.ActionEvent) -> None:
        name = event.params.get("name")
        greeting = f"{self._greeting}, {name}" if name else self._greeting
        greeting = " ".join([greeting] * int(self.config.get("repeat", 1)))
        event.log(f"greeting {name or 'everyone'}")
        event.set_results({"greeting": greeting})


if __name__ == "__main__":  # pragma: nocover
    ops.main(HelloCharm)
