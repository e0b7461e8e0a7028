"""An OTLP/HTTP trace receiver in the test process: `POST /v1/traces` with a protobuf
`ExportTraceServiceRequest`, as the standard exporter sends it, decoded with
opentelemetry-proto. Spans are kept flat, each with its service's name."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

__all__ = ["ReceivedSpan", "Receiver", "receiving"]


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    links: tuple[str, ...]
    """Trace ids of the spans it links to."""


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _spans(body: bytes) -> list[ReceivedSpan]:
    request = trace_service_pb2.ExportTraceServiceRequest()
    request.ParseFromString(body)
    found = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                found.append(
                    ReceivedSpan(
                        service=str(resource.get("service.name", "")),
                        name=span.name,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                        links=tuple(link.trace_id.hex() for link in span.links),
                    )
                )
    return found


class Receiver:
    """What the exporters sent so far; `wait` returns when more arrives."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.refused: list[str] = []
        self._changed = threading.Condition()
        self.url = ""

    def take(self, body: bytes, path: str, content_type: str) -> int:
        if path != "/v1/traces" or content_type != "application/x-protobuf":
            self.refused.append(f"{path} {content_type}")
            return 404
        spans = _spans(body)
        with self._changed:
            self.spans.extend(spans)
            self._changed.notify_all()
        return 200

    def wait(self, timeout: float = 5.0) -> None:
        """Until spans arrive (or `timeout` seconds pass)."""
        with self._changed:
            self._changed.wait(timeout)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._changed:
            return [span for span in self.spans if span.trace_id == trace_id]


def _handler(receiver: Receiver) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's handler naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.take(body, self.path, self.headers.get("Content-Type", ""))
            answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def receiving() -> Iterator[Receiver]:
    """A receiver on a free loopback port while the generator runs (a fixture's body)."""
    receiver = Receiver()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
