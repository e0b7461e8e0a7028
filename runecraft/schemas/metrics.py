"""The figures a machine agent reports about itself, as both ends of the bus count them.

An agent keeps its own counters and hook-duration histogram buckets in memory, from when
its process started (a `boot`), and sends them whole in an `AgentMetrics` message now and
then: cumulative values, numbered per boot, so a lost or repeated message loses and doubles
nothing, and the controller adds to its totals only what moved since the last one it took
from that boot (a new boot adds its values whole). The controller serves the totals at
`/metrics`.

Plain constants and no imports: the machine agent reads them without loading pydantic
(`runecraft.agents._metrics`); the message's schema is `runecraft.schemas.bus.AgentMetrics`.
"""

from __future__ import annotations

__all__ = [
    "HOOK_BUCKETS",
    "HOOK_OUTCOMES",
    "MAX_HOOK_SERIES",
    "MAX_LABEL_LENGTH",
    "OTHER_HOOK",
]

HOOK_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Upper bounds (seconds) of the hook-duration buckets; a hook longer than the last falls in
`+Inf`. A message carries one count per bucket and one for `+Inf`, not cumulative."""

HOOK_OUTCOMES = ("succeeded", "failed", "missing")
"""How a hook ended: ran and exited 0, ran and failed (or could not start), or the charm has
no handler for it (skipped, as good as a success)."""

MAX_HOOK_SERIES = 512
"""Distinct (charm, hook, outcome) series one agent reports. A charm's hooks are bounded by
its metadata; past this, an agent counts further new series as hook `OTHER_HOOK`."""

MAX_LABEL_LENGTH = 128
"""Longest charm or hook name a message may carry."""

OTHER_HOOK = "other"
"""The hook label of observations an agent could not give a series of their own."""
