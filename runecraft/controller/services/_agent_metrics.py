"""Machine agents' own metrics, merged into the controller's running totals.

An agent sends its figures whole and cumulative since its process started (its boot),
numbered per boot (`runecraft.schemas.metrics`). The book keeps, per agent, the last message
it took; a newer one of the same boot adds what moved since, one of a new boot (the agent
restarted, or this controller did) adds its values whole, and an older or repeated one adds
nothing. So totals only grow, whatever is lost or sent twice, and hooks of every agent add
up in one histogram per (charm, hook, outcome).

A message that cannot be right is refused whole with an error naming what is wrong, and
changes nothing: one sent on behalf of another agent, one whose counts went down within a
boot, or one whose new series would take the controller past `MAX_SERIES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runecraft import errors
from runecraft.schemas import bus, metrics

__all__ = ["MAX_SERIES", "AgentMetricsBook", "HookTotals", "SeriesKey"]

MAX_SERIES = 4096
"""Distinct (charm, hook, outcome) histograms the controller keeps for all agents together;
a scrape stays small however many charms run."""

SeriesKey = tuple[str, str, str]
"""(charm, hook, outcome)."""


@dataclass
class HookTotals:
    """One histogram's totals: a count per bucket (`+Inf` last, not cumulative) and the sum."""

    buckets: list[int] = field(default_factory=lambda: [0] * (len(metrics.HOOK_BUCKETS) + 1))
    sum: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.buckets)


@dataclass(frozen=True)
class _Taken:
    """The last message taken from an agent, by series."""

    boot: str
    seq: int
    connects: int
    hooks: dict[SeriesKey, bus.HookTimings]


def _key(timings: bus.HookTimings) -> SeriesKey:
    return (timings.charm, timings.hook, timings.outcome)


def _name(key: SeriesKey) -> str:
    return f"hook {key[1]} of charm {key[0]} ({key[2]})"


class AgentMetricsBook:
    """The controller's totals of what its agents counted."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self.hooks: dict[SeriesKey, HookTotals] = {}
        """Hook durations of every agent together."""
        self.connects: dict[str, int] = {}
        """Bus sessions each agent established."""
        self.hooks_run: dict[tuple[str, str], int] = {}
        """Hooks each agent ran, by (agent, outcome)."""
        self._taken: dict[str, _Taken] = {}

    def take(self, agent: str, message: bus.AgentMetrics) -> bool:
        """Add what `message` (from `agent`'s topic) moved; False: it was stale or repeated.
        Raises `errors.InvalidSpecError` naming what is wrong, having changed nothing."""
        if message.agent != agent:
            raise errors.InvalidSpecError(
                f'metrics message names agent "{message.agent}" but came from agent "{agent}"'
            )
        last = self._taken.get(agent)
        if last is not None and last.boot != message.boot:
            last = None  # a new boot: its values are new, whole
        elif last is not None and message.seq <= last.seq:
            return False
        hooks = {_key(timings): timings for timings in message.hooks}
        if last is not None:
            _check_grew(last, message, hooks)
        new = [key for key in hooks if key not in self.hooks]
        if len(self.hooks) + len(new) > self.max_series:
            raise errors.InvalidSpecError(
                f"metrics message adds {len(new)} hook series to {len(self.hooks)}: more "
                f"than the {self.max_series} the controller keeps"
            )
        self._add(agent, message, hooks, last)
        self._taken[agent] = _Taken(message.boot, message.seq, message.connects, hooks)
        return True

    def _add(
        self,
        agent: str,
        message: bus.AgentMetrics,
        hooks: dict[SeriesKey, bus.HookTimings],
        last: _Taken | None,
    ) -> None:
        before = last.connects if last is not None else 0
        self.connects[agent] = self.connects.get(agent, 0) + message.connects - before
        for key, timings in hooks.items():
            earlier = last.hooks.get(key) if last is not None else None
            totals = self.hooks.setdefault(key, HookTotals())
            moved = 0
            for index, count in enumerate(timings.buckets):
                step = count - (earlier.buckets[index] if earlier is not None else 0)
                totals.buckets[index] += step
                moved += step
            totals.sum += timings.sum - (earlier.sum if earlier is not None else 0.0)
            ran = (agent, key[2])
            self.hooks_run[ran] = self.hooks_run.get(ran, 0) + moved

    def forget(self, agent: str) -> None:
        """An agent's machine is gone: its own counters go (its hooks stay in the totals)."""
        self._taken.pop(agent, None)
        self.connects.pop(agent, None)
        for ran in [ran for ran in self.hooks_run if ran[0] == agent]:
            del self.hooks_run[ran]


def _check_grew(
    last: _Taken, message: bus.AgentMetrics, hooks: dict[SeriesKey, bus.HookTimings]
) -> None:
    """Within a boot every count only grows and no series goes away."""
    if message.connects < last.connects:
        raise errors.InvalidSpecError(
            f"metrics message of boot {message.boot}: connects went down from "
            f"{last.connects} to {message.connects}"
        )
    for key, earlier in last.hooks.items():
        now = hooks.get(key)
        if now is None:
            raise errors.InvalidSpecError(
                f"metrics message of boot {message.boot} lacks {_name(key)}, "
                f"counted before ({sum(earlier.buckets)} runs)"
            )
        shrunk = now.sum < earlier.sum or any(
            count < before for count, before in zip(now.buckets, earlier.buckets, strict=True)
        )
        if shrunk:
            raise errors.InvalidSpecError(
                f"metrics message of boot {message.boot}: counts of {_name(key)} went down "
                f"(buckets {list(earlier.buckets)} to {list(now.buckets)})"
            )
