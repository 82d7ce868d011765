"""A real OTLP/HTTP trace receiver for tests: `POST /v1/traces` with protobuf bodies.

What a collector would get, decoded with the protocol's own message types
(`opentelemetry-proto`), flattened into `ReceivedSpan`s the tests can query.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    scope: str
    kind: int
    status_code: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status_message: str = ""

    def texts(self) -> list[str]:
        """Every string a reader of this span sees: name, attribute values, events, status."""
        found = [self.name, self.status_message]
        found += [str(v) for v in self.attributes.values()]
        for name, attributes in self.events:
            found += [name, *(str(v) for v in attributes.values())]
        return found


class OtlpReceiver:
    """`decode=False` only counts requests and bytes (a benchmark's sink, cheap to run)."""

    def __init__(self, *, decode: bool = True) -> None:
        self.spans: list[ReceivedSpan] = []
        self.requests = 0
        self.bytes = 0
        self.decode = decode
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def endpoint(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _take(self, body: bytes) -> None:
        if not self.decode:
            with self._lock:
                self.requests += 1
                self.bytes += len(body)
            return
        request = ExportTraceServiceRequest.FromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            service=str(resource.get("service.name", "")),
                            scope=scope_spans.scope.name,
                            kind=span.kind,
                            status_code=span.status.code,
                            status_message=span.status.message,
                            attributes={kv.key: _value(kv.value) for kv in span.attributes},
                            events=[
                                (event.name, {kv.key: _value(kv.value) for kv in event.attributes})
                                for event in span.events
                            ],
                        )
                    )
        with self._lock:
            self.requests += 1
            self.bytes += len(body)
            self.spans.extend(received)

    @contextmanager
    def running(self) -> Iterator[OtlpReceiver]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._take(body)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def wait_for(self, predicate: Any, timeout: float = 30) -> list[ReceivedSpan]:
        """The spans once `predicate(spans)` holds (the exporter sends in batches)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in spans})
                raise AssertionError(f"spans did not arrive within {timeout} s; got {names}")
            time.sleep(0.1)
