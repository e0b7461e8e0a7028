#!/usr/bin/env python3
"""Records storage events (and the hooks around them); reads resources on request."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import ops


class StorageCharm(ops.CharmBase):
    """Every handled event appends one JSON line to the record file."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        for name in ("data", "logs"):
            framework.observe(self.on[name].storage_attached, self._on_storage)
            framework.observe(self.on[name].storage_detaching, self._on_storage)
        framework.observe(self.on.install, self._on_hook)
        framework.observe(self.on.start, self._on_start)
        framework.observe(self.on.stop, self._on_hook)
        framework.observe(self.on.remove, self._on_hook)
        framework.observe(self.on.add_logs_action, self._on_add_logs)
        framework.observe(self.on.read_resource_action, self._on_read_resource)

    def _record(self, **fields: Any) -> None:
        directory = str(self.config.get("record-dir") or "")
        if not directory:
            return
        storages = {
            name: sorted(s.index for s in self.model.storages[name])
            for name in sorted(self.model.storages.keys())
        }
        line = {"hook": os.environ.get("JUJU_HOOK_NAME", ""), "storages": storages, **fields}
        path = pathlib.Path(directory) / f"{self.unit.name.replace('/', '-')}.jsonl"
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")

    def _on_storage(self, event: ops.StorageAttachedEvent | ops.StorageDetachingEvent) -> None:
        storage = event.storage
        location = storage.location
        if isinstance(event, ops.StorageAttachedEvent):
            (location / "attached").write_text(storage.full_id)
        self._record(
            env_id=os.environ.get("JUJU_STORAGE_ID", ""),
            name=storage.name,
            index=storage.index,
            location=str(location),
            is_dir=location.is_dir(),
        )

    def _on_hook(self, event: ops.EventBase) -> None:
        self._record()

    def _on_start(self, event: ops.StartEvent) -> None:
        self._record()
        self.unit.status = ops.ActiveStatus("ready")

    def _on_add_logs(self, event: ops.ActionEvent) -> None:
        self.model.storages.request("logs", 1)
        event.set_results({"requested": "logs"})

    def _on_read_resource(self, event: ops.ActionEvent) -> None:
        name = str(event.params["name"])
        try:
            path = self.model.resources.fetch(name)
        except (ops.ModelError, NameError) as exc:
            event.set_results({"error": type(exc).__name__, "detail": str(exc)})
            return
        event.set_results({"path": str(path), "content": path.read_text()})


if __name__ == "__main__":  # pragma: nocover
    ops.main(StorageCharm)
