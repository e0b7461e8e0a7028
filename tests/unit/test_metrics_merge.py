"""Agents' metrics merged into the controller's totals: what moved within a boot is added,
a new boot adds its values whole, stale and repeated messages add nothing, and a wrong
message is refused whole, logged naming what is wrong. The exposition is read back with
Prometheus' own parser."""

from __future__ import annotations

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from runecraft.agents import _metrics
from runecraft.controller import services
from runecraft.controller.bus import ControllerBus
from runecraft.schemas import bus

AGENT = "machine-0.0b0e4a52-7a7c-4f3c-9a52-1f1a0f2c3d4e"
OTHER = "machine-1.0b0e4a52-7a7c-4f3c-9a52-1f1a0f2c3d4e"


def sent(meter: _metrics.AgentMeter) -> bus.AgentMetrics:
    message = bus.decode_agent_message(meter.message())
    assert isinstance(message, bus.AgentMetrics)
    return message


async def scrape(service: services.MetricsService) -> dict[str, list[Sample]]:
    text = (await service.exposition()).decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def hook_counts(samples: dict[str, list[Sample]]) -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["charm"], s.labels["hook"], s.labels["outcome"]): s.value
        for s in samples["runecraft_hook_duration_seconds"]
        if s.name == "runecraft_hook_duration_seconds_count"
    }


def value(samples: list[Sample], name: str, **labels: str) -> float:
    (found,) = [s.value for s in samples if s.name == name and s.labels == labels]
    return found


async def test_hooks_of_every_agent_add_up_in_one_histogram() -> None:
    service = services.MetricsService()
    first, second = _metrics.AgentMeter(AGENT), _metrics.AgentMeter(OTHER)
    first.hook_ran("hello", "install", "succeeded", 0.3)
    first.hook_ran("hello", "install", "succeeded", 7.0)
    second.hook_ran("hello", "install", "succeeded", 0.02)
    second.hook_ran("hello", "start", "failed", 0.4)
    service.take(AGENT, sent(first))
    service.take(OTHER, sent(second))

    samples = await scrape(service)
    assert hook_counts(samples) == {
        ("hello", "install", "succeeded"): 3,
        ("hello", "start", "failed"): 1,
    }
    install = samples["runecraft_hook_duration_seconds"]
    labels = {"charm": "hello", "hook": "install", "outcome": "succeeded"}
    assert value(install, "runecraft_hook_duration_seconds_bucket", **labels, le="0.05") == 1
    assert value(install, "runecraft_hook_duration_seconds_bucket", **labels, le="0.5") == 2
    assert value(install, "runecraft_hook_duration_seconds_bucket", **labels, le="10.0") == 3
    assert value(install, "runecraft_hook_duration_seconds_bucket", **labels, le="+Inf") == 3
    assert value(install, "runecraft_hook_duration_seconds_sum", **labels) == pytest.approx(7.32)
    ran = samples["runecraft_agent_hooks"]
    assert value(ran, "runecraft_agent_hooks_total", agent=AGENT, outcome="succeeded") == 2
    assert value(ran, "runecraft_agent_hooks_total", agent=OTHER, outcome="failed") == 1


async def test_within_a_boot_only_what_moved_is_added_and_stale_messages_add_nothing() -> None:
    service = services.MetricsService()
    meter = _metrics.AgentMeter(AGENT)
    meter.connected()
    meter.hook_ran("hello", "install", "succeeded", 0.3)
    one = sent(meter)
    meter.hook_ran("hello", "install", "succeeded", 0.3)
    two = sent(meter)
    service.take(AGENT, one)
    service.take(AGENT, two)
    service.take(AGENT, one)  # late: older than what was taken
    service.take(AGENT, two)  # repeated (QoS 1 delivers at least once)
    samples = await scrape(service)
    assert hook_counts(samples) == {("hello", "install", "succeeded"): 2}
    connects = samples["runecraft_agent_bus_connects"]
    assert value(connects, "runecraft_agent_bus_connects_total", agent=AGENT) == 1
    assert service.refused == 0


async def test_a_new_boot_adds_its_values_whole_so_totals_never_go_down() -> None:
    service = services.MetricsService()
    before = _metrics.AgentMeter(AGENT)
    before.hook_ran("hello", "install", "succeeded", 0.3)
    before.hook_ran("hello", "start", "succeeded", 0.3)
    service.take(AGENT, sent(before))
    after = _metrics.AgentMeter(AGENT)  # the agent restarted: counts from zero again
    after.hook_ran("hello", "start", "succeeded", 0.3)
    service.take(AGENT, sent(after))
    assert hook_counts(await scrape(service)) == {
        ("hello", "install", "succeeded"): 1,
        ("hello", "start", "succeeded"): 2,
    }


