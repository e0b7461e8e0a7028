#!/usr/bin/env python3
"""Secrets test charm: an owner shares an application secret, a reader follows it.

The same file is the charm of `ops-secrets-owner` and `ops-secrets-reader`; the role comes
from the metadata (`provides: vault` or `requires: vault`). Each handled event is appended
as one JSON line to `<record-dir>/<app>-<n>.jsonl` (config `record-dir`) holding `kind`,
`name`, `env` (the `JUJU_*` variables), `leader` and `data` (what the handler saw).

Owner: the leader keeps one application secret labelled `shared` with content
`{"password": <config password>}`, grants it on every `vault` relation and publishes its id
as `secret-id` in the application databag. `secret-remove` removes the revision it names.

Reader: reads the secret named by the owner's `secret-id` in every hook (labelling it
`vault`), refreshes on `secret-changed`, and shows `password=<value>` as its status. On
`config-changed` it also reads the user secret whose URI is config `user-secret`. The
`probe` action reads an unknown secret and adds an application secret, and reports how each
failed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import ops

LABEL = "shared"
READER_LABEL = "vault"


class SecretsCharm(ops.CharmBase):
    """Owner or reader of `secret-share`, depending on the metadata."""

    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.owner = "vault" in self.meta.provides
        for bound in self.on.events().values():
            if issubclass(bound.event_type, ops.HookEvent):
                framework.observe(bound, self._on_hook)
        if "probe" in self.meta.actions:
            framework.observe(self.on.probe_action, self._on_probe)

    def _record(self, **fields: Any) -> None:
        record_dir = str(self.config.get("record-dir") or "")
        if not record_dir:
            return
        kind, _, name = os.environ.get("JUJU_DISPATCH_PATH", "").partition("/")
        env = {k: v for k, v in os.environ.items() if k.startswith("JUJU_")}
        line = json.dumps(
            {
                "unit": self.unit.name,
                "kind": kind,
                "name": name,
                "env": env,
                "leader": self.unit.is_leader(),
                **fields,
            },
            sort_keys=True,
        )
        target = pathlib.Path(record_dir) / f"{self.unit.name.replace('/', '-')}.jsonl"
        with target.open("a") as out:
            out.write(line + "\n")

    # --- hooks ----------------------------------------------------------------------------

    def _on_hook(self, event: ops.HookEvent) -> None:
        data = self._owner(event) if self.owner else self._reader(event)
        self._record(data=data)

    def _owner(self, event: ops.HookEvent) -> dict[str, Any]:
        if isinstance(event, ops.SecretRemoveEvent):
            event.remove_revision()
            return {"removed": event.revision}
        self.unit.status = ops.ActiveStatus("sharing")
        if not self.unit.is_leader():
            return {}
        content = {"password": str(self.config["password"])}
        try:
            secret = self.model.get_secret(label=LABEL)
        except ops.SecretNotFoundError:
            secret = self.app.add_secret(content, label=LABEL, description="shared password")
        else:
            if secret.get_content() != content:
                secret.set_content(content)
        secret_id = secret.id or secret.get_info().id
        for relation in self.model.relations["vault"]:
            secret.grant(relation)
            bag = relation.data[self.app]
            if bag.get("secret-id") != secret_id:
                bag["secret-id"] = secret_id
        return {"secret-id": secret_id, "content": content}

    def _reader(self, event: ops.HookEvent) -> dict[str, Any]:
        content: dict[str, str] | None = None
        data: dict[str, Any] = {}
        if isinstance(event, ops.SecretChangedEvent):
            data["label"] = event.secret.label
            data["content"] = event.secret.get_content(refresh=True)
            if event.secret.label == READER_LABEL:
                self.unit.status = ops.ActiveStatus(f"password={data['content'].get('password')}")
            return data
        if isinstance(event, ops.ConfigChangedEvent) and self.config.get("user-secret"):
            user = self.model.get_secret(id=str(self.config["user-secret"]))
            data["user-secret"] = user.get_content()
        relation = self.model.get_relation("vault")
        if relation is not None:
            secret_id = relation.data[relation.app].get("secret-id") if relation.app else None
            if secret_id:
                content = self.model.get_secret(id=secret_id, label=READER_LABEL).get_content()
        if content is None:
            self.unit.status = ops.ActiveStatus("no secret")
            return data
        self.unit.status = ops.ActiveStatus(f"password={content.get('password')}")
        data["content"] = content
        return data

    # --- actions --------------------------------------------------------------------------

    def _on_probe(self, event: ops.ActionEvent) -> None:
        missing = str(event.params["missing"])
        results: dict[str, Any] = {}
        try:
            self.model.get_secret(id=missing)
            results["get"] = "found"
        except ops.SecretNotFoundError:
            results["get"] = "SecretNotFoundError"
        tool = subprocess.run(["secret-get", missing], capture_output=True, text=True, check=False)
        results["tool-code"] = str(tool.returncode)
        results["tool-stderr"] = tool.stderr.strip()
        try:
            self.app.add_secret({"stolen": "value"}, label="probe")
            results["add"] = "added"
        except ops.ModelError as exc:
            results["add"] = str(exc).strip()
        results["ids"] = json.dumps(
            json.loads(subprocess.check_output(["secret-ids", "--format=json"], text=True))
        )
        event.set_results(results)


if __name__ == "__main__":  # pragma: nocover
    ops.main(SecretsCharm)
