"""The machine agent's meter: hook durations land in the right buckets, and what it sends is
an `AgentMetrics` message the controller's schema takes, numbered per boot."""

from __future__ import annotations

import json
import subprocess
import sys

import pydantic
import pytest

from runecraft.agents import _metrics
from runecraft.schemas import bus, metrics

AGENT = "machine-0.0b0e4a52-7a7c-4f3c-9a52-1f1a0f2c3d4e"


def decoded(meter: _metrics.AgentMeter) -> bus.AgentMetrics:
    message = bus.decode_agent_message(meter.message())
    assert isinstance(message, bus.AgentMetrics)
    return message


def test_a_new_meter_says_nothing_was_counted() -> None:
    meter = _metrics.AgentMeter(AGENT)
    assert not meter.unsent
    message = decoded(meter)
    assert (message.agent, message.seq, message.connects, message.hooks) == (AGENT, 1, 0, ())
    assert len(message.boot) == 16


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0.0, 0),
        (0.05, 0),  # a bucket holds its upper bound (Prometheus' `le`)
        (0.0501, 1),
        (1.0, 4),
        (299.0, len(metrics.HOOK_BUCKETS) - 1),
        (301.0, len(metrics.HOOK_BUCKETS)),  # +Inf
    ],
)
def test_a_hook_lands_in_the_bucket_of_its_duration(seconds: float, bucket: int) -> None:
    meter = _metrics.AgentMeter(AGENT)
    meter.hook_ran("hello", "install", "succeeded", seconds)
    (timings,) = decoded(meter).hooks
    expected = [0] * (len(metrics.HOOK_BUCKETS) + 1)
    expected[bucket] = 1
    assert list(timings.buckets) == expected
    assert timings.sum == seconds


def test_series_are_kept_by_charm_hook_and_outcome_and_sums_add_up() -> None:
    meter = _metrics.AgentMeter(AGENT, boot="ab" * 8)
    meter.hook_ran("hello", "install", "succeeded", 0.5)
    meter.hook_ran("hello", "install", "succeeded", 1.5)
    meter.hook_ran("hello", "install", "failed", 0.2)
    meter.hook_ran("hello-bash", "install", "missing", 0.001)
    meter.connected()
    assert meter.unsent
    assert meter.hooks_run() == 4
    message = decoded(meter)
    assert not meter.unsent
    by_key = {(t.charm, t.hook, t.outcome): t for t in message.hooks}
    assert set(by_key) == {
        ("hello", "install", "succeeded"),
        ("hello", "install", "failed"),
        ("hello-bash", "install", "missing"),
    }
    assert sum(by_key["hello", "install", "succeeded"].buckets) == 2
    assert by_key["hello", "install", "succeeded"].sum == 2.0
    assert (message.boot, message.connects) == ("ab" * 8, 1)


def test_messages_are_cumulative_and_numbered_within_a_boot() -> None:
    meter = _metrics.AgentMeter(AGENT)
    meter.hook_ran("hello", "start", "succeeded", 0.1)
    first = decoded(meter)
    meter.hook_ran("hello", "start", "succeeded", 0.1)
    second = decoded(meter)
    assert (first.seq, second.seq) == (1, 2)
    assert first.boot == second.boot
    assert (sum(first.hooks[0].buckets), sum(second.hooks[0].buckets)) == (1, 2)
    assert _metrics.AgentMeter(AGENT).boot != meter.boot


def test_series_beyond_the_limit_are_counted_as_hook_other() -> None:
    meter = _metrics.AgentMeter(AGENT)
    for number in range(metrics.MAX_HOOK_SERIES + 10):
        meter.hook_ran("many", f"hook-{number}", "succeeded", 0.1)
    message = decoded(meter)  # still a message the controller takes
    assert len(message.hooks) <= metrics.MAX_HOOK_SERIES
    assert meter.hooks_run() == metrics.MAX_HOOK_SERIES + 10
    other = [t for t in message.hooks if t.hook == metrics.OTHER_HOOK]
    assert len(other) == 1
    assert sum(other[0].buckets) == 10 + len(metrics.HOOK_OUTCOMES)


