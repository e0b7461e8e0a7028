"""Hook tools, one module per family, all registered in one table.

* `basic` — `juju-log`, `status-set/get`, `application-version-set`, `is-leader`, `config-get`
* `relation` — `relation-ids/list/get/set`, `relation-model-get`
* `state` — `state-get/set/delete`, `leader-get/set`
* `action` — `action-get/set/fail/log`
* `network` — `open-port/close-port/opened-ports`, `network-get`, `unit-get`, `goal-state`,
  `credential-get`, `juju-reboot`
* `secret` — `secret-add/get/set/info-get/ids/grant/revoke/remove`
* `storage` — `storage-list/get/add`
* `resource` — `resource-get`

`TOOLS` is the table (the tools dir gets one symlink per entry) and `invoke` runs one call
against a `HookContext`.
"""

from __future__ import annotations

from runecraft.agents.tools import (
    action,
    basic,
    network,
    relation,
    resource,
    secret,
    state,
    storage,
)
from runecraft.agents.tools._registry import TOOLS, ToolCall, ToolResult, ToolSpec, invoke

__all__ = [
    "TOOLS",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "action",
    "basic",
    "invoke",
    "network",
    "relation",
    "resource",
    "secret",
    "state",
    "storage",
]
