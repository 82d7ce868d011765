"""OpenTelemetry tracing for every telcopulse process, set by the standard `OTEL_*` variables.

Off unless an exporter is asked for (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_TRACES_EXPORTER`), and off whatever else is set
when `OTEL_SDK_DISABLED=true`. The SDK itself reads the rest: `OTEL_SERVICE_NAME`,
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` / `_ARG`, the exporter's endpoint, headers and
timeout. `OTEL_EXPORTER_OTLP_PROTOCOL` picks `http/protobuf` (the default) or `grpc`.

Spans come from the maintained instrumentations (asyncpg, redis, psycopg) plus the few spans
of our own (a tool call, the SQL guard, an analysis, a chart, a refresh). What leaves the
process goes through `RedactingExporter`, on the export thread, never on a request's path:
statements become their literal-free shape, exception messages, status texts and query
strings are dropped. So no span carries a parameter value, a SQL literal or a secret,
whatever an instrumentation records.

A DBA finds a statement's trace in `pg_stat_activity`: the MCP server sets a sampled call's
`traceparent` as the connection's `application_name` while its query runs
(`trace_application_name`), and psycopg's statements (the refresh, imports) carry it as a
sqlcommenter comment.

Lives in `warehouse` because every process needs it: the MCP server and the pipeline's
refresh both import it, and neither may import the other.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Status

logger = logging.getLogger(__name__)

TRACER_NAME = "telcopulse"
# Attributes whose value is a statement: kept only as its literal-free shape.
STATEMENT_ATTRIBUTES = ("db.statement", "db.query.text")
# Attributes dropped outright: bound parameters, and anything with a query string (a download
# link's token) or a client's address.
DROPPED_ATTRIBUTES = frozenset(
    {
        "db.statement.parameters",
        "db.query.parameter",
        "http.url",
        "http.target",
        "url.full",
        "url.query",
        "http.client_ip",
        "client.address",
        "net.peer.ip",
        "http.user_agent",
        "user_agent.original",
    }
)
# Of an exception event only its type is kept: a message can quote the caller's values.
EXCEPTION_KEPT = frozenset({"exception.type", "exception.escaped"})

Redactor = Callable[[str], str]

_lock = threading.Lock()
_provider: TracerProvider | None = None


def first_keyword(statement: str) -> str:
    """The statement's first word (`SELECT`): what any process may show of SQL it cannot parse."""
    words = statement.replace("(", " ").split()
    return words[0].upper() if words else ""


def tracing_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces (and the SDK is not disabled)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    return bool(
        exporter or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


class TracingConfigError(ValueError):
    """The OTEL_* variables ask for something this process cannot do; the message says what."""


def _exporter_from_env(env: Mapping[str, str]) -> SpanExporter:
    kind = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if kind == "console":
        return ConsoleSpanExporter(out=sys.stderr)  # stdout is the MCP channel over stdio
    if kind != "otlp":
        raise TracingConfigError(f"OTEL_TRACES_EXPORTER={kind!r} is not supported; use otlp, console or none")
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise TracingConfigError(
        f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf or grpc"
    )


def configure_tracing(
    service_name: str,
    *,
    redact: Redactor = first_keyword,
    exporter: SpanExporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> TracerProvider | None:
    """Install the process's tracer provider and instrumentations; None when tracing is off.

    `service_name` is the default for `OTEL_SERVICE_NAME`. `redact` turns a statement into
    what a span may show (the MCP server passes its SQL redactor; the default keeps only the
    first keyword). `exporter` (tests: an in-memory one) is used instead of the OTEL_*
    exporter and turns tracing on. A second call adds its exporter to the installed provider:
    the global provider can be set once per process.
    """
    global _provider
    env = os.environ if environ is None else environ
    if exporter is None and not tracing_requested(env):
        return None
    with _lock:
        chosen = exporter or _exporter_from_env(env)
        redacting = RedactingExporter(chosen, redact)
        processor = SimpleSpanProcessor(redacting) if exporter is not None else BatchSpanProcessor(redacting)
        if _provider is not None:
            _provider.add_span_processor(processor)
            return _provider
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource

        attributes = {} if env.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
        provider = TracerProvider(resource=Resource.create(attributes))
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _instrument(provider)
        _provider = provider
        return provider


def _instrument(provider: TracerProvider) -> None:
    """The maintained instrumentations of the clients we use, once per process."""
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().instrument(tracer_provider=provider)
    RedisInstrumentor().instrument(tracer_provider=provider)
    # The sqlcommenter option puts the trace context on each statement psycopg sends, so a
    # DBA reads a refresh's trace id in pg_stat_activity.
    PsycopgInstrumentor().instrument(
        tracer_provider=provider,
        enable_commenter=True,
        commenter_options={
            "db_driver": False,
            "dbapi_threadsafety": False,
            "dbapi_level": False,
            "driver_paramstyle": False,
            "libpq_version": False,
        },
    )


def tracing_enabled() -> bool:
    return _provider is not None


def shutdown_tracing() -> None:
    """Flush what is queued (a CLI that exits right after its work would lose its spans)."""
    if _provider is not None:
        _provider.force_flush()


@lru_cache(maxsize=1)
def tracer() -> trace.Tracer:
    """The tracer of our own spans (a proxy: no-op until a provider is installed)."""
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def traced_only_when_sampled(span: trace.Span) -> Iterator[None]:
    """Below a span that is not sampled, the instrumentations stand aside.

    With a parent-based sampler nothing under an unsampled span is recorded anyway, but
    each instrumented statement or Redis command would still build its attributes and a
    non-recording span; suppressing them makes an unsampled call cost almost nothing
    (bench/mcp_latency.py measures it).
    """
    with nullcontext() if span.is_recording() else untraced():
        yield


def trace_application_name() -> str:
    """The W3C `traceparent` of the current span when it is sampled, else ''.

    Set by the server as `application_name` while it runs a query it has already checked,
    so `pg_stat_activity` tells a DBA which trace a running statement belongs to. Bare, as
    `00-<trace id>-<span id>-01`: 55 characters, within PostgreSQL's 63 (a prefix would not
    fit). Only hex digits and dashes: safe in a SET.
    """
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return ""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@contextmanager
def untraced() -> Iterator[None]:
    """No instrumentation spans inside (housekeeping statements); nothing at all while off."""
    if _provider is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


class RedactingExporter(SpanExporter):
    """Exports copies of spans with values removed: statements as shapes, no messages.

    Done at export (the batch processor's thread), so a request never pays for it, and for
    every span whichever instrumentation made it.
    """

    def __init__(self, inner: SpanExporter, redact: Redactor = first_keyword) -> None:
        self._inner = inner
        # A server runs the same few statements over and over: each is parsed once.
        self._redact = lru_cache(maxsize=4096)(redact)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self.redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def redacted(self, span: ReadableSpan) -> ReadableSpan:
        """The span itself when it holds nothing to remove (most of ours), else a cleaned copy."""
        attributes: dict[str, Any] = {}
        changed = bool(span.status.description) or any(event.name == "exception" for event in span.events)
        for key, value in (span.attributes or {}).items():
            if key in DROPPED_ATTRIBUTES:
                changed = True
                continue
            if key in STATEMENT_ATTRIBUTES and isinstance(value, str):
                shown = self._statement(value)
                changed = changed or shown != value
                value = shown
            attributes[key] = value
        if not changed:
            return span
        events = [
            Event(
                event.name,
                {k: v for k, v in (event.attributes or {}).items() if k in EXCEPTION_KEPT}
                if event.name == "exception"
                else event.attributes,
                event.timestamp,
            )
            for event in span.events
        ]
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=attributes,
            events=events,
            links=span.links,
            kind=span.kind,
            status=Status(span.status.status_code),
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def _statement(self, statement: str) -> str:
        try:
            return self._redact(statement)
        except Exception:  # a redactor that fails must not let the statement through
            return first_keyword(statement)