async def test_a_restarted_controller_takes_an_agents_totals_whole() -> None:
    meter = _metrics.AgentMeter(AGENT)
    meter.hook_ran("hello", "install", "succeeded", 0.3)
    services.MetricsService().take(AGENT, sent(meter))
    meter.hook_ran("hello", "start", "succeeded", 0.3)
    fresh = services.MetricsService()
    fresh.take(AGENT, sent(meter))
    assert hook_counts(await scrape(fresh)) == {
        ("hello", "install", "succeeded"): 1,
        ("hello", "start", "succeeded"): 1,
    }


def shrunk(message: bus.AgentMetrics) -> bus.AgentMetrics:
    (timings,) = message.hooks
    fewer = timings.model_copy(update={"buckets": (0,) * len(timings.buckets)})
    return message.model_copy(update={"seq": message.seq + 1, "hooks": (fewer,)})


def dropped(message: bus.AgentMetrics) -> bus.AgentMetrics:
    return message.model_copy(update={"seq": message.seq + 1, "hooks": ()})


def fewer_connects(message: bus.AgentMetrics) -> bus.AgentMetrics:
    return message.model_copy(update={"seq": message.seq + 1, "connects": 0})


@pytest.mark.parametrize(
    ("wrong", "sender", "reason"),
    [
        (shrunk, AGENT, "counts of hook install of charm hello (succeeded) went down"),
        (dropped, AGENT, "lacks hook install of charm hello (succeeded), counted before (1 runs)"),
        (fewer_connects, AGENT, "connects went down from 1 to 0"),
        (lambda m: m, OTHER, f'names agent "{AGENT}" but came from agent "{OTHER}"'),
    ],
    ids=["counts-went-down", "series-gone", "connects-went-down", "another-agent"],
)
async def test_a_wrong_message_is_refused_whole_and_logged(
    wrong: object, sender: str, reason: str
) -> None:
    service = services.MetricsService()
    meter = _metrics.AgentMeter(AGENT)
    meter.connected()
    meter.hook_ran("hello", "install", "succeeded", 0.3)
    first = sent(meter)
    service.take(AGENT, first)
    before = await service.exposition()
    assert callable(wrong)
    bad = wrong(first)
    if isinstance(bad, bus.AgentMetrics) and bad.hooks:  # and something new, also not taken
        extra = bad.hooks[0].model_copy(update={"hook": "start"})
        bad = bad.model_copy(update={"hooks": (*bad.hooks, extra)})
    with structlog.testing.capture_logs() as logs:
        service.take(sender, bad)
    (refused,) = [e for e in logs if e["event"] == "agent metrics refused"]
    assert refused["log_level"] == "error"
    assert reason in refused["error"]
    assert refused["agent"] == sender
    assert service.refused == 1
    samples = await scrape(service)
    assert (
        value(samples["runecraft_agent_metrics_refused"], "runecraft_agent_metrics_refused_total")
        == 1
    )
    after = await service.exposition()
    strip = (b"runecraft_agent_metrics_refused_total", b"runecraft_agent_metrics_refused_created")
    keep = [line for line in before.splitlines() if not line.startswith(strip)]
    assert [line for line in after.splitlines() if not line.startswith(strip)] == keep


async def test_series_beyond_the_controllers_limit_are_refused() -> None:
    book = services.MetricsService().agents
    book.max_series = 2
    meter = _metrics.AgentMeter(AGENT)
    for hook in ("install", "start", "config-changed"):
        meter.hook_ran("hello", hook, "succeeded", 0.1)
    with pytest.raises(Exception, match="adds 3 hook series to 0: more than the 2"):
        book.take(AGENT, sent(meter))
    assert book.hooks == {}


async def test_a_forgotten_agent_keeps_its_hooks_in_the_totals_but_not_its_own_counters() -> None:
    service = services.MetricsService()
    meter = _metrics.AgentMeter(AGENT)
    meter.connected()
    meter.hook_ran("hello", "install", "succeeded", 0.1)
    service.take(AGENT, sent(meter))
    service.forget(AGENT)
    samples = await scrape(service)
    assert hook_counts(samples) == {("hello", "install", "succeeded"): 1}
    assert samples["runecraft_agent_bus_connects"] == []
    assert samples["runecraft_agent_hooks"] == []


