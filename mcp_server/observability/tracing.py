"""The MCP server's traces: one span per tool call, continuing the caller's trace.

The process-wide set-up (OTEL_* variables, exporter, asyncpg/redis instrumentations, the
redaction of what leaves) is `warehouse.tracing`; this module adds what only the server
knows:

* the tool span, `tool <name>`, with the tool's name, the caller's role, the outcome and the
  row count: never an argument. Its parent is the caller's trace: `_meta.traceparent` of the
  request (SEP-414, any transport), else the HTTP request's W3C `traceparent` header; with
  neither it is a root. The SDK's own per-message span is replaced by it
  (`replace_sdk_spans`): that one is named after the requested tool even when no such tool
  exists, which would let a caller's text into span names.
* below an unsampled tool span no instrumentation runs (`traced_only_when_sampled`).
* statements in spans are shown as `redact_sql` shapes, the same shapes the audit log keeps.

No ASGI server span: the OpenTelemetry ASGI middleware cost 45 us per request even when the
request was not sampled, and ~0.3 ms per sampled call (bench/mcp_latency.py), for a span
that would only add the HTTP framing around the tool span. The caller's `traceparent` header
is continued by the tool span itself, with the standard W3C propagator.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode

from mcp_server.observability.redact import redact_sql
from warehouse.tracing import configure_tracing, traced_only_when_sampled, tracer, tracing_enabled

SERVICE_NAME = "telcopulse-mcp"

__all__ = [
    "SERVICE_NAME",
    "configure_server_tracing",
    "replace_sdk_spans",
    "span",
    "tool_span",
]


def configure_server_tracing() -> bool:
    """Tracing for this server process from the OTEL_* variables; whether it is on."""
    return configure_tracing(SERVICE_NAME, redact=redact_sql) is not None


def replace_sdk_spans(middleware: list[Any]) -> None:
    """Drop the SDK's per-message OpenTelemetry middleware: `tool_span` is ours."""
    from mcp.server._otel import OpenTelemetryMiddleware

    middleware[:] = [m for m in middleware if not isinstance(m, OpenTelemetryMiddleware)]


def _caller_context(request_context: Any) -> Context | None:
    """The caller's trace: `_meta.traceparent` first, then the HTTP `traceparent` header;
    None if neither (the tool span is then a root)."""
    meta = getattr(request_context, "meta", None)  # a dict (an open TypedDict)
    headers = getattr(getattr(request_context, "request", None), "headers", None)
    for carrier in (meta, headers):
        if isinstance(carrier, Mapping) and "traceparent" in carrier:
            context = propagate.extract(carrier)
            if trace.get_current_span(context).get_span_context().is_valid:
                return context
    return None


@contextmanager
def tool_span(tool: str, request_context: Any) -> Iterator[Span]:
    """The span of one tool call; `tool` must already be a known name (or `other`).

    Nothing at all while tracing is off; below an unsampled span, no instrumentation runs.
    """
    if not tracing_enabled():
        yield trace.INVALID_SPAN
        return
    with (
        tracer().start_as_current_span(
            f"tool {tool}",
            context=_caller_context(request_context),
            kind=SpanKind.SERVER,
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
            record_exception=False,
            set_status_on_exception=False,
        ) as current,
        traced_only_when_sampled(current),
    ):
        yield current


def tool_span_finished(current: Span, *, role: str | None, outcome: str, rows: int | None) -> None:
    if not current.is_recording():
        return
    if role is not None:
        current.set_attribute("telcopulse.role", role)
    current.set_attribute("telcopulse.outcome", outcome)
    if rows is not None:
        current.set_attribute("telcopulse.rows", rows)
    if outcome != "ok":
        current.set_attribute("error.type", outcome)
        current.set_status(StatusCode.ERROR)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Span]:
    """A child span of our own (the guard, an analysis, a chart); attributes must be names.

    Not even started below an unsampled span (it would not be recorded either way)."""
    if not tracing_enabled() or not trace.get_current_span().is_recording():
        yield trace.INVALID_SPAN
        return
    with tracer().start_as_current_span(name, attributes=attributes or None) as current:
        yield current
