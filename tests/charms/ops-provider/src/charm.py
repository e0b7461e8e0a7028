#!/usr/bin/env python3
"""Conformance test charm: records every event it handles, exchanges data over a relation.

The same file is the charm of `ops-provider` and `ops-requirer`; the role comes from the
metadata (`provides: source` or `requires: sink`). Each handled event is appended as one JSON
line to `events.log` in the charm dir and, when config `record-dir` is set, to
`<record-dir>/<app>-<n>.jsonl`. A line holds:

- `kind` (`hooks` or `actions`) and `name`: from `JUJU_DISPATCH_PATH`, as ops dispatches;
- `env`: every `JUJU_*` variable the agent exported, plus `CHARM_DIR` (absent ≠ empty);
- `leader`, `count` (the StoredState counter after this hook), `revision` (the `REVISION`
  file of the charm, "1" when absent), `failing` (the hook is about to fail on purpose);
- `view`: in relation hooks other than `-broken`, what the unit reads of the relation —
  `{"app": <remote app bag>, "units": {<remote unit>: <bag>}}` (peers: the own app bag);
- `data`: action params, or other event-specific data.

Every unit writes `{"unit-name": <unit>}` to its bag in each relation; the leader writes
`{"token": <config>, "leader": <unit>}` (provider) or `{"client": <app>, "leader": <unit>}`
(requirer) to the app bag of `source`/`sink`, and `{"leader": <unit>}` to the peer app bag.
The unit's active status is `saw <key>=<value> from <n> units` where `key` is `client` on
the provider and `token` on the requirer, or `not related`.

Config `fail-hook=<hook>` makes that hook raise after recording it.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from typing import Any

import ops

logger = logging.getLogger(__name__)

PEERS = "peers"


class ConformanceCharm(ops.CharmBase):
    """Provider or requirer of `conformance`, depending on the metadata."""

    _stored = ops.StoredState()

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self._stored.set_default(count=0)
        self.provider = "source" in self.meta.provides
        self.endpoint = "source" if self.provider else "sink"
        self.remote_key = "client" if self.provider else "token"
        for bound in self.on.events().values():
            if issubclass(bound.event_type, ops.HookEvent):
                framework.observe(bound, self._on_hook)
        if "echo" in self.meta.actions:
            framework.observe(self.on.echo_action, self._on_echo)
            framework.observe(self.on.fail_action, self._on_fail)
            framework.observe(self.on.crash_action, self._on_crash)

    # --- recording ------------------------------------------------------------------------

    @property
    def _revision(self) -> str:
        path = self.charm_dir / "REVISION"
        return path.read_text().strip() if path.exists() else "1"

    def _record(self, **fields: Any) -> None:
        kind, _, name = os.environ.get("JUJU_DISPATCH_PATH", "").partition("/")
        env = {k: v for k, v in os.environ.items() if k.startswith("JUJU_") or k == "CHARM_DIR"}
        line = json.dumps(
            {
                "unit": self.unit.name,
                "kind": kind,
                "name": name,
                "env": env,
                "leader": self.unit.is_leader(),
                "count": self._stored.count,
                "revision": self._revision,
                **fields,
            },
            sort_keys=True,
        )
        targets = [self.charm_dir / "events.log"]
        record_dir = str(self.config.get("record-dir") or "")
        if record_dir:
            targets.append(pathlib.Path(record_dir) / f"{self.unit.name.replace('/', '-')}.jsonl")
        for target in targets:
            with target.open("a") as out:
                out.write(line + "\n")

    @staticmethod
    def _view(relation: ops.Relation) -> dict[str, Any]:
        view: dict[str, Any] = {"app": None, "units": {}}
        try:
            if relation.app is not None:
                view["app"] = dict(relation.data[relation.app])
            for unit in sorted(relation.units, key=lambda u: u.name):
                view["units"][unit.name] = dict(relation.data[unit])
        except ops.ModelError as exc:
            view["error"] = str(exc)
        return view

    # --- hooks ----------------------------------------------------------------------------

    def _on_hook(self, event: ops.HookEvent) -> None:
        hook = os.environ.get("JUJU_DISPATCH_PATH", "").rpartition("/")[2]
        self._stored.count += 1
        failing = hook == self.config.get("fail-hook")
        view = None
        if isinstance(event, ops.RelationEvent) and not isinstance(event, ops.RelationBrokenEvent):
            view = self._view(event.relation)
        self._record(failing=failing, view=view)
        if failing:
            raise RuntimeError(f"failing {hook} on purpose")

        ending = isinstance(event, ops.RelationBrokenEvent | ops.RelationDepartedEvent)
        if isinstance(event, ops.RelationEvent) and not ending:
            self._publish(event.relation)
        elif isinstance(event, ops.LeaderElectedEvent | ops.ConfigChangedEvent):
            for name in (PEERS, self.endpoint):
                for relation in self.model.relations[name]:
                    self._publish(relation)
        leaving = os.environ.get("JUJU_DEPARTING_UNIT") == self.unit.name or (
            isinstance(event, ops.RelationBrokenEvent) and event.relation.name == PEERS
        )
        if not leaving and not isinstance(event, ops.StopEvent | ops.RemoveEvent):
            self.unit.status = ops.ActiveStatus(self._message())

    def _app_data(self, relation: ops.Relation) -> dict[str, str]:
        if relation.name == PEERS:
            return {"leader": self.unit.name}
        if self.provider:
            return {"token": str(self.config["token"]), "leader": self.unit.name}
        return {"client": self.app.name, "leader": self.unit.name}

    def _publish(self, relation: ops.Relation) -> None:
        """Write what this unit (and, when leading, its app) publishes; only what differs."""
        own = relation.data[self.unit]
        if own.get("unit-name") != self.unit.name:
            own["unit-name"] = self.unit.name
        if self.unit.is_leader():
            app = relation.data[self.app]
            wanted = self._app_data(relation)
            if any(app.get(k) != v for k, v in wanted.items()):
                app.update(wanted)

    def _message(self) -> str:
        relation = self.model.get_relation(self.endpoint)
        if relation is None or relation.app is None:
            return "not related"
        value = relation.data[relation.app].get(self.remote_key, "?")
        seen = sum(1 for u in relation.units if relation.data[u].get("unit-name") == u.name)
        return f"saw {self.remote_key}={value} from {seen} units"

    # --- actions --------------------------------------------------------------------------

    def _on_echo(self, event: ops.ActionEvent) -> None:
        self._record(data={"params": dict(event.params)})
        message = str(event.params["message"])
        times = int(event.params["times"])
        event.log(f"echoing {message} {times} times")
        event.set_results(
            {
                "echoed": " ".join([message] * times),
                "params": {"message": message, "times": str(times)},
                "count": str(self._stored.count),
                "revision": self._revision,
            }
        )
        print(f"echo: {message}")

    def _on_fail(self, event: ops.ActionEvent) -> None:
        self._record(data={"params": dict(event.params)})
        event.set_results({"partial": "yes"})
        event.log("about to fail")
        event.fail("told to fail")

    def _on_crash(self, event: ops.ActionEvent) -> None:
        self._record(data={"params": dict(event.params)})
        event.log("about to crash")
        raise RuntimeError("crashed on purpose")


if __name__ == "__main__":  # pragma: nocover
    ops.main(ConformanceCharm)
