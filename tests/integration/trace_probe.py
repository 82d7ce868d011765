"""Run in a child process by test_tracing: the server in-process with an in-memory span exporter.

Tracing installs a process-wide provider and instrumentations (asyncpg, redis, psycopg with
its sqlcommenter), so it gets a process of its own rather than changing every later test.
Makes a `query_database` call without trace context, then one with `_meta.traceparent`
(SEP-414), and prints every finished span, as exported, as one JSON document.

    python -m tests.integration.trace_probe DATABASE_URL REDIS_URL DATA_DIR TRACEPARENT SQL PARAMETER
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from mcp import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mcp_server.app import build_server
from mcp_server.observability.redact import redact_sql
from tests.integration.mcp_helpers import mcp_settings
from warehouse.tracing import configure_tracing


async def _calls(server: object, traceparent: str, sql: str, parameter: str) -> list[bool]:
    arguments = {"query": sql, "parameters": {"p": parameter}}
    async with Client(server) as client:
        plain = await client.call_tool("query_database", arguments)
        under = await client.call_tool("query_database", arguments, meta={"traceparent": traceparent})
        unknown = await client.call_tool(f"drop_{parameter}", {})
    return [plain.is_error, under.is_error, unknown.is_error]


def main() -> None:
    database_url, redis_url, data_dir, traceparent, sql, parameter = sys.argv[1:7]
    exporter = InMemorySpanExporter()
    configure_tracing("telcopulse-mcp", redact=redact_sql, exporter=exporter)
    server = build_server(mcp_settings(database_url, redis_url, Path(data_dir)))
    errors = asyncio.run(_calls(server, traceparent, sql, parameter))
    spans = [
        {
            "name": span.name,
            "trace_id": f"{span.context.trace_id:032x}",
            "span_id": f"{span.context.span_id:016x}",
            "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else "",
            "scope": span.instrumentation_scope.name if span.instrumentation_scope else "",
            "attributes": dict(span.attributes or {}),
            "events": [[e.name, dict(e.attributes or {})] for e in span.events],
            "status": span.status.description or "",
        }
        for span in exporter.get_finished_spans()
    ]
    print(json.dumps({"errors": errors, "spans": spans}, default=str))


if __name__ == "__main__":
    main()
