"""search_catalog finds marts and columns by their dbt descriptions; explain_query plans through the
same guard as query_database; TELCOPULSE_MAX_QUERY_COST refuses costly plans (not an admin's)."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from mcp_server.app import build_server
from orchestration.defs.dbt.project import dbt_project
from tests.integration.mcp_helpers import error_text, mcp_settings, structured

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(pipeline, redis_url, tmp_path_factory):
    return build_server(mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("catalog")))


def _column_description(mart: str, column: str) -> str:
    manifest = json.loads(dbt_project().manifest_path.read_text())
    node = next(n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["name"] == mart)
    return node["columns"][column]["description"]


@pytest.mark.asyncio(loop_scope="session")
async def test_search_finds_a_column_by_its_dbt_description(server, pipeline):
    description = _column_description("fct_revenue_by_payment_method", "payment_method")
    async with Client(server) as client:
        by_description = structured(await client.call_tool("search_catalog", {"text": description}))
        by_words = structured(await client.call_tool("search_catalog", {"text": "revenue by payment method"}))
        first = structured(await client.call_tool("search_catalog", {"text": "churn", "limit": 3}))
        second = structured(
            await client.call_tool(
                "search_catalog", {"text": "churn", "limit": 3, "cursor": first["next_cursor"]}
            )
        )
        rule = structured(
            await client.call_tool("search_catalog", {"text": "how is an active customer defined"})
        )
        drivers = structured(
            await client.call_tool("search_catalog", {"text": "what drives churn, feature importance"})
        )
    names = [hit["name"] for hit in by_description["hits"][:3]]
    assert "fct_revenue_by_payment_method.payment_method" in names, names
    assert by_words["hits"][0]["name"].startswith("fct_revenue_by_payment_method")
    assert by_words["hits"][0]["uri"] == "mart://fct_revenue_by_payment_method"
    assert len(first["hits"]) == 3 and first["total"] > 6 and first["next_cursor"] == "3"
    assert not {h["name"] for h in first["hits"]} & {h["name"] for h in second["hits"]}
    assert [h["score"] for h in first["hits"] + second["hits"]] == sorted(
        [h["score"] for h in first["hits"] + second["hits"]], reverse=True
    )
    assert {"rule", "mart", "column"} & {hit["kind"] for hit in rule["hits"][:5]}
    assert ("analysis", "drivers") in [(h["kind"], h["name"]) for h in drivers["hits"][:3]]


@pytest.mark.asyncio(loop_scope="session")
async def test_explain_plans_without_running_and_refuses_what_the_guard_refuses(server):
    query = "SELECT account_type, count(*) FROM marts.dim_customers WHERE age > :age GROUP BY account_type"
    async with Client(server) as client:
        plan = structured(
            await client.call_tool("explain_query", {"query": query, "parameters": {"age": 30}})
        )
        for refused in ("DELETE FROM marts.dim_customers", "SELECT pg_sleep(5)", "SELECT 1; SELECT 2"):
            explained = await client.call_tool("explain_query", {"query": refused})
            queried = await client.call_tool("query_database", {"query": refused})
            assert explained.is_error and queried.is_error, refused
            assert error_text(explained) == error_text(queried), refused
            assert error_text(explained).startswith("QueryError"), refused
    assert plan["total_cost"] > 0 and plan["estimated_rows"] >= 1 and plan["max_query_cost"] is None
    assert any(step["relation"] == "dim_customers" for step in plan["steps"])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_query_above_the_cost_limit_is_refused_with_a_hint_but_not_for_admins(
    pipeline, redis_url, tmp_path
):
    settings = mcp_settings(pipeline.database_url, redis_url, tmp_path, max_query_cost=5.0)
    query = "SELECT count(*) AS pairs FROM marts.customer_features a CROSS JOIN marts.customer_features b"
    async with Client(build_server(settings)) as client:
        refused = await client.call_tool("query_database", {"query": query})
        cheap = await client.call_tool("query_database", {"query": "SELECT 1 AS one"})
    async with Client(build_server(settings, local_role="admin")) as admin:
        allowed = await admin.call_tool("query_database", {"query": query})
    assert refused.is_error and "above the limit of 5" in error_text(refused)
    assert "explain_query" in error_text(refused) and "QueryError" in error_text(refused)
    assert structured(cheap)["rows"] == [{"one": 1}]
    assert structured(allowed)["rows"] == [{"pairs": 800 * 800}]
