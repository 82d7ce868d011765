"""Every tool, resource and prompt of the MCP server, called through a real MCP client
(in-memory transport) against the real pipeline warehouse and real Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest
from mcp import Client
from mcp_types import ResourceTemplateReference

from mcp_server.app import build_server
from tests.integration.mcp_helpers import error_text, mcp_settings, structured
from warehouse.db import connect

TOOLS = {
    "query_database",
    "explain_query",
    "export_result",
    "search_catalog",
    "list_marts",
    "query_mart",
    "session_create",
    "session_read",
    "session_update",
    "session_close",
    "analyze_data",
    "create_visualization",
}
MARTS = {
    "dim_customers",
    "customer_features",
    "fct_customer_churn_monthly",
    "fct_arpu_monthly",
    "fct_network_quality_daily",
    "fct_network_quality_by_hour",
    "fct_revenue_by_payment_method",
}


@pytest.fixture(scope="module")
def settings(pipeline, redis_url, tmp_path_factory):
    return mcp_settings(pipeline.database_url, redis_url, tmp_path_factory.mktemp("mcp"))


@pytest.fixture(scope="module")
def server(settings):
    return build_server(settings)


def _sql(url: str, query: str, *args):
    with connect(url) as conn:
        return conn.execute(query, args).fetchall()


async def test_lists_every_tool_with_input_and_output_schemas(server):
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert tool.input_schema["type"] == "object"
            assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
            assert tool.description
        assert tools["query_database"].annotations.read_only_hint is True
        assert set(tools["query_database"].output_schema["properties"]) >= {
            "rows",
            "columns",
            "row_count",
            "truncated",
            "next_cursor",
        }


async def test_lists_resources_templates_and_prompts(server):
    async with Client(server) as client:
        resources = {str(r.uri): r for r in (await client.list_resources()).resources}
        marts = {f"mart://{name}" for name in MARTS}
        views = {"ui://telcopulse/chart.html"}  # the interactive chart view (MCP Apps)
        assert set(resources) == {"schema://database/main", "docs://data_dictionary"} | marts | views
        assert resources["schema://database/main"].mime_type == "text/markdown"
        templates = (await client.list_resource_templates()).resource_templates
        assert {t.uri_template for t in templates} == {
            "templates://analysis/{type}",
            "mart://{name}",
            "exports://{export_id}",
        }
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert prompts == {"churn_analysis", "network_analysis", "revenue_optimization"}


async def test_query_database_matches_direct_sql(server, pipeline):
    async with Client(server) as client:
        result = structured(
            await client.call_tool(
                "query_database",
                {
                    "query": "SELECT account_type, sum(customers_churned) AS churned, sum(customers_at_risk) AS at_risk "
                    "FROM marts.fct_customer_churn_monthly WHERE is_complete_month GROUP BY account_type ORDER BY 1",
                },
            )
        )
        expected = _sql(
            pipeline.database_url,
            "SELECT account_type, sum(customers_churned), sum(customers_at_risk) FROM marts.fct_customer_churn_monthly "
            "WHERE is_complete_month GROUP BY 1 ORDER BY 1",
        )
        assert [(r["account_type"], r["churned"], r["at_risk"]) for r in result["rows"]] == [
            (a, int(c), int(r)) for a, c, r in expected
        ]
        assert [c["name"] for c in result["columns"]] == ["account_type", "churned", "at_risk"]
        assert result["row_count"] == 3 and result["truncated"] is False and result["next_cursor"] is None


async def test_named_parameters_in_both_styles_with_type_coercion(server, pipeline):
    async with Client(server) as client:
        query = (
            "SELECT month, revenue FROM marts.fct_arpu_monthly WHERE account_type = :acct "
            "AND service_type = %(svc)s AND month >= :since ORDER BY month"
        )
        result = structured(
            await client.call_tool(
                "query_database",
                {"query": query, "parameters": {"acct": "Premium", "svc": "data", "since": "2026-05-01"}},
            )
        )
        expected = _sql(
            pipeline.database_url,
            "SELECT month, revenue FROM marts.fct_arpu_monthly WHERE account_type = 'Premium' "
            "AND service_type = 'data' AND month >= '2026-05-01' ORDER BY month",
        )
        assert [(r["month"], Decimal(str(r["revenue"]))) for r in result["rows"]] == [
            (m.isoformat(), Decimal(v).quantize(Decimal("0.01"), ROUND_HALF_UP)) for m, v in expected
        ]
        assert len(result["rows"]) == 6


async def test_pages_concatenate_to_the_full_result(server, pipeline):
    async with Client(server) as client:
        query = "SELECT event_date, location, event_type, event_count FROM marts.fct_network_quality_daily ORDER BY 1, 2, 3"
        expected = _sql(pipeline.database_url, query)
        assert len(expected) > 2500
        rows, cursor, pages = [], None, 0
        while True:
            args = {"query": query, "max_rows": 1000}
            if cursor:
                args["cursor"] = cursor
            page = structured(await client.call_tool("query_database", args))
            rows += page["rows"]
            pages += 1
            cursor = page["next_cursor"]
            assert page["truncated"] is (cursor is not None)
            if cursor is None:
                break
        assert pages == -(-len(expected) // 1000)
        assert [(r["event_date"], r["location"], r["event_type"], r["event_count"]) for r in rows] == [
            (d.isoformat(), loc, t, n) for d, loc, t, n in expected
        ]


async def test_cursor_of_another_query_is_refused(server):
    async with Client(server) as client:
        first = structured(
            await client.call_tool(
                "query_database", {"query": "SELECT customer_id FROM marts.dim_customers", "max_rows": 10}
            )
        )
        result = await client.call_tool(
            "query_database", {"query": "SELECT age FROM marts.dim_customers", "cursor": first["next_cursor"]}
        )
        assert result.is_error and error_text(result).startswith(
            "ValidationError: cursor belongs to a different query"
        )


async def test_result_cache_hit_then_invalidated_by_a_new_build(server, pipeline):
    async with Client(server) as client:
        query = {
            "query": "SELECT count(*) AS n FROM marts.dim_customers WHERE age > :age",
            "parameters": {"age": 40},
        }
        first = structured(await client.call_tool("query_database", query))
        second = structured(await client.call_tool("query_database", query))
        assert second["cached"] is True and second["rows"] == first["rows"]
        bump = f"test-cache-bump-{uuid.uuid4().hex}"
        with connect(pipeline.database_url) as conn:
            conn.execute(
                "INSERT INTO ops.data_builds (build_id, source, models_built) VALUES (%s, 'test', 0)", (bump,)
            )
            conn.commit()
        try:
            await asyncio.sleep(2.2)  # the data version is re-read at most every 2 s
            third = structured(await client.call_tool("query_database", query))
            assert third["cached"] is False
            assert third["data_version"] != first["data_version"] and third["data_version"].startswith(bump)
        finally:
            with connect(pipeline.database_url) as conn:
                conn.execute("DELETE FROM ops.data_builds WHERE build_id = %s", (bump,))
                conn.commit()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELEC 1", "QueryError: Could not parse"),
        ("DELETE FROM marts.dim_customers", "QueryError: Only SELECT"),
        ("SELECT * FROM raw.customers", "QueryError: permission denied"),
        ("SELECT * FROM ops.data_builds", "QueryError: permission denied"),
        (
            "SELECT no_such_column FROM marts.dim_customers",
            'QueryError: column "no_such_column" does not exist',
        ),
        ("SELECT 1/0", "QueryError: division by zero"),
    ],
)
async def test_query_errors_are_named_and_actionable(server, query, expected):
    async with Client(server) as client:
        result = await client.call_tool("query_database", {"query": query})
        assert result.is_error
        assert error_text(result).startswith(expected), error_text(result)
        assert "Traceback" not in error_text(result) and "asyncpg" not in error_text(result)


async def test_long_query_times_out(server):
    async with Client(server) as client:
        result = await client.call_tool(
            "query_database",
            {"query": "SELECT count(*) FROM generate_series(1, 400000000) AS g", "timeout": 1},
        )
        assert result.is_error and error_text(result).startswith("TimeoutError:")


async def test_invalid_arguments_are_a_validation_error_without_values(server):
    async with Client(server) as client:
        result = await client.call_tool(
            "query_database", {"query": "SELECT 1", "timeout": 0, "max_rows": "many"}
        )
        text = error_text(result)
        assert result.is_error and text.startswith("ValidationError: ")
        assert "timeout" in text and "max_rows" in text and "many" not in text


async def test_unknown_tool_is_not_found(server):
    async with Client(server) as client:
        result = await client.call_tool("drop_everything", {})
        assert result.is_error and error_text(result).startswith("NotFound: no tool named 'drop_everything'")


async def test_list_marts_documents_every_mart(server):
    async with Client(server) as client:
        marts = {m["name"]: m for m in structured(await client.call_tool("list_marts", {}))["marts"]}
        assert set(marts) == MARTS
        arpu = marts["fct_arpu_monthly"]
        assert arpu["grain"] == "one row per month × account_type × service_type"
        assert arpu["time_column"] == "month" and arpu["last_built_at"]
        columns = {c["name"]: c for c in arpu["columns"]}
        assert "ARPU denominator" in columns["active_customers"]["description"]
        assert columns["month"]["type"] == "date" and "not_null" in columns["month"]["tests"]
        assert all(c["description"] for m in marts.values() for c in m["columns"])


async def test_query_mart_aggregates_match_direct_sql(server, pipeline):
    async with Client(server) as client:
        result = structured(
            await client.call_tool(
                "query_mart",
                {
                    "mart": "fct_arpu_monthly",
                    "columns": ["account_type", "sum(revenue)", "count(*)"],
                    "filters": [
                        {"column": "is_complete_month", "op": "=", "value": True},
                        {"column": "service_type", "op": "in", "value": ["voice", "data"]},
                    ],
                    "group_by": ["account_type"],
                    "order_by": ["sum_revenue desc"],
                },
            )
        )
        expected = _sql(
            pipeline.database_url,
            "SELECT account_type, sum(revenue), count(*) FROM marts.fct_arpu_monthly WHERE is_complete_month "
            "AND service_type IN ('voice', 'data') GROUP BY 1 ORDER BY 2 DESC",
        )
        assert [(r["account_type"], round(r["sum_revenue"], 2), r["count"]) for r in result["rows"]] == [
            (a, float(s), n) for a, s, n in expected
        ]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"mart": "nope"}, "ValidationError: unknown mart 'nope'"),
        ({"mart": "dim_customers", "columns": ["password"]}, "ValidationError: unknown column 'password'"),
        (
            {"mart": "dim_customers", "columns": ["age", "count(*)"]},
            "ValidationError: columns ['age'] must be in group_by",
        ),
        (
            {"mart": "dim_customers", "filters": [{"column": "age", "op": "in", "value": 3}]},
            "ValidationError: filter in",
        ),
        ({"mart": "dim_customers", "order_by": ["age; drop table x"]}, "ValidationError: cannot order by"),
        (
            {"mart": "dim_customers", "filters": [{"column": "age", "op": "~", "value": 3}]},
            "ValidationError: filters.0.op",
        ),
    ],
)
async def test_query_mart_rejects_bad_specs(server, arguments, expected):
    async with Client(server) as client:
        result = await client.call_tool("query_mart", arguments)
        assert result.is_error and error_text(result).startswith(expected), error_text(result)


async def test_session_lifecycle_with_saved_query_and_archive(server, pipeline):
    async with Client(server) as client:
        created = structured(
            await client.call_tool(
                "session_create",
                {"data_source": "warehouse", "access_level": "write"},
            )
        )
        session_id = created["session_id"]
        assert created["status"] == "active" and created["expires_at"] > created["created_at"]

        saved = structured(
            await client.call_tool(
                "query_mart",
                {
                    "mart": "fct_customer_churn_monthly",
                    "columns": ["account_type", "sum(customers_churned)"],
                    "group_by": ["account_type"],
                    "session_id": session_id,
                    "save_as": "churn_by_type",
                },
            )
        )
        assert saved["saved_as"] == "churn_by_type"
        updated = structured(
            await client.call_tool(
                "session_update",
                {"session_id": session_id, "key": "notes", "value": {"focus": ["Basic"], "n": 3}},
            )
        )
        assert updated["data_keys"] == ["churn_by_type", "notes"]

        read = structured(
            await client.call_tool("session_read", {"session_id": session_id, "key": "churn_by_type"})
        )
        assert (
            read["value"]["rows"] == saved["rows"]
            and read["value"]["source"]["mart"] == "fct_customer_churn_monthly"
        )

        closed = structured(await client.call_tool("session_close", {"session_id": session_id}))
        assert closed == {
            "session_id": session_id,
            "status": "closed",
            "archived": True,
            "archived_keys": ["churn_by_type", "notes"],
        }
        archived = _sql(
            pipeline.database_url,
            "SELECT user_id, data_source, data FROM ops.session_archive WHERE session_id = %s",
            session_id,
        )
        assert archived[0][0].startswith("local:") and archived[0][1] == "warehouse"
        assert set(archived[0][2]) == {"churn_by_type", "notes"}
        assert "Basic" not in json.dumps(archived[0][2])  # archived values stay encrypted

        after = await client.call_tool("session_read", {"session_id": session_id, "key": "notes"})
        assert after.is_error and "closed" in error_text(after)


async def test_read_only_session_refuses_updates(server):
    async with Client(server) as client:
        created = structured(await client.call_tool("session_create", {"data_source": "warehouse"}))
        result = await client.call_tool(
            "session_update", {"session_id": created["session_id"], "key": "k", "value": 1}
        )
        assert result.is_error and error_text(result).startswith("Forbidden:")
        missing = await client.call_tool(
            "session_read", {"session_id": created["session_id"], "key": "nothing"}
        )
        assert missing.is_error and error_text(missing).startswith("NotFound:")
        await client.call_tool("session_close", {"session_id": created["session_id"], "archive": False})


async def test_unknown_session_is_not_found(server):
    async with Client(server) as client:
        result = await client.call_tool(
            "session_read", {"session_id": "0123456789abcdef0123456789abcdef", "key": "k"}
        )
        assert result.is_error and error_text(result).startswith("NotFound:")


async def test_schema_resource_is_live(server):
    async with Client(server) as client:
        text = (await client.read_resource("schema://database/main")).contents[0].text
        assert "### `raw.customers`" in text and "### `marts.fct_arpu_monthly`" in text
        assert "ck_customers_age" in text and "idx_" in text
        assert "| churn_rate | numeric(5,4) |" in text
        # relkind arrives from asyncpg as bytes unless cast: a person must read "table" / "view"
        assert "### `raw.customers` — table," in text
        assert "### `staging.stg_telco__customers` — view," in text
        assert "b'r'" not in text and "b'v'" not in text


async def test_data_dictionary_comes_from_dbt_docs(server):
    async with Client(server) as client:
        text = (await client.read_resource("docs://data_dictionary")).contents[0].text
        assert "### `marts.fct_customer_churn_monthly`" in text
        assert "Grain: one row per month × account_type × location." in text
        assert "## Business rules and shared definitions" in text and "active_in_month" in text
        assert "accepted_values" in text


async def test_analysis_templates_and_completion(server):
    async with Client(server) as client:
        for kind in ("churn_rate", "arpu", "network_quality", "correlation", "drivers"):
            template = json.loads(
                (await client.read_resource(f"templates://analysis/{kind}")).contents[0].text
            )
            assert template["analysis_type"] == kind and template["parameters"] and template["example_calls"]
        with pytest.raises(
            Exception, match="valid types are: arpu, churn_rate, correlation, drivers, network_quality"
        ):
            await client.read_resource("templates://analysis/astrology")
        completion = await client.complete(
            ResourceTemplateReference(type="ref/resource", uri="templates://analysis/{type}"),
            {"name": "type", "value": "c"},
        )
        assert completion.completion.values == ["churn_rate", "correlation"]


async def test_template_example_calls_run(server):
    async with Client(server, read_timeout_seconds=120) as client:
        for kind in ("churn_rate", "arpu", "network_quality", "correlation", "drivers"):
            template = json.loads(
                (await client.read_resource(f"templates://analysis/{kind}")).contents[0].text
            )
            for call in template["example_calls"]:
                result = structured(await client.call_tool(call["tool"], call["arguments"]))
                rows = (
                    result["metadata"]["row_count"] if call["tool"] == "analyze_data" else result["row_count"]
                )
                assert rows >= 1, (kind, call["tool"])


async def test_prompts_reference_real_tools_and_marts(server):
    async with Client(server) as client:
        prompt = await client.get_prompt("churn_analysis", {"segment": "location"})
        text = prompt.messages[0].content.text
        assert "query_mart" in text and "fct_customer_churn_monthly" in text and '"location"' in text
        assert "analyze_data" in text and "create_visualization" in text
        for name in ("network_analysis", "revenue_optimization"):
            text = (await client.get_prompt(name, {})).messages[0].content.text
            assert "list_marts" in text and "templates://analysis/" in text
