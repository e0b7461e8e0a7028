"""The stateful half of the agent: state, plan, services and checks, wired together."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from . import _checks, _planstate, _services, _state

__all__ = ["Runtime"]


def _stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class Runtime:
    """One daemon's runtime: `$PEBBLE/layers` for base layers, `environment` for what
    services and exec checks inherit, `output` for the services' output (the daemon's
    stdout by default). Notices are kept in `$PEBBLE` too; `clock` is for tests."""

    def __init__(
        self,
        pebble_dir: Path,
        environment: Mapping[str, str],
        output: _services.Output | None = _stdout,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        path = pebble_dir / _state.NOTICES_FILE
        if clock is None:
            self.state = _state.State(path=path)
        else:
            self.state = _state.State(path=path, clock=clock)
        self.plans = _planstate.PlanManager(pebble_dir / "layers")
        self.services = _services.ServiceManager(self.state, environment, output)
        self.checks = _checks.CheckManager(self.state, environment)
        self.plans.add_listener(self.services.plan_changed)
        self.plans.add_listener(self.checks.plan_changed)
        self.checks.add_failure_handler(self.services.check_failed)

    async def start(self, hold: bool) -> None:
        """Load the base layers (`PlanError` if invalid) and, unless `hold`, start the
        `startup: enabled` services (their change runs in the background). The notices of
        the last run are read back first."""
        self.state.load()
        self.plans.load()
        if not hold:
            self.services.autostart_at_boot()

    async def stop(self) -> None:
        """Stop every service (SIGTERM, SIGKILL after the kill-delay), then every task."""
        await self.services.stop_all()
        await self.state.close()
