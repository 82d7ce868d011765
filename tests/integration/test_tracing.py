"""OpenTelemetry traces of a real `telcopulse serve --transport http`, received over OTLP/HTTP.

The server exports to a receiver in this test (`tests.otlp_receiver`), exactly as it would to a
collector. A `query_database` call made under a caller's W3C `traceparent` must arrive as one
trace of that caller: the tool span, the SQL guard, the PostgreSQL statement and the Redis
calls, with no literal, parameter value or key in any span. A slow query's trace id must be
readable in `pg_stat_activity` while it runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from tests.integration.mcp_helpers import make_keys, server_env, serving_http
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

LITERAL = "needle-literal-5731"
PARAMETER = "needle-parameter-8824"
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


def _readme_sql() -> str:
    """The README's pg_stat_activity query (Monitoring, Traces), as a reader would paste it."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", readme.split("### Traces", 1)[1], re.S)
    return blocks[0]


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _tool_span(spans: list[ReceivedSpan], tool: str) -> ReceivedSpan | None:
    return next((s for s in spans if s.name == f"tool {tool}"), None)


def _descendants(spans: list[ReceivedSpan], root: ReceivedSpan) -> list[ReceivedSpan]:
    children: dict[str, list[ReceivedSpan]] = {}
    for span in spans:
        children.setdefault(span.parent_span_id, []).append(span)
    found, todo = [], [root.span_id]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.span_id)
    return found


@pytest.fixture()
def traced_server(pipeline, redis_url, tmp_path):
    keys_file = tmp_path / "api_keys.jsonl"
    keys, _ = make_keys(keys_file, {"ana": "analyst"})
    with OtlpReceiver().running() as receiver:
        env = server_env(
            pipeline.database_url,
            redis_url,
            tmp_path,
            TELCOPULSE_API_KEYS_FILE=str(keys_file),
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_SERVICE_NAME="telcopulse-mcp-test",
            OTEL_BSP_SCHEDULE_DELAY="100",
        )
        with serving_http(env) as base:
            yield base, keys["ana"], receiver


async def _call_under(url: str, key: str, traceparent: str, tool: str, arguments: dict[str, Any]) -> Any:
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    headers = {"X-API-Key": key, "traceparent": traceparent}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=120)) as http,
        Client(streamable_http_client(url, http_client=http), read_timeout_seconds=120) as client,
    ):
        return await client.call_tool(tool, arguments)


@pytest.mark.asyncio(loop_scope="session")
async def test_query_database_is_one_trace_of_the_caller_with_guard_postgres_and_redis(traced_server):
    base, key, receiver = traced_server
    trace_id, caller_span, traceparent = _traceparent()
    query = f"SELECT '{LITERAL}' AS label, count(*) AS n FROM marts.dim_customers WHERE CAST(customer_id AS text) <> :p"
    result = await _call_under(
        f"{base}/mcp", key, traceparent, "query_database", {"query": query, "parameters": {"p": PARAMETER}}
    )
    assert not result.is_error, result

    spans = receiver.wait_for(
        lambda all_spans: _tool_span([s for s in all_spans if s.trace_id == trace_id], "query_database")
    )
    ours = receiver.trace(trace_id)
    tool = _tool_span(ours, "query_database")
    assert tool is not None
    assert {s.service for s in ours} == {"telcopulse-mcp-test"}
    # The caller's trace continues: every span of the call hangs under the caller's span.
    chain, parent = [], tool.parent_span_id
    by_id = {s.span_id: s for s in ours}
    while parent in by_id:
        chain.append(by_id[parent].name)
        parent = by_id[parent].parent_span_id
    assert (chain, parent) == ([], caller_span)  # the caller's span is the tool span's parent
    assert tool.attributes["gen_ai.tool.name"] == "query_database"
    assert tool.attributes["telcopulse.role"] == "analyst"
    assert tool.attributes["telcopulse.outcome"] == "ok"
    assert tool.attributes["telcopulse.rows"] == 1

    below = _descendants(ours, tool)
    names = [s.name for s in below]
    assert "sql guard" in names
    statements = [s for s in below if s.attributes.get("db.system") == "postgresql"]
    ran = [s for s in statements if "dim_customers" in str(s.attributes.get("db.statement", ""))]
    assert ran, [s.attributes for s in statements]
    # The statement as a shape: the literal became a placeholder, the parameter is not there.
    assert "?" in ran[0].attributes["db.statement"] or "$" in ran[0].attributes["db.statement"]
    redis_calls = [s for s in below if s.attributes.get("db.system") == "redis"]
    assert redis_calls, names  # the query-cache lookup and fill
    # Nothing the caller sent as a value, and not the key, anywhere in any span of any trace.
    for span in spans:
        for text in span.texts():
            assert LITERAL not in text and PARAMETER not in text and key not in text, (span.name, text)