def test_long_names_are_cut_to_what_the_schema_takes() -> None:
    meter = _metrics.AgentMeter(AGENT)
    meter.hook_ran("c" * 500, "h" * 500, "succeeded", 0.1)
    (timings,) = decoded(meter).hooks
    assert (len(timings.charm), len(timings.hook)) == (metrics.MAX_LABEL_LENGTH,) * 2


def body(**change: object) -> dict[str, object]:
    timings = {
        "charm": "hello",
        "hook": "install",
        "outcome": "succeeded",
        "buckets": [1] + [0] * len(metrics.HOOK_BUCKETS),
        "sum": 0.01,
    }
    message: dict[str, object] = {
        "kind": "agent-metrics",
        "agent": AGENT,
        "boot": "ab" * 8,
        "seq": 1,
        "connects": 1,
        "hooks": [timings],
    }
    for key, value in change.items():
        if key.startswith("hook_"):
            timings[key[5:]] = value
        else:
            message[key] = value
    return message


def wire(message: dict[str, object]) -> bytes:
    return json.dumps({"v": 1, "body": message}).encode()


def problem(payload: bytes) -> str:
    with pytest.raises(pydantic.ValidationError) as caught:
        bus.decode_agent_message(payload)
    (error,) = caught.value.errors()
    return ".".join(str(part) for part in error["loc"]) + ": " + error["type"]


@pytest.mark.parametrize(
    ("change", "wrong"),
    [
        ({"hook_buckets": [1, 2]}, "body.agent-metrics.hooks.0.buckets: value_error"),
        ({"hook_buckets": [-1] + [0] * 11}, "body.agent-metrics.hooks.0.buckets.0"),
        ({"hook_sum": -1.0}, "body.agent-metrics.hooks.0.sum: greater_than_equal"),
        ({"hook_outcome": "maybe"}, "body.agent-metrics.hooks.0.outcome: literal_error"),
        ({"hook_charm": ""}, "body.agent-metrics.hooks.0.charm: string_too_short"),
        ({"hook_hook": "h" * 129}, "body.agent-metrics.hooks.0.hook: string_too_long"),
        ({"boot": "not hex"}, "body.agent-metrics.boot: string_pattern_mismatch"),
        ({"seq": -1}, "body.agent-metrics.seq: greater_than_equal"),
        ({"extra": 1}, "body.agent-metrics.extra: extra_forbidden"),
    ],
)
def test_a_bad_message_is_refused_naming_the_field(change: dict[str, object], wrong: str) -> None:
    assert problem(wire(body(**change))).startswith(wrong)


def test_a_message_with_too_many_series_is_refused() -> None:
    timings = body()["hooks"][0]  # type: ignore[index]
    many = [{**timings, "hook": f"hook-{n}"} for n in range(metrics.MAX_HOOK_SERIES + 1)]
    assert problem(wire(body(hooks=many))) == "body.agent-metrics.hooks: too_long"


def test_a_series_named_twice_is_refused() -> None:
    timings = body()["hooks"][0]  # type: ignore[index]
    with pytest.raises(pydantic.ValidationError, match="names hello install succeeded twice"):
        bus.decode_agent_message(wire(body(hooks=[timings, timings])))


def test_the_meter_loads_neither_pydantic_nor_a_metrics_library() -> None:
    """Counting and encoding need the standard library only (checked in a fresh process)."""
    script = (
        "import sys, runecraft.agents._metrics as m\n"
        "m.AgentMeter('a').hook_ran('c', 'h', 'succeeded', 1.0)\n"
        "print(sorted(n for n in ('pydantic', 'prometheus_client') if n in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr
