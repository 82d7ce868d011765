"""The MCP server's traces: one span per tool call, continuing the caller's trace.

The process-wide set-up (OTEL_* variables, exporter, asyncpg/redis instrumentations, the
redaction of what leaves) is `warehouse.tracing`; this module adds what only the server
knows:

* the tool span, `tool <name>`, with the tool's name, the caller's role, the outcome and the
  row count: never an argument. Its parent is the caller's trace: `_meta.traceparent` of the
  request (SEP-414, any transport), else the HTTP request's W3C `traceparent` header, else
  whatever span is current (the ASGI server span). The SDK's own per-message span is
  replaced by it (`replace_sdk_spans`): that one is named after the requested tool even when
  no such tool exists, which would let a caller's text into span names.
* the ASGI instrumentation around the HTTP app, without the operator endpoints and download
  links (a link's path is a capability).
* statements in spans are shown as `redact_sql` shapes, the same shapes the audit log keeps.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode

from mcp_server.observability.redact import redact_sql
from warehouse.tracing import configure_tracing, tracer, tracing_enabled

SERVICE_NAME = "telcopulse-mcp"
UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics", "/exports/")
_CONTEXT_KEY = "telcopulse.trace_context"

__all__ = [
    "SERVICE_NAME",
    "configure_server_tracing",
    "replace_sdk_spans",
    "span",
    "tool_span",
    "trace_http_app",
]


def configure_server_tracing() -> bool:
    """Tracing for this server process from the OTEL_* variables; whether it is on."""
    return configure_tracing(SERVICE_NAME, redact=redact_sql) is not None


def replace_sdk_spans(middleware: list[Any]) -> None:
    """Drop the SDK's per-message OpenTelemetry middleware: `tool_span` is ours."""
    from mcp.server._otel import OpenTelemetryMiddleware

    middleware[:] = [m for m in middleware if not isinstance(m, OpenTelemetryMiddleware)]


def trace_http_app(app: Any) -> None:
    """The ASGI server span around each HTTP request, when tracing is on."""
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(_RememberTraceContext)  # inside the ASGI span: it sees that span
    app.add_middleware(
        OpenTelemetryMiddleware,
        excluded_urls=",".join(UNTRACED_PATHS),
        # One span per request, not one per streamed SSE message.
        exclude_spans=["receive", "send"],
    )


class _RememberTraceContext:
    """Keeps the HTTP request's trace context in its scope for the tool span.

    A stateful MCP session runs tool calls in its own task, not the request's, so the
    ASGI span is not the current span there; the request object is handed over, and with
    it this context, so the tool span still nests under the HTTP span.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[_CONTEXT_KEY] = otel_context.get_current()
        await self.app(scope, receive, send)


def _caller_context(request_context: Any) -> Context | None:
    """The caller's trace: `_meta.traceparent` first, then the HTTP request's span (which
    continues its `traceparent` header); None if neither."""
    meta = getattr(request_context, "meta", None)
    carriers: list[Mapping[str, Any]] = []
    if meta is not None:
        dumped = meta.model_dump(by_alias=True) if hasattr(meta, "model_dump") else meta
        if isinstance(dumped, Mapping):
            carriers.append(dumped)
    for carrier in carriers:
        if "traceparent" not in carrier:
            continue
        context = propagate.extract(carrier)
        if trace.get_current_span(context).get_span_context().is_valid:
            return context
    request = getattr(request_context, "request", None)
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    remembered = state.get(_CONTEXT_KEY) if isinstance(state, dict) else None
    if remembered is not None:
        return remembered
    headers = getattr(request, "headers", None)  # tracing on, ASGI span off (not expected)
    if headers is not None and "traceparent" in headers:
        return propagate.extract(headers)
    return None


@contextmanager
def tool_span(tool: str, request_context: Any) -> Iterator[Span]:
    """The span of one tool call; `tool` must already be a known name (or `other`)."""
    with tracer().start_as_current_span(
        f"tool {tool}",
        context=_caller_context(request_context),
        kind=SpanKind.SERVER,
        attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool},
        record_exception=False,
        set_status_on_exception=False,
    ) as current:
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
    """A child span of our own (the guard, an analysis, a chart); attributes must be names."""
    with tracer().start_as_current_span(name, attributes=attributes or None) as current:
        yield current