@pytest.mark.asyncio(loop_scope="session")
async def test_pg_stat_activity_shows_the_trace_id_of_a_running_query(traced_server, pipeline):
    base, key, receiver = traced_server
    trace_id, _, traceparent = _traceparent()
    slow = "SELECT count(*) AS n FROM generate_series(1, 400000000) AS g"
    call = asyncio.ensure_future(
        _call_under(f"{base}/mcp", key, traceparent, "query_database", {"query": slow, "timeout": 8})
    )
    seen: list[str] = []
    try:
        async with await psycopg.AsyncConnection.connect(pipeline.database_url, autocommit=True) as conn:
            for _ in range(200):
                rows = await (
                    await conn.execute(
                        "SELECT application_name FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                        ("%generate_series(1, 400000000)%",),
                    )
                ).fetchall()
                seen = [row[0] for row in rows]
                if seen:
                    break
                await asyncio.sleep(0.05)
            assert seen, "the slow query never showed in pg_stat_activity"
            # The README's query for DBAs finds it, with the trace id.
            found = await (await conn.execute(_readme_sql())).fetchall()
    finally:
        await asyncio.wait_for(call, 60)
    assert trace_id in [row[2] for row in found], found
    match = TRACEPARENT_RE.search(seen[0])
    assert match, seen[0]
    assert match.group(1) == trace_id
    # And that span id is a span of the trace the receiver got: a DBA can open it.
    receiver.wait_for(lambda spans: any(s.span_id == match.group(2) for s in spans))


def test_in_memory_exporter_sees_root_and_continued_tool_spans_without_values(pipeline, redis_url, tmp_path):
    """The server in-process (child process, see trace_probe) with the SDK's in-memory exporter."""
    trace_id, caller_span, traceparent = _traceparent()
    # A column name of its own, so no earlier run's cached answer exists.
    query = (
        f"SELECT '{LITERAL}' AS label_{secrets.token_hex(4)}, count(*) AS n "
        "FROM marts.dim_customers WHERE CAST(customer_id AS text) <> :p"
    )
    probe = subprocess.run(
        [sys.executable, "-m", "tests.integration.trace_probe", pipeline.database_url, redis_url,
         str(tmp_path), traceparent, query, PARAMETER],
        capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found["errors"] == [False, False, True]
    spans = [
        ReceivedSpan(
            name=s["name"], trace_id=s["trace_id"], span_id=s["span_id"], parent_span_id=s["parent_span_id"],
            service="", scope=s["scope"], kind=0, status_code=0, attributes=s["attributes"],
            events=[tuple(e) for e in s["events"]], status_message=s["status"],
        )
        for s in found["spans"]
    ]  # fmt: skip
    tools = [s for s in spans if s.name.startswith("tool ")]
    assert [s.name for s in tools] == ["tool query_database", "tool query_database", "tool other"]
    plain, under, unknown = tools
    # Without trace context the tool span is the root; with `_meta.traceparent` it continues it.
    assert plain.parent_span_id == ""
    assert (under.trace_id, under.parent_span_id) == (trace_id, caller_span)
    assert unknown.attributes["telcopulse.outcome"] == "NotFound"
    for tool in (plain, under):
        below = _descendants(spans, tool)
        assert {s.trace_id for s in below} == {tool.trace_id}
        assert "sql guard" in [s.name for s in below]
    # The first call misses the query cache in Redis (GET), then fills it (SET).
    assert [s.name for s in _descendants(spans, plain) if s.attributes.get("db.system") == "redis"] == [
        "GET",
        "SET",
    ]
    # The second is answered from the cache (the process's own tier), and the freshness of the
    # same data version from its snapshot: not one PostgreSQL statement ran for it.
    assert [s.name for s in _descendants(spans, under) if s.attributes.get("db.system") == "postgresql"] == []
    assert not any(
        "dim_customers" in str(s.attributes.get("db.statement")) for s in _descendants(spans, under)
    )
    assert any("dim_customers" in str(s.attributes.get("db.statement")) for s in _descendants(spans, plain))
    for span in spans:
        for text in span.texts():
            assert LITERAL not in text and PARAMETER not in text, (span.name, text)
