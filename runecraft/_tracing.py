"""OpenTelemetry traces of a change, from the CLI to the hook and its commit.

Exported over OTLP/HTTP (protobuf) when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
`OTEL_EXPORTER_OTLP_ENDPOINT` is set (the exporter reads the other standard `OTEL_*`
variables itself: headers, timeout, the batch delay). Otherwise tracing is off and free:
`setup` imports nothing of opentelemetry, `span` hands back one shared no-op context
manager, and every other call here returns at its first `if`. The CLI's `status` path and
the agents' import sets are checked for that (tests/unit/test_cli_imports.py,
tests/unit/test_agent_imports.py).

A trace crosses process boundaries as a W3C `traceparent` string: the API request's
header, the bus envelope's `traceparent` field, a hook's `TRACEPARENT` variable. One that
is malformed is ignored: the span then continues the current trace, or starts its own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

__all__ = [
    "ENDPOINT_VARIABLES",
    "NO_SPAN",
    "Attributes",
    "configured",
    "enabled",
    "exported_environment",
    "flush",
    "headers",
    "hook_environment",
    "parse",
    "rename",
    "resumed",
    "set_attributes",
    "setup",
    "span",
    "traceparent",
]

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Either one set (non-empty) turns tracing on."""

MAX_TRACEPARENT = 512
"""Longer values are ignored unread (the W3C limit the OpenTelemetry propagator uses)."""

_TRACEPARENT = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[0-9a-zA-Z._-]*)?"
)

Attributes = Mapping[str, str | int | float | bool]

NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()
"""What `span` gives while tracing is off (stateless, so one serves every caller)."""


class _State:
    tracer: Any = None
    """The process's `opentelemetry.trace.Tracer` once `setup` turned tracing on."""
    provider: Any = None


_on = _State()


def configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment names an OTLP endpoint for traces."""
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def enabled() -> bool:
    """Whether this process records and exports spans."""
    return _on.tracer is not None


def setup(service: str) -> bool:
    """Export this process's spans as `service.name` = `service` when `configured()`;
    returns whether tracing is on. Once per process (later calls change nothing)."""
    if _on.tracer is not None or not configured():
        return _on.tracer is not None
    # Only here, and only when configured: the exporter and SDK cost ~100 ms to import.
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    except ImportError as exc:  # an environment without them still runs, untraced
        # stdlib logging: routed to the process's log by the controller and the agent alike
        logging.getLogger(__name__).warning("tracing is off: %s", exc)
        return False

    from runecraft import __version__  # noqa: PLC0415

    # Its own provider, not the global one: a library's spans in this process (or a test
    # running several of these "processes" in one interpreter) never mix in by accident.
    # At exit the provider flushes what is pending (`shutdown_on_exit`).
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "service.version": __version__})
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _on.provider = provider
    _on.tracer = provider.get_tracer("runecraft", __version__)
    return True


def flush(timeout: float = 5.0) -> None:
    """Export what is pending now (before a process ends by a path that skips atexit)."""
    if _on.provider is not None:
        _on.provider.force_flush(int(timeout * 1000))


def parse(value: str | None) -> tuple[str, str, str] | None:
    """`(trace id, span id, flags)` of a valid W3C traceparent, else None (never raises):
    version `ff`, all-zero ids, a version-00 value with more fields, or anything but
    lowercase hex is invalid."""
    if not value or len(value) > MAX_TRACEPARENT:
        return None
    match = _TRACEPARENT.fullmatch(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == "0" * 32:
        return None
    if span_id == "0" * 16:
        return None
    return trace_id, span_id, flags


def span(
    name: str,
    *,
    parent: str | None = None,
    attributes: Attributes | None = None,
    links: Sequence[str] = (),
    orphan: bool = True,
) -> AbstractContextManager[None]:
    """A span around the `with` block, current inside it.

    Its parent is `parent` (a traceparent) when that is valid, else the current span.
    With neither, it starts a trace of its own, or with `orphan=False` there is no span
    (work that only matters as part of a traced change, such as a periodic pass).
    `links` name the other changes (traceparents) the work also answers."""
    if _on.tracer is None:
        return NO_SPAN
    return _span(name, parent, attributes, links, orphan)


@contextlib.contextmanager
def _span(
    name: str,
    parent: str | None,
    attributes: Attributes | None,
    links: Sequence[str],
    orphan: bool,
) -> Iterator[None]:
    from opentelemetry import trace  # noqa: PLC0415 (loaded by `setup` already)

    context = _context_of(parent)
    if context is None and not orphan and not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    linked = [
        trace.Link(trace.get_current_span(c).get_span_context())
        for c in (_context_of(link) for link in links)
        if c is not None
    ]
    tracer = _on.tracer
    with tracer.start_as_current_span(name, context=context, attributes=attributes, links=linked):
        yield


def _context_of(value: str | None) -> Any:
    """The OpenTelemetry context of a valid traceparent (None: invalid or absent)."""
    if parse(value) is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
        TraceContextTextMapPropagator,
    )

    return TraceContextTextMapPropagator().extract({"traceparent": str(value).strip()})


@contextlib.contextmanager
def _attached(value: str) -> Iterator[None]:
    from opentelemetry import context  # noqa: PLC0415

    token = context.attach(_context_of(value))
    try:
        yield
    finally:
        context.detach(token)


def resumed(value: str | None) -> AbstractContextManager[None]:
    """Make the remote span `value` (a traceparent) current inside the `with` block, with
    no span of our own: what is queued there remembers it (`traceparent()`)."""
    if _on.tracer is None or parse(value) is None:
        return NO_SPAN
    assert value is not None
    return _attached(value)


def set_attributes(attributes: Attributes) -> None:
    """Add to the current span what was learnt while it ran (an exit code, a route)."""
    if _on.tracer is None:
        return
    from opentelemetry import trace  # noqa: PLC0415

    trace.get_current_span().set_attributes(attributes)


def rename(name: str) -> None:
    """Name the current span by what was learnt while it ran (the API route it took)."""
    if _on.tracer is None:
        return
    from opentelemetry import trace  # noqa: PLC0415

    trace.get_current_span().update_name(name)


def traceparent() -> str | None:
    """The current span as a W3C traceparent (None: tracing is off, or no span)."""
    if _on.tracer is None:
        return None
    from opentelemetry import trace  # noqa: PLC0415

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def headers() -> dict[str, str]:
    """The request headers that carry the current span to the API."""
    value = traceparent()
    return {} if value is None else {"traceparent": value}


def hook_environment() -> dict[str, str]:
    """What a hook process gets of the current span: `TRACEPARENT` (the environment
    carrier OpenTelemetry tools read), and Juju's `JUJU_TRACE_ID`, `JUJU_SPAN_ID` and
    `JUJU_TRACE_FLAGS` (charm-contract §2)."""
    value = traceparent()
    if value is None:
        return {}
    _, trace_id, span_id, flags = value.split("-")
    return {
        "TRACEPARENT": value,
        "JUJU_TRACE_ID": trace_id,
        "JUJU_SPAN_ID": span_id,
        "JUJU_TRACE_FLAGS": flags,
    }


def exported_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The `OTEL_*` variables a process this one starts needs to export its spans too
    (empty when tracing is not configured)."""
    env = os.environ if environ is None else environ
    if not configured(env):
        return {}
    return {name: value for name, value in env.items() if name.startswith("OTEL_")}
