"""Which OTEL_* settings turn tracing on, what is refused, and what a span may carry on export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

from mcp_server.observability.redact import redact_sql
from warehouse.tracing import RedactingExporter, TracingConfigError, _exporter_from_env, tracing_requested


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),  # naming a service asks for nothing
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
    ],
)
def test_tracing_is_on_only_when_an_exporter_is_asked_for(env: dict[str, str], on: bool) -> None:
    assert tracing_requested(env) is on


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL='http/json'"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER='zipkin'"),
    ],
)
def test_unsupported_settings_are_named(env: dict[str, str], refused: str) -> None:
    with pytest.raises(TracingConfigError, match=refused):
        _exporter_from_env(env)


def test_grpc_and_http_protobuf_pick_their_exporters() -> None:
    assert type(_exporter_from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})).__module__.endswith(
        "grpc.trace_exporter"
    )
    assert type(_exporter_from_env({})).__module__.endswith("http.trace_exporter")


def test_serve_with_an_unsupported_protocol_is_one_named_line_and_exit_1(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
    }
    done = subprocess.run(
        [str(Path(sys.executable).parent / "telcopulse"), "serve"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "[telcopulse] ValidationError: OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported; "
        "use http/protobuf or grpc"
    )
    assert "Traceback" not in done.stderr


class _Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans):  # type: ignore[no-untyped-def]
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def _span(attributes: dict, events: tuple = (), status: Status | None = None) -> ReadableSpan:
    context = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1))
    return ReadableSpan(
        name="SELECT", context=context, attributes=attributes, events=events, status=status or Status(),
        start_time=1, end_time=2,
    )  # fmt: skip


def test_exported_spans_carry_shapes_not_values() -> None:
    kept = _Keep()
    exporter = RedactingExporter(kept, redact_sql)
    secret = "alice@example.com"
    exporter.export(
        [
            _span(
                {
                    "db.system": "postgresql",
                    "db.statement": f"SELECT * FROM marts.dim_customers WHERE email = '{secret}'",
                    "db.statement.parameters": f"('{secret}',)",
                    "http.url": f"http://h/exports/1?token={secret}",
                },
                events=(Event("exception", {"exception.type": "E", "exception.message": secret}),),
                status=Status(StatusCode.ERROR, f"failed for {secret}"),
            ),
            _span({"db.system": "redis", "db.statement": "GET ?"}),
        ]
    )
    cleaned, untouched = kept.spans
    assert cleaned.attributes == {
        "db.system": "postgresql",
        "db.statement": redact_sql(f"SELECT * FROM marts.dim_customers WHERE email = '{secret}'"),
    }
    assert secret not in cleaned.attributes["db.statement"]
    assert [dict(e.attributes) for e in cleaned.events] == [{"exception.type": "E"}]
    assert cleaned.status.status_code is StatusCode.ERROR and not cleaned.status.description
    assert (cleaned.context, cleaned.parent, cleaned.start_time, cleaned.end_time) == (
        untouched.context, None, 1, 2,
    )  # fmt: skip
    # A span with nothing to remove is passed on as it is, not copied.
    assert dict(untouched.attributes) == {"db.system": "redis", "db.statement": "GET ?"}


def test_a_failing_redactor_never_lets_the_statement_through() -> None:
    def broken(_sql: str) -> str:
        raise RuntimeError("parser crashed")

    kept = _Keep()
    RedactingExporter(kept, broken).export([_span({"db.statement": "SELECT 'secret-literal' AS x"})])
    assert kept.spans[0].attributes["db.statement"] == "SELECT"
