"""The controller's metrics, served at `/metrics` in Prometheus' text format.

Each controller has a registry of its own (two may run in one process). What is timed as it
happens, reconcile passes and database statements, is observed into histograms; what the
controller merely holds (queue depths, bus traffic, connected agents) is read when scraped,
so the hot paths pay for a counter at most. Units by status come from one grouped query per
scrape. The machine agents' hook durations and counters arrive over the bus and are merged
here (`AgentMetricsBook`), so one scrape sees the whole fleet.

Names: `runecraft_reconcile_pass_duration_seconds`, `runecraft_db_statement_duration_seconds`,
`runecraft_hook_duration_seconds{charm,hook,outcome}`, `runecraft_agent_hooks_total{agent,
outcome}`, `runecraft_agent_bus_connects_total{agent}`, `runecraft_agent_metrics_refused_total`,
`runecraft_bus_messages_total{direction}`, `runecraft_bus_bytes_total{direction}`,
`runecraft_bus_messages_rejected_total`, `runecraft_queue_depth{queue}`,
`runecraft_agents_connected` and `runecraft_units{model,workload_status}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from runecraft import errors
from runecraft.controller.services._agent_metrics import AgentMetricsBook, HookTotals
from runecraft.schemas import bus, metrics

__all__ = ["BusTraffic", "MetricSources", "MetricsService"]

logger = structlog.get_logger(__name__)

PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATEMENT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class BusTraffic(Protocol):
    """Running totals of the controller's bus session (`ControllerBus.traffic`)."""

    messages_in: int
    bytes_in: int
    messages_out: int
    bytes_out: int


async def _no_units() -> list[tuple[str, str, int]]:
    return []


@dataclass(frozen=True)
class MetricSources:
    """What a scrape reads from the controller's parts (each cheap, none awaited but the
    unit counts)."""

    unit_counts: Callable[[], Awaitable[list[tuple[str, str, int]]]] = _no_units
    """(model, workload status, units) in one query (`Store.unit_counts`)."""
    queues: Mapping[str, Callable[[], int]] = field(default_factory=dict)
    """Depth of each internal queue, by name."""
    agents_connected: Callable[[], int] = lambda: 0
    bus_traffic: Callable[[], BusTraffic | None] = lambda: None
    bus_rejected: Callable[[], int] = lambda: 0
    """Agent messages refused because they could not be decoded."""


def _bound(seconds: float) -> str:
    """A bucket's `le` as Prometheus writes it (`0.5`, `1.0`, `+Inf`)."""
    return "+Inf" if seconds == float("inf") else repr(seconds)


def _histogram(family: HistogramMetricFamily, labels: list[str], totals: HookTotals) -> None:
    cumulative, buckets = 0, []
    for bound, count in zip((*metrics.HOOK_BUCKETS, float("inf")), totals.buckets, strict=True):
        cumulative += count
        buckets.append((_bound(bound), float(cumulative)))
    family.add_metric(labels, buckets, totals.sum)


class _Scraped(Collector):
    """What is read at scrape time, and the agents' merged metrics."""

    def __init__(self, service: MetricsService) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        yield from self._agents()
        yield from self._controller()

    def _agents(self) -> Iterator[Metric]:
        book = self._service.agents
        hooks = HistogramMetricFamily(
            "runecraft_hook_duration_seconds",
            "Seconds hooks ran on the machine agents, by charm, hook and outcome.",
            labels=["charm", "hook", "outcome"],
        )
        for key, totals in sorted(book.hooks.items()):
            _histogram(hooks, list(key), totals)
        yield hooks
        ran = CounterMetricFamily(
            "runecraft_agent_hooks", "Hooks each machine agent ran.", labels=["agent", "outcome"]
        )
        for (agent, outcome), count in sorted(book.hooks_run.items()):
            ran.add_metric([agent, outcome], count)
        yield ran
        connects = CounterMetricFamily(
            "runecraft_agent_bus_connects",
            "Bus sessions each machine agent established (the first and every reconnect).",
            labels=["agent"],
        )
        for agent, count in sorted(book.connects.items()):
            connects.add_metric([agent], count)
        yield connects
        yield CounterMetricFamily(
            "runecraft_agent_metrics_refused",
            "Agents' metrics messages refused as wrong (logged, nothing taken).",
            value=self._service.refused,
        )

    def _controller(self) -> Iterator[Metric]:
        sources = self._service.sources
        traffic = sources.bus_traffic()
        if traffic is not None:
            messages = CounterMetricFamily(
                "runecraft_bus_messages",
                "Messages through the controller's bus session.",
                labels=["direction"],
            )
            messages.add_metric(["in"], traffic.messages_in)
            messages.add_metric(["out"], traffic.messages_out)
            yield messages
            size = CounterMetricFamily(
                "runecraft_bus_bytes",
                "Payload bytes through the controller's bus session.",
                labels=["direction"],
            )
            size.add_metric(["in"], traffic.bytes_in)
            size.add_metric(["out"], traffic.bytes_out)
            yield size
        yield CounterMetricFamily(
            "runecraft_bus_messages_rejected",
            "Agent messages refused because they could not be decoded.",
            value=sources.bus_rejected(),
        )
        depth = GaugeMetricFamily(
            "runecraft_queue_depth", "Items waiting in the controller's queues.", labels=["queue"]
        )
        for name, read in sorted(sources.queues.items()):
            depth.add_metric([name], read())
        yield depth
        yield GaugeMetricFamily(
            "runecraft_agents_connected",
            "Machine agents heard from within the last three heartbeats.",
            value=sources.agents_connected(),
        )
        units = GaugeMetricFamily(
            "runecraft_units",
            "Units by model and workload status.",
            labels=["model", "workload_status"],
        )
        for model, status, count in self._service.unit_counts:
            units.add_metric([model, status], count)
        yield units


class MetricsService:
    """One controller's metrics registry and the agents' merged metrics."""

    content_type = CONTENT_TYPE_LATEST
    """The exposition's media type."""

    def __init__(self, sources: MetricSources | None = None) -> None:
        self.sources = sources or MetricSources()
        self.registry = CollectorRegistry(auto_describe=False)
        self.reconcile_pass = Histogram(
            "runecraft_reconcile_pass_duration_seconds",
            "Seconds each completed reconcile pass took.",
            buckets=PASS_BUCKETS,
            registry=self.registry,
        )
        self.db_statement = Histogram(
            "runecraft_db_statement_duration_seconds",
            "Seconds each statement took in the database driver.",
            buckets=STATEMENT_BUCKETS,
            registry=self.registry,
        )
        self.agents = AgentMetricsBook()
        self.refused = 0
        """Agents' metrics messages refused as wrong."""
        self.unit_counts: list[tuple[str, str, int]] = []
        """What the last scrape counted."""
        self.registry.register(_Scraped(self))

    def take(self, agent: str, message: bus.AgentMetrics) -> None:
        """Merge an agent's metrics; a wrong message is logged, counted and changes nothing."""
        try:
            self.agents.take(agent, message)
        except errors.InvalidSpecError as exc:
            self.refused += 1
            logger.error("agent metrics refused", agent=agent, boot=message.boot, error=exc.message)

    def forget(self, agent: str) -> None:
        """The agent's machine is gone."""
        self.agents.forget(agent)

    async def exposition(self) -> bytes:
        """Everything, in the text format (units counted now)."""
        self.unit_counts = await self.sources.unit_counts()
        return generate_latest(self.registry)
