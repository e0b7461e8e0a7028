"""The tracing facade: off and free without an OTLP endpoint (nothing of opentelemetry is
imported), W3C traceparents parsed strictly, a bad one ignored without a crash, and the
trace context carried through spans, request headers, a hook's environment and the bus
envelope."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from runecraft import _tracing
from runecraft.controller.services._hub import MAX_CAUSES, ChangeHub
from runecraft.schemas import bus
from tests import _otlp

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TRACE_ID, SPAN_ID = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

BAD = [
    "",
    "garbage",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",  # no flags
    "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",  # uppercase
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # version ff
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # zero trace id
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # zero span id
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",  # v00 takes no more
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",  # short span id
    "00-" + "a" * 600,  # longer than any traceparent
]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}


@pytest.fixture
def recorded() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, with finished spans kept in memory (a real SDK tracer
    in place of the OTLP one `setup` makes)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _tracing._on.tracer = provider.get_tracer("test")
    try:
        yield exporter
    finally:
        _tracing._on.tracer = None
        provider.shutdown()


def ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    context = span.get_span_context()
    assert context is not None
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}", parent


def test_off_it_imports_no_opentelemetry_and_every_call_is_a_no_op() -> None:
    script = f"""
import json, sys
from runecraft import _tracing
assert _tracing.setup("test") is False and not _tracing.enabled()
with _tracing.span("a", parent={PARENT!r}, attributes={{"k": 1}}, links=[{PARENT!r}]):
    with _tracing.resumed({PARENT!r}):
        _tracing.set_attributes({{"k": 2}})
        found = [_tracing.traceparent(), _tracing.headers(), _tracing.hook_environment()]
_tracing.flush()
print(json.dumps([found, sorted(m for m in sys.modules if m.startswith("opentelemetry"))]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=_clean_env()
    )
    found, loaded = json.loads(result.stdout)
    assert found == [None, {}, {}]
    assert loaded == []


@pytest.mark.parametrize("value", BAD)
def test_a_malformed_traceparent_does_not_parse(value: str) -> None:
    assert _tracing.parse(value) is None


def test_a_traceparent_parses_into_its_ids() -> None:
    assert _tracing.parse(PARENT) == (TRACE_ID, SPAN_ID, "01")
    assert _tracing.parse(None) is None
    # A later version may add fields: its first four are read.
    assert _tracing.parse(f"01-{TRACE_ID}-{SPAN_ID}-00-more") == (TRACE_ID, SPAN_ID, "00")


def test_a_span_continues_its_parent_and_carries_it_on(recorded: InMemorySpanExporter) -> None:
    with _tracing.span("outer", parent=PARENT, attributes={"runecraft.model": "m"}):
        inside = _tracing.traceparent()
        headers = _tracing.headers()
        env = _tracing.hook_environment()
        with _tracing.span("inner", orphan=False):
            pass
    inner, outer = recorded.get_finished_spans()
    trace_id, span_id, parent = ids(outer)
    assert (trace_id, parent) == (TRACE_ID, SPAN_ID)
    assert outer.attributes == {"runecraft.model": "m"}
    assert inside == f"00-{TRACE_ID}-{span_id}-01"
    assert headers == {"traceparent": inside}
    assert env == {
        "TRACEPARENT": inside,
        "JUJU_TRACE_ID": TRACE_ID,
        "JUJU_SPAN_ID": span_id,
        "JUJU_TRACE_FLAGS": "01",
    }
    assert ids(inner)[0] == TRACE_ID and ids(inner)[2] == span_id


@pytest.mark.parametrize("value", BAD)
def test_a_bad_parent_is_ignored_and_the_span_starts_its_own_trace(
    recorded: InMemorySpanExporter, value: str
) -> None:
    with _tracing.span("work", parent=value, links=[value]):
        pass
    with _tracing.resumed(value):
        assert _tracing.traceparent() is None
    (span,) = recorded.get_finished_spans()
    trace_id, _, parent = ids(span)
    assert parent is None and trace_id != TRACE_ID
    assert span.links == ()


def test_work_that_is_not_part_of_a_trace_makes_no_span(recorded: InMemorySpanExporter) -> None:
    with _tracing.span("periodic pass", orphan=False):
        assert _tracing.traceparent() is None
    assert recorded.get_finished_spans() == ()


def test_a_resumed_context_is_what_queued_work_remembers(recorded: InMemorySpanExporter) -> None:
    with _tracing.resumed(PARENT):
        assert _tracing.traceparent() == PARENT
        with _tracing.span("commit", orphan=False):
            pass
    (span,) = recorded.get_finished_spans()
    assert ids(span)[0::2] == (TRACE_ID, SPAN_ID)


def test_links_name_the_other_changes(recorded: InMemorySpanExporter) -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    with _tracing.span("pass", parent=PARENT, links=[other]):
        pass
    (span,) = recorded.get_finished_spans()
    assert [f"{link.context.trace_id:032x}" for link in span.links] == ["1" * 32]


def test_children_started_processes_get_the_otel_variables_only_when_configured() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://h:4318", "OTEL_BSP_SCHEDULE_DELAY": "9"}
    assert _tracing.exported_environment({**env, "HOME": "/root"}) == env
    assert _tracing.exported_environment({"OTEL_BSP_SCHEDULE_DELAY": "9"}) == {}
    assert _tracing.configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://h"})
    assert not _tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})


