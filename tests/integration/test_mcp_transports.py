"""The real `telcopulse serve` process, reached by real MCP clients over streamable HTTP and stdio."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from mcp import Client, StdioServerParameters

from tests.integration.mcp_helpers import error_text, structured
from warehouse.db import as_url

TELCOPULSE = str(Path(sys.executable).parent / "telcopulse")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_env(pipeline, redis_url, tmp_path_factory) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DATABASE_URL": as_url(pipeline.database_url),
        "REDIS_URL": redis_url,
        "TELCOPULSE_DATA_DIR": str(tmp_path_factory.mktemp("mcp-serve")),
        "TELCOPULSE_FERNET_KEYS": Fernet.generate_key().decode(),
        "TELCOPULSE_DB_POOL_MIN": "2",
    }


@pytest.fixture(scope="module")
def http_url(server_env) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [TELCOPULSE, "serve", "--transport", "http", "--port", str(port)],
        env=server_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"MCP HTTP server did not start:\n{output}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


async def test_http_client_lists_and_calls_everything(http_url):
    async with Client(http_url, read_timeout_seconds=60) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"query_database", "list_marts", "query_mart", "session_create"} <= tools
        marts = structured(await client.call_tool("list_marts", {}))["marts"]
        assert len(marts) == 5
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


async def test_http_rejects_a_foreign_host_header(http_url):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            http_url,
            headers={
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            content=b"{}",
        )
    assert response.status_code == 421


async def test_concurrent_updates_to_one_session_from_two_http_clients(http_url):
    async with Client(http_url) as first, Client(http_url) as second:
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


async def test_stdio_client_against_the_serve_command(server_env):
    params = StdioServerParameters(command=TELCOPULSE, args=["serve", "--transport", "stdio"], env=server_env)
    async with Client(params, read_timeout_seconds=60) as client:
        assert len((await client.list_tools()).tools) == 9
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
