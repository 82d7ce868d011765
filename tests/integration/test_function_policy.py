"""The function allow list comes from the catalog: built-ins less denied categories, extension
functions only from the schemas an operator names, and every refusal names its fix."""

from __future__ import annotations

import asyncpg
import psycopg
import psycopg.rows
import pytest
from mcp import Client

from mcp_server.app import build_server
from mcp_server.security.function_policy import (
    CATALOG_SQL,
    FUNCTION_SCHEMAS_SETTING,
    FunctionCall,
    FunctionPolicy,
    load_function_policy,
)
from mcp_server.security.sql_guard import SqlRejected, guard_sql
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from warehouse.db import as_url


def _policy(url: str, schemas: list[str] | None = None) -> FunctionPolicy:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return FunctionPolicy.from_catalog(conn.execute(CATALOG_SQL).fetchall(), schemas or [])


def _refusal(query: str, policy: FunctionPolicy) -> str:
    with pytest.raises(SqlRejected) as info:
        guard_sql(query, policy=policy)
    return info.value.reason


@pytest.fixture()
def extension_database(empty_database_url):
    """pg_trgm installed after the fact, into public, and into a schema of its own."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA trgm")
        conn.execute("CREATE EXTENSION pg_trgm SCHEMA trgm")
        conn.execute(
            "CREATE FUNCTION public.tenure_bucket(days int) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE "
            "AS $$ SELECT CASE WHEN days < 365 THEN 'new' ELSE 'loyal' END $$"
        )
    return empty_database_url


def test_builtins_less_denied_categories(function_policy):
    assert function_policy.refusal([FunctionCall("date_trunc"), FunctionCall("percentile_cont")]) is None
    assert function_policy.refusal([FunctionCall("now", schema="pg_catalog")]) is None
    assert function_policy.refusal([FunctionCall("pg_sleep")]) == "Function pg_sleep is not allowed (sleep)."
    assert function_policy.refusal([FunctionCall("setseed")]) == (
        "Function setseed is not allowed (it returns nothing and exists for a side effect)."
    )
    assert "parallel-unsafe" in function_policy.refusal([FunctionCall("currtid2")])
    assert (
        function_policy.refusal([FunctionCall("lo_get")]) == "Function lo_get is not allowed (large objects)."
    )
    # One rule for server information: the server is refused, the caller's own session is not.
    for name in (
        "version",
        "inet_server_addr",
        "pg_postmaster_start_time",
        "current_setting",
        "pg_backend_pid",
    ):
        assert function_policy.refusal([FunctionCall(name)]) is not None, name
    for name in ("current_database", "current_schema", "pg_typeof", "has_table_privilege", "format_type"):
        assert function_policy.refusal([FunctionCall(name)]) is None, name
    summary = function_policy.summary()
    assert {"math", "string", "date/time", "JSON", "array", "aggregate", "window", "geometric"} <= set(
        summary
    )
    assert sum(summary.values()) > 1500


def test_extension_functions_are_refused_until_their_schema_is_named(extension_database):
    default = _policy(extension_database)
    reason = _refusal("SELECT similarity('abc', 'abd')", default)
    assert "not on the allow list" in reason and FUNCTION_SCHEMAS_SETTING in reason
    reason = _refusal("SELECT trgm.similarity('abc', 'abd')", default)
    assert "schema 'trgm'" in reason and FUNCTION_SCHEMAS_SETTING in reason
    reason = _refusal("SELECT public.tenure_bucket(30)", default)
    assert FUNCTION_SCHEMAS_SETTING in reason

    allowed = _policy(extension_database, ["trgm"])
    assert (
        guard_sql("SELECT similarity('abc', 'abd')", policy=allowed).sql == "SELECT similarity('abc', 'abd')"
    )
    assert guard_sql("SELECT trgm.word_similarity('a', 'b')", policy=allowed).sql.startswith("SELECT trgm.")
    assert "not on the allow list" in _refusal("SELECT tenure_bucket(30)", allowed)


@pytest.mark.asyncio(loop_scope="session")
async def test_the_server_reads_the_same_list_through_asyncpg(extension_database):
    conn = await asyncpg.connect(as_url(extension_database))
    try:
        policy = await load_function_policy(conn, ["trgm", "public"])
    finally:
        await conn.close()
    expected = _policy(extension_database, ["trgm", "public"])
    assert dict(policy.allowed) == dict(expected.allowed)
    assert "similarity" in policy.allowed["trgm"] and "tenure_bucket" in policy.allowed["public"]
    assert "similarity" not in policy.allowed["pg_catalog"]


@pytest.mark.asyncio(loop_scope="session")
async def test_query_database_follows_the_setting(extension_database, redis_url, tmp_path):
    with psycopg.connect(extension_database, autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA trgm TO telcopulse_query")
    query = {"query": "SELECT trgm.similarity('abc', 'abd') AS s"}
    default = build_server(mcp_settings(extension_database, redis_url, tmp_path / "a", query_cache_ttl=0))
    async with Client(default) as client:
        result = await client.call_tool("query_database", query)
    assert result.is_error and FUNCTION_SCHEMAS_SETTING in error_text(result)

    allowed = build_server(
        mcp_settings(
            extension_database, redis_url, tmp_path / "b", query_cache_ttl=0, query_function_schemas=["trgm"]
        )
    )
    async with Client(allowed) as client:
        answer = structured(await client.call_tool("query_database", query))
        assert answer["rows"] == [{"s": 0.333333}] or abs(answer["rows"][0]["s"] - 1 / 3) < 1e-6
        refused = await client.call_tool("query_database", {"query": "SELECT trgm.set_limit(0.1)"})
    assert refused.is_error and "parallel-unsafe" in error_text(refused)
