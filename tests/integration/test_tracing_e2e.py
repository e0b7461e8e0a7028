"""One trace per `rune config`, from the CLI to the hook and its commit: the real CLI,
controller and machine agents export over OTLP/HTTP to a receiver in this test process
(`tests/_otlp.py`), and every span of the change carries the trace id the caller's
`TRACEPARENT` named.

`ops` itself records no spans here (ops 3.9 reads no trace context from the environment;
its spans are recorded only with the separate ops-tracing package and a tracing relation),
so the hook process's span is the unit agent's, around the process, and the `traced`
test charm shows that the process was given it as `TRACEPARENT` and `JUJU_TRACE_ID`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import _otlp
from tests import _waiting as waiting
from tests.integration.conftest import EXAMPLES, Rune

pytestmark = pytest.mark.e2e

TRACED_CHARM = Path(__file__).parents[1] / "charms" / "traced"

HELLO_TRACE, HELLO_PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
TRACED_TRACE, TRACED_PARENT = "a3ce929d0e0e47364bf92f3577b34da6", "0ba902b700f067aa"


@pytest.fixture
def receiver() -> Iterator[_otlp.Receiver]:
    yield from _otlp.receiving()


def one(spans: list[_otlp.ReceivedSpan], **wanted: Any) -> _otlp.ReceivedSpan | None:
    """The first span with these fields (`name`, `service`) and attributes (the rest)."""
    fields = {k: wanted.pop(k) for k in ("name", "service", "parent_id") if k in wanted}
    for span in spans:
        if all(getattr(span, k) == v for k, v in fields.items()) and all(
            span.attributes.get(k) == v for k, v in wanted.items()
        ):
            return span
    return None


def spans_of(
    receiver: _otlp.Receiver, trace_id: str, done: Callable[[list[_otlp.ReceivedSpan]], bool]
) -> list[_otlp.ReceivedSpan]:
    """The trace's spans once `done` holds for them (exporters send in batches)."""

    def complete() -> list[_otlp.ReceivedSpan] | None:
        spans = receiver.trace(trace_id)
        return spans if done(spans) else None

    return waiting.until(f"the spans of trace {trace_id}", complete, 120, between=receiver.wait)


@pytest.mark.timeout(900)  # two charms deployed, one packed with its dependencies
def test_one_trace_from_rune_config_to_the_hook_and_its_commit(
    rune: Rune, receiver: _otlp.Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The controller (started by bootstrap) and its agents inherit these.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.delenv("TRACEPARENT", raising=False)
    rune("bootstrap")
    rune("deploy", str(EXAMPLES / "hello"), "hello", "--config", "greeting=hi")
    rune("deploy", str(TRACED_CHARM), "traced")
    rune("wait", "--timeout", "5m")

    monkeypatch.setenv("TRACEPARENT", f"00-{HELLO_TRACE}-{HELLO_PARENT}-01")
    rune("config", "hello", "greeting=bonjour")
    monkeypatch.setenv("TRACEPARENT", f"00-{TRACED_TRACE}-{TRACED_PARENT}-01")
    rune("config", "traced", "message=traced")
    monkeypatch.delenv("TRACEPARENT")
    rune("wait", "--timeout", "5m")

    def hello_done(spans: list[_otlp.ReceivedSpan]) -> bool:
        hook = one(spans, name="hook", **{"runecraft.hook": "config-changed"})
        return hook is not None and one(spans, parent_id=hook.span_id) is not None

    spans = spans_of(receiver, HELLO_TRACE, hello_done)
    cli = one(spans, service="rune", name="rune config")
    assert cli is not None and cli.parent_id == HELLO_PARENT
    route = "/v1/models/{model}/applications/{application}/config"
    api = one(spans, service="runecraft-controller", **{"http.route": route})
    assert api is not None and api.parent_id == cli.span_id
    assert api.name == f"PATCH {route}"
    assert api.attributes["runecraft.application"] == "hello"
    assert api.attributes["http.response.status_code"] == 200
    passes = [s for s in spans if s.name == "reconcile pass"]
    assert passes and passes[0].parent_id == api.span_id
    assert one(spans, name="reconcile model", **{"runecraft.model": "default"}) is not None
    publish = one(spans, service="runecraft-controller", name="bus publish")
    assert publish is not None
    machine = one(spans, service="runecraft-agent", name="machine agent snapshot")
    assert machine is not None and machine.parent_id == publish.span_id
    assert machine.attributes["runecraft.units"] == "hello/0"
    revision = publish.attributes["runecraft.snapshot.revision"]
    assert machine.attributes["runecraft.snapshot.revision"] == revision
    operation = one(
        spans,
        name="unit agent operation",
        parent_id=machine.span_id,
        **{"runecraft.unit": "hello/0", "runecraft.operation": "config-changed"},
    )
    assert operation is not None and operation.attributes["runecraft.application"] == "hello"
    assert operation.attributes["runecraft.model"] == "default"
    hook = one(spans, name="hook", parent_id=operation.span_id)
    assert hook is not None and hook.attributes["runecraft.hook"] == "config-changed"
    assert hook.attributes["runecraft.hook.outcome"] == "succeeded"
    tools = {s.name for s in spans if s.parent_id == hook.span_id}
    assert "hook tool status-set" in tools  # ops sets the greeting as the status
    assert {s.service for s in spans} == {"rune", "runecraft-controller", "runecraft-agent"}

    spans = spans_of(receiver, TRACED_TRACE, lambda s: one(s, name="hook commit") is not None)
    hook = one(spans, name="hook", **{"runecraft.unit": "traced/0"})
    assert hook is not None
    message = rune.status()["applications"]["traced"]["units"]["traced/0"]["workload-status"]
    assert message["message"] == (
        f"TRACEPARENT=00-{TRACED_TRACE}-{hook.span_id}-01 JUJU_TRACE_ID={TRACED_TRACE}"
    )
    assert one(spans, name="hook tool state-set", parent_id=hook.span_id) is not None
    commit = one(spans, service="runecraft-controller", name="hook commit")
    assert commit is not None and commit.attributes["runecraft.unit"] == "traced/0"
    assert commit.attributes["runecraft.hook"] == "config-changed"
    assert commit.attributes["runecraft.commit.seq"] >= 1
    assert receiver.refused == []
