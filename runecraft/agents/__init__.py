"""Machine and unit agents: the process on each machine that runs charms' hooks.

Public modules (import the module, then use its names):

* `machine` — `MachineAgent`: talks to the controller over the bus, runs one unit agent
  task per unit; `python -m runecraft.agents --config <machine dir>/agent.json` runs it.
* `unit` — `UnitAgent`: drives one unit through its hooks and actions, persisting every
  operation step and sending each hook's buffered writes as one exactly-once `HookCommit`;
  `Outbox` and `CharmSource` are the Protocols it needs; `UnitPaths` is the unit dir layout.
* `uniter` — the pure resolver `next_op(local, remote, now)`, `commit(...)`, `observe(...)`.
* `hookrunner` — runs one hook or action with Juju's environment.
* `hooktools` — the hook-tool table (`TOOLS`), the per-hook `HookContext` and `invoke`.
* `tools` — the hook tools themselves, one module per family.

Private modules: `_main` (the command line), `_relations` (per-relation state and Juju's
relation-hook order), `_context` (the hook context: cached reads, buffered writes),
`_operations` (environments, commits, action outcomes, charm deployment), `_state_store`
(atomic `state.json`, written off the event loop),
`_toolserver` (the per-unit socket and tools dir), `_hooktool` (the hook-tool client's wire
format, and the stdlib-only client installed as every tool where there is no perl;
`jujuc.pl` is the one installed where there is), `_forkserver` and `_zygote` (ops hooks
forked from a process with `ops` imported), `_toolargs` (GNU flags and Juju output
formats), `_logship` (log shipping for `debug-log`), `_charm_source` (charm download over
HTTP), `_unitlog` (the unit log), `_leftovers` (process groups on record, so a restarted
agent kills the hooks a killed one left running), `_pebble_daemon` (local Pebble daemons,
adopted across agent restarts), `_metrics` (the agent's own counters and hook-duration
buckets, sent to the controller as `agent-metrics`; standard library only). The bus link is
`runecraft.bus.BusClient`.
"""

from __future__ import annotations

__all__ = ["hookrunner", "hooktools", "machine", "tools", "unit", "uniter"]