async def test_what_is_read_at_scrape_time_is_exposed() -> None:
    class Traffic:
        messages_in, bytes_in, messages_out, bytes_out = 3, 300, 2, 200

    async def unit_counts() -> list[tuple[str, str, int]]:
        return [("default", "active", 2), ("default", "blocked", 1)]

    service = services.MetricsService(
        services.MetricSources(
            unit_counts=unit_counts,
            queues={"agent-messages": lambda: 7, "logs": lambda: 0},
            agents_connected=lambda: 4,
            bus_traffic=Traffic,
            bus_rejected=lambda: 5,
        )
    )
    service.reconcile_pass.observe(0.2)
    service.db_statement.observe(0.001)
    samples = await scrape(service)
    units = samples["runecraft_units"]
    assert value(units, "runecraft_units", model="default", workload_status="active") == 2
    assert value(units, "runecraft_units", model="default", workload_status="blocked") == 1
    depth = samples["runecraft_queue_depth"]
    assert value(depth, "runecraft_queue_depth", queue="agent-messages") == 7
    assert value(samples["runecraft_agents_connected"], "runecraft_agents_connected") == 4
    traffic = samples["runecraft_bus_bytes"]
    assert value(traffic, "runecraft_bus_bytes_total", direction="in") == 300
    assert value(traffic, "runecraft_bus_bytes_total", direction="out") == 200
    rejected = samples["runecraft_bus_messages_rejected"]
    assert value(rejected, "runecraft_bus_messages_rejected_total") == 5
    passes = samples["runecraft_reconcile_pass_duration_seconds"]
    assert value(passes, "runecraft_reconcile_pass_duration_seconds_count") == 1
    statements = samples["runecraft_db_statement_duration_seconds"]
    assert value(statements, "runecraft_db_statement_duration_seconds_count") == 1


async def test_two_controllers_in_one_process_keep_their_own_metrics() -> None:
    one, two = services.MetricsService(), services.MetricsService()
    one.reconcile_pass.observe(0.1)
    passes = "runecraft_reconcile_pass_duration_seconds"
    assert value((await scrape(one))[passes], f"{passes}_count") == 1
    assert value((await scrape(two))[passes], f"{passes}_count") == 0


async def test_the_controllers_bus_refuses_a_bad_metrics_message_naming_the_field() -> None:
    taken: list[object] = []
    controller_bus = ControllerBus(
        "127.0.0.1", 1, "controller", "pw", on_message=lambda _, m: taken.append(m)
    )
    meter = _metrics.AgentMeter(AGENT)
    meter.hook_ran("hello", "install", "succeeded", 0.1)
    payload = meter.message().replace(b'"outcome":"succeeded"', b'"outcome":"maybe"')
    with structlog.testing.capture_logs() as logs:
        await controller_bus._received(bus.up_topic(AGENT), payload)
    (bad,) = [e for e in logs if e["event"] == "bad bus message"]
    assert bad["error"] == (
        "body.agent-metrics.hooks.0.outcome: must be 'succeeded', 'failed' or 'missing'"
    )
    assert taken == []
    assert controller_bus.rejected == 1
    assert (controller_bus.traffic.messages_in, controller_bus.traffic.bytes_in) == (
        1,
        len(payload),
    )
    good = meter.message()
    await controller_bus._received(bus.up_topic(AGENT), good)
    assert [type(m) for m in taken] == [bus.AgentMetrics]


async def test_the_controllers_bus_takes_each_message_of_a_joined_publish_up_to_the_limit() -> None:
    taken: list[object] = []
    controller_bus = ControllerBus(
        "127.0.0.1", 1, "controller", "pw", on_message=lambda _, m: taken.append(m)
    )
    hello = bus.encode(bus.Hello(agent=AGENT))
    await controller_bus._received(bus.up_topic(AGENT), bus.join_messages([hello, b"{", hello]))
    assert taken == [bus.Hello(agent=AGENT)] * 2
    assert (controller_bus.traffic.messages_in, controller_bus.rejected) == (3, 1)

    count = bus.MAX_PAYLOAD_BYTES // len(hello) + 1  # each part small, the whole too large
    with structlog.testing.capture_logs() as logs:
        await controller_bus._received(bus.up_topic(AGENT), bus.join_messages([hello] * count))
    (bad,) = [e for e in logs if e["event"] == "bad bus message"]
    assert "exceeds" in bad["error"]
    assert len(taken) == 2
    assert controller_bus.rejected == 2