def test_the_envelope_carries_a_traceparent_only_when_there_is_one() -> None:
    log_ack = bus.LogAck(source="machine-0", offset=3)
    plain = bus.encode(log_ack)
    assert "traceparent" not in json.loads(plain)
    assert bus.decode_traced_controller_message(plain) == (log_ack, None)
    traced = bus.encode(log_ack, PARENT)
    assert bus.decode_traced_controller_message(traced) == (log_ack, PARENT)
    assert bus.decode_controller_message(traced) == log_ack
    # A malformed one is the facade's to ignore; the message itself is good.
    odd = bus.encode(log_ack, "not a traceparent")
    assert bus.decode_traced_controller_message(odd) == (log_ack, "not a traceparent")


@pytest.fixture
def receiver() -> Iterator[_otlp.Receiver]:
    yield from _otlp.receiving()


def test_setup_exports_over_otlp_http_to_the_configured_endpoint(
    receiver: _otlp.Receiver,
) -> None:
    script = f"""
from runecraft import _tracing
assert _tracing.setup("probe") and _tracing.setup("again")
with _tracing.span("probe span", parent={PARENT!r}, attributes={{"runecraft.unit": "u/0"}}):
    pass
"""  # the spans are sent at exit
    env = {**_clean_env(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.url}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)
    spans = receiver.trace(TRACE_ID)  # answered before the exporter, and so the process, ended
    assert [(s.service, s.name, s.parent_id) for s in spans] == [("probe", "probe span", SPAN_ID)]
    assert spans[0].attributes == {"runecraft.unit": "u/0"}
    assert receiver.refused == []


def test_without_the_libraries_tracing_stays_off_and_the_process_runs() -> None:
    script = """
import sys
sys.modules["opentelemetry.exporter.otlp.proto.http.trace_exporter"] = None
from runecraft import _tracing
assert _tracing.setup("probe") is False and not _tracing.enabled()
with _tracing.span("work"):
    print("ran")
"""
    env = {**_clean_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.endswith("ran\n")
    assert "tracing is off" in result.stdout + result.stderr


def test_the_changes_a_traced_request_commits_are_the_next_passs_causes(
    recorded: InMemorySpanExporter,
) -> None:
    hub = ChangeHub()
    hub.changed()  # untraced: no cause
    with _tracing.span("request", parent=PARENT):
        request = _tracing.traceparent()
        for _ in range(MAX_CAUSES + 5):
            hub.changed()
    causes = hub.take_causes()
    assert causes == [request] * MAX_CAUSES  # bounded
    assert hub.take_causes() == []


def test_off_a_change_records_no_cause() -> None:
    hub = ChangeHub()
    hub.changed()
    assert hub.take_causes() == []
