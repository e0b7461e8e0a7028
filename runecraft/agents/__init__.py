"""Machine and unit agents: the process on each machine that runs charms' hooks.

`machine.MachineAgent` talks to the controller over the bus and runs one
`unit.UnitAgent` task per unit; a unit agent asks the pure resolver (`uniter.next_op`) for
its next operation, runs hooks through `hookrunner` with the hook tools of `hooktools`
served on a per-unit socket, and persists every operation step. Run the machine agent
with `python -m runecraft.agents --config <machine dir>/agent.json`.
"""

from __future__ import annotations

__all__: list[str] = []
