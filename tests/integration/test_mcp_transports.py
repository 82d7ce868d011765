"""The real `telcopulse serve` process, reached by real MCP clients over streamable HTTP and stdio."""

from __future__ import annotations

import asyncio

import httpx
from mcp import Client, StdioServerParameters

from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import error_text, keyed_client, server_env, structured


async def test_http_client_lists_and_calls_everything(mcp_http):
    async with keyed_client(mcp_http.url, mcp_http.keys["alice"]) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"query_database", "list_marts", "query_mart", "session_create", "analyze_data"} <= tools
        marts = structured(await client.call_tool("list_marts", {}))["marts"]
        assert len(marts) == 7
        result = structured(
            await client.call_tool(
                "query_mart",
                {"mart": "fct_customer_churn_monthly", "columns": ["sum(customers_churned)"]},
            )
        )
        assert result["rows"][0]["sum_customers_churned"] > 0
        schema = (await client.read_resource("schema://database/main")).contents[0].text
        assert "marts.dim_customers" in schema
        prompt = await client.get_prompt("revenue_optimization", {"account_type": "Basic"})
        assert "fct_arpu_monthly" in prompt.messages[0].content.text
        bad = await client.call_tool("query_database", {"query": "SELECT pg_sleep(10)"})
        assert bad.is_error and error_text(bad).startswith("QueryError: ")


async def test_http_rejects_a_foreign_host_header(mcp_http):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            mcp_http.url,
            headers={
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "X-API-Key": mcp_http.keys["alice"],
            },
            content=b"{}",
        )
    assert response.status_code == 421


async def test_concurrent_updates_to_one_session_from_two_http_clients(mcp_http):
    key = mcp_http.keys["alice"]
    async with keyed_client(mcp_http.url, key) as first, keyed_client(mcp_http.url, key) as second:
        session = structured(
            await first.call_tool("session_create", {"data_source": "warehouse", "access_level": "write"})
        )
        session_id = session["session_id"]

        async def write(client: Client, index: int) -> None:
            structured(
                await client.call_tool(
                    "session_update",
                    {"session_id": session_id, "key": f"k{index % 10}", "value": {"i": index}},
                )
            )

        await asyncio.gather(*(write(first if i % 2 else second, i) for i in range(40)))
        keys = set()
        for index in range(10):
            value = structured(
                await second.call_tool("session_read", {"session_id": session_id, "key": f"k{index}"})
            )
            assert value["value"]["i"] % 10 == index
            keys.add(value["key"])
        assert len(keys) == 10
        closed = structured(
            await first.call_tool("session_close", {"session_id": session_id, "archive": False})
        )
        assert closed["archived_keys"] == [f"k{i}" for i in range(10)]


async def test_stdio_client_against_the_serve_command(pipeline, redis_url, tmp_path):
    env = server_env(pipeline.database_url, redis_url, tmp_path)
    params = StdioServerParameters(command=TELCOPULSE, args=["serve", "--transport", "stdio"], env=env)
    async with Client(params, read_timeout_seconds=60) as client:
        assert len((await client.list_tools()).tools) == 12  # the local user is an analyst
        result = structured(
            await client.call_tool(
                "query_database",
                {
                    "query": "SELECT count(*) AS n FROM marts.dim_customers WHERE account_type = :t",
                    "parameters": {"t": "Basic"},
                },
            )
        )
        assert result["rows"][0]["n"] > 0
        template = (await client.read_resource("templates://analysis/arpu")).contents[0].text
        assert '"analysis_type": "arpu"' in template
