"""The attack corpus through the real tool leaves the warehouse byte-for-byte unchanged; the
benign corpus all runs. Zero escapes and zero false positives both count."""

from __future__ import annotations

import pytest
from mcp import Client

from mcp_server.app import build_server
from tests.integration.mcp_helpers import database_fingerprint, error_text, mcp_settings
from tests.sql_corpus import ATTACKS, BENIGN
from warehouse.db import connect


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    # No result cache: every benign query must really run in PostgreSQL.
    return build_server(
        mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("corpus"), query_cache_ttl=0)
    )


async def test_attack_corpus_is_refused_and_changes_nothing(server, pipeline):
    before = database_fingerprint(pipeline.database_url)
    with connect(pipeline.database_url) as conn:
        started = conn.execute("SELECT now()").fetchone()[0]
    escaped = []
    async with Client(server) as client:
        for case_id, sql in ATTACKS:
            result = await client.call_tool("query_database", {"query": sql, "timeout": 2})
            if not result.is_error:
                escaped.append(case_id)
            else:
                assert error_text(result).split(":")[0] in {
                    "QueryError",
                    "ValidationError",
                    "TimeoutError",
                }, case_id
    assert escaped == []
    assert database_fingerprint(pipeline.database_url) == before
    with connect(pipeline.database_url) as conn:
        audited = conn.execute(
            "SELECT outcome, count(*) FROM ops.audit_log WHERE tool = 'query_database' AND at >= %s GROUP BY 1",
            (started,),
        ).fetchall()
    assert sum(n for outcome, n in audited if outcome != "ok") >= len(ATTACKS)


async def test_benign_corpus_all_succeeds(server):
    failures = {}
    async with Client(server) as client:
        for case_id, sql, parameters in BENIGN:
            result = await client.call_tool("query_database", {"query": sql, "parameters": parameters})
            if result.is_error:
                failures[case_id] = error_text(result)
            else:
                assert result.structured_content["row_count"] >= 0
    assert failures == {}


async def test_role_layer_alone_blocks_raw_even_for_valid_selects(server):
    """Parser-valid SELECTs still hit the role's grants: raw and ops are not readable."""
    async with Client(server) as client:
        for table in ("raw.customers", "raw.revenue", "ops.session_archive", "ops.data_builds"):
            result = await client.call_tool("query_database", {"query": f"SELECT count(*) FROM {table}"})
            assert result.is_error and "permission denied" in error_text(result), table
