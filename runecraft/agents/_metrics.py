"""The machine agent's own figures: hook durations by charm, hook and outcome, and bus
sessions, counted in memory and sent whole to the controller now and then.

Counting is a few dictionary updates per hook; nothing is written to disk. What is sent is
cumulative since the agent process started (its `boot`), numbered per boot, so the
controller can take a lost or repeated message in its stride (`runecraft.schemas.metrics`).
The message is encoded here with the standard library, in the bus envelope
(`runecraft.schemas.bus.AgentMetrics` is its schema): neither pydantic nor a metrics library
is needed for it.
"""

from __future__ import annotations

import bisect
import json
import secrets

from runecraft import _logging
from runecraft.schemas import metrics

__all__ = ["AgentMeter"]

logger = _logging.get_logger(__name__)


class _Timings:
    """One series: a count per bucket (`+Inf` last) and the sum of the durations."""

    __slots__ = ("buckets", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(metrics.HOOK_BUCKETS) + 1)
        self.sum = 0.0


class AgentMeter:
    """Counts what one machine agent does, and says it as an `agent-metrics` message."""

    def __init__(self, agent: str, boot: str | None = None) -> None:
        self.agent = agent
        self.boot = boot or secrets.token_hex(8)
        self.connects = 0
        self._hooks: dict[tuple[str, str, str], _Timings] = {}
        self._seq = 0
        self._warned = False
        self.unsent = False
        """Something was counted since the last message was made."""

    def connected(self) -> None:
        """The agent's bus session (re)started."""
        self.connects += 1
        self.unsent = True

    def hook_ran(self, charm: str, hook: str, outcome: str, seconds: float) -> None:
        """A hook of `charm` ended with `outcome` (`metrics.HOOK_OUTCOMES`) after `seconds`."""
        key = (charm, hook, outcome)
        timings = self._hooks.get(key)
        if timings is None:
            timings = self._series(key)
        timings.buckets[bisect.bisect_left(metrics.HOOK_BUCKETS, seconds)] += 1
        timings.sum += max(seconds, 0.0)
        self.unsent = True

    def _series(self, key: tuple[str, str, str]) -> _Timings:
        charm, hook, outcome = (part[: metrics.MAX_LABEL_LENGTH] or "-" for part in key)
        if len(self._hooks) >= metrics.MAX_HOOK_SERIES - len(metrics.HOOK_OUTCOMES):
            if not self._warned:
                self._warned = True
                logger.warning(
                    "too many hook series; counting new ones as hook other",
                    series=len(self._hooks),
                )
            charm, hook = "other", metrics.OTHER_HOOK
        return self._hooks.setdefault((charm, hook, outcome), _Timings())

    def hooks_run(self) -> int:
        """Hooks counted since the agent started."""
        return sum(sum(timings.buckets) for timings in self._hooks.values())

    def message(self) -> bytes:
        """Everything counted so far as one bus message (the next number of this boot)."""
        self._seq += 1
        self.unsent = False
        body = {
            "kind": "agent-metrics",
            "agent": self.agent,
            "boot": self.boot,
            "seq": self._seq,
            "connects": self.connects,
            "hooks": [
                {
                    "charm": charm,
                    "hook": hook,
                    "outcome": outcome,
                    "buckets": list(timings.buckets),
                    "sum": timings.sum,
                }
                for (charm, hook, outcome), timings in self._hooks.items()
            ],
        }
        return json.dumps({"v": 1, "body": body}, separators=(",", ":")).encode()
