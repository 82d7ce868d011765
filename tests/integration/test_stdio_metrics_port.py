"""`telcopulse serve --metrics-port N`: a stdio server's /metrics and /readyz on a loopback port.

A real MCP client drives the real `telcopulse serve` over stdio while the test scrapes the port:
the call shows in the counters, readiness answers, the stdio channel stays clean (any stray
uvicorn line on stdout would break the client), and the port closes with the session.
"""

from __future__ import annotations

import json
import socket
import subprocess

import httpx
import pytest
from mcp import Client, StdioServerParameters
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import TELCOPULSE
from tests.integration.mcp_helpers import free_port, server_env, structured

pytestmark = pytest.mark.integration


def _manifest(path):
    """The smallest dbt manifest the server accepts as loaded (readiness asks for one model)."""
    node = {
        "resource_type": "model",
        "name": "dim_one",
        "schema": "marts",
        "columns": {},
        "fqn": ["t", "dim_one"],
    }
    path.write_text(json.dumps({"nodes": {"model.telcopulse.dim_one": node}}))
    return path


def _tool_calls(text: str) -> dict[tuple[str, str], float]:
    calls = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "telcopulse_tool_calls_total":
                calls[(sample.labels["tool"], sample.labels["outcome"])] = sample.value
    return calls


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_a_stdio_server_serves_metrics_and_readiness_on_its_own_port(
    empty_database_url, redis_url, tmp_path
):
    port = free_port()
    env = server_env(
        empty_database_url,
        redis_url,
        tmp_path,
        TELCOPULSE_DBT_MANIFEST_PATH=str(_manifest(tmp_path / "m.json")),
    )
    params = StdioServerParameters(command=TELCOPULSE, args=["serve", "--metrics-port", str(port)], env=env)
    async with Client(params, read_timeout_seconds=60) as client:
        rows = structured(await client.call_tool("query_database", {"query": "SELECT 41 + 1 AS n"}))["rows"]
        assert rows == [{"n": 42}]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            scraped = await http.get("/metrics")  # no key: loopback only
            ready = await http.get("/readyz")
            assert (await http.get("/mcp")).status_code == 404  # only the operator endpoints
        assert _tool_calls(scraped.text) == {("query_database", "ok"): 1.0}
        # the client still speaks MCP after the scrapes: nothing was written to stdout
        assert structured(await client.call_tool("query_database", {"query": "SELECT 1 AS n"}))["rows"] == [
            {"n": 1}
        ]
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "failing": [],
        "checks": {"postgres": "ok", "migrations": "ok", "redis": "ok", "dbt_manifest": "ok"},
    }
    assert not _listening(port)  # gone with the stdio session


def test_metrics_port_is_refused_over_http(tmp_path):
    done = subprocess.run(
        [TELCOPULSE, "serve", "--transport", "http", "--metrics-port", str(free_port())],
        env=server_env("postgresql://postgres@127.0.0.1:5432/postgres", "redis://127.0.0.1:6379/0", tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "--metrics-port is for stdio only" in done.stderr
    assert "/metrics and /readyz are served on the server's own port" in done.stderr
