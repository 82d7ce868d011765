"""What `query_database` runs means exactly what the agent wrote.

Every query of tests/sql_fidelity_corpus.py runs twice on the same built warehouse: as
written, directly on PostgreSQL as the query role, and through the real tool (which runs
the guard's re-rendered text). Column names, column types and rows must be equal; for the
VOLATILE queries (now(), CURRENT_TIME...) names, types and row counts. The REFUSED ones
(valid PostgreSQL sqlglot cannot render faithfully) must answer a QueryError that says why.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from mcp import Client
from pydantic import TypeAdapter

from mcp_server.app import build_server
from mcp_server.query.executor import _columns
from mcp_server.query.values import row_converters
from tests.integration.mcp_helpers import error_text, mcp_settings
from tests.sql_fidelity_corpus import FIDELITY, REFUSED, VOLATILE
from warehouse.db import as_url
from warehouse.settings import Settings

_ROWS = TypeAdapter(list[dict[str, Any]])


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    # No result cache: every query must really run in PostgreSQL.
    return build_server(
        mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("fidelity"), query_cache_ttl=0)
    )


async def _direct(conn: asyncpg.Connection, sql: str) -> dict[str, Any]:
    """The query as written, shaped like the tool's answer (same names, converters, JSON)."""
    statement = await conn.prepare(sql)
    columns = _columns(statement.get_attributes())
    converters = row_converters([column.type for column in columns])
    records = await statement.fetch()
    rows = [
        {
            column.name: convert(value)
            for column, convert, value in zip(columns, converters, record, strict=True)
        }
        for record in records
    ]
    return {
        "columns": [{"name": column.name, "type": column.type} for column in columns],
        "rows": _ROWS.dump_python(rows, mode="json"),
    }


def test_corpus_is_large_unique_and_plain():
    assert len(FIDELITY) >= 250
    ids = [case_id for case_id, _ in FIDELITY]
    assert len(set(ids)) == len(ids)
    assert set(ids) >= VOLATILE and set(REFUSED) <= set(ids)
    for case_id, sql in FIDELITY:
        assert "--" not in sql and "/*" not in sql and ";" not in sql, case_id


@pytest.mark.asyncio(loop_scope="session")
async def test_every_corpus_query_means_the_same_through_the_tool(server, pipeline):
    conn = await asyncpg.connect(
        as_url(pipeline.database_url),
        server_settings={
            "role": Settings.model_fields["query_role"].default,
            "default_transaction_read_only": "on",
        },
    )
    differences: dict[str, str] = {}
    try:
        async with Client(server) as client:
            for case_id, sql in FIDELITY:
                expected = await _direct(conn, sql)
                result = await client.call_tool(
                    "query_database", {"query": sql, "max_rows": 1000, "timeout": 30}
                )
                if case_id in REFUSED:  # refused, never run as something else
                    if not (result.is_error and error_text(result).startswith("QueryError: ")):
                        differences[case_id] = f"should be refused: {error_text(result)[:200]}"
                    elif REFUSED[case_id] not in error_text(result):
                        differences[case_id] = f"refused for another reason: {error_text(result)}"
                    continue
                if result.is_error:
                    differences[case_id] = f"refused or failed: {error_text(result)}"
                    continue
                answer = result.structured_content or {}
                if answer["columns"] != expected["columns"]:
                    differences[case_id] = f"columns {answer['columns']} != {expected['columns']}"
                elif answer["truncated"]:
                    differences[case_id] = "more rows than one page"
                elif case_id in VOLATILE:
                    if len(answer["rows"]) != len(expected["rows"]):
                        differences[case_id] = f"{len(answer['rows'])} rows != {len(expected['rows'])}"
                elif answer["rows"] != expected["rows"]:
                    differences[case_id] = f"rows differ: {answer['rows'][:3]} != {expected['rows'][:3]}"
    finally:
        await conn.close()
    assert differences == {}, "\n".join(f"{k}: {v}" for k, v in differences.items())
