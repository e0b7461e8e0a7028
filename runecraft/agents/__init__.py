"""Machine and unit agents: the process on each machine that runs charms' hooks.

Public modules (import the module, then use its names):

* `machine` — `MachineAgent`: talks to the controller over the bus, runs one unit agent
  task per unit; `python -m runecraft.agents --config <machine dir>/agent.json` runs it.
* `unit` — `UnitAgent`: drives one unit through its hooks, persisting every operation step;
  `Outbox` and `CharmSource` are the Protocols it needs; `UnitPaths` is the unit dir layout.
* `uniter` — the pure resolver `next_op(local, remote, now)` and `commit(...)`.
* `hookrunner` — runs one hook with Juju's environment.
* `hooktools` — the hook-tool table (`TOOLS`) and the per-hook `HookContext`.

Private modules: `_state_store` (atomic `state.json`), `_toolserver` (the per-unit socket
and tools dir), `_hooktool` (the stdlib-only client installed as every tool), `_toolargs`
(GNU flags and Juju output formats), `_mqtt` (the reconnecting bus link), `_charm_source`
(charm download over HTTP), `_unitlog` (the unit log).
"""

from __future__ import annotations

__all__ = ["hookrunner", "hooktools", "machine", "unit", "uniter"]
