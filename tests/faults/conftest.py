"""Private PostgreSQL and Redis for the fault tests, and an MCP server pointed at them.

Nothing here is autouse: other fault tests share this folder. The outage tests opt in with
`pytest.mark.usefixtures("fresh_health")`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from mcp_server import dependencies
from mcp_server.app import TelcopulseMCP, build_server
from tests.integration.mcp_helpers import error_text, mcp_settings
from tests.private_services import PrivatePostgres, PrivateRedis
from warehouse.db import connect, create_database
from warehouse.migrate import migrate

# Generous: "bounded" means the answer arrives; nothing here asserts how fast.
ANSWER_WITHIN = 30.0
INCIDENT = "failed unexpectedly"

# Short timeouts so an outage answers quickly; the defaults are in warehouse/settings.py.
FAST = {
    "db_connect_timeout": 2,
    "db_pool_acquire_timeout": 2,
    "redis_connect_timeout": 1,
    "redis_socket_timeout": 1,
}


@pytest.fixture()
def private_pg() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        create_database(pg.url(), "telcopulse")
        migrate(pg.url("telcopulse"))
        with connect(pg.url("telcopulse"), autocommit=True) as conn:
            # One tiny "mart", so query_mart has something to read.
            conn.execute("CREATE TABLE marts.fct_arpu_monthly (month date, revenue numeric(12, 2))")
            conn.execute("INSERT INTO marts.fct_arpu_monthly VALUES ('2026-01-01', 10.5)")
        yield pg
    finally:
        pg.cleanup()


@pytest.fixture()
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis(appendonly=False)
    try:
        redis.start()
        yield redis
    finally:
        redis.cleanup()


@pytest.fixture()
def fresh_health() -> Iterator[None]:
    """Trackers are process-wide; each test starts with every dependency up."""
    for tracker in (dependencies.POSTGRES, dependencies.POSTGRES_POOL, dependencies.REDIS):
        tracker.reset()
    yield
    for tracker in (dependencies.POSTGRES, dependencies.POSTGRES_POOL, dependencies.REDIS):
        tracker.reset()


@pytest.fixture()
def make_server(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> Callable[..., TelcopulseMCP]:
    def make(**overrides: Any) -> TelcopulseMCP:
        values = {**FAST, "dbt_manifest_path": tmp_path / "no-manifest.json", **overrides}
        settings = mcp_settings(private_pg.url("telcopulse"), private_redis.url(), tmp_path, **values)
        return build_server(settings)

    return make


async def call(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
    """One tool call that must answer (success or a named error) within ANSWER_WITHIN seconds."""
    return await asyncio.wait_for(client.call_tool(tool, arguments or {}), ANSWER_WITHIN)


def assert_unavailable(result: CallToolResult, *fragments: str) -> str:
    text = error_text(result)
    assert result.is_error, text
    assert text.startswith("Unavailable: "), text
    assert INCIDENT not in text, text
    assert "Hint: retry in " in text, text
    for fragment in fragments:
        assert fragment in text, text
    return text


async def eventually_ok(
    attempt: Callable[[], Awaitable[CallToolResult]], *, within: float = 5.0
) -> CallToolResult:
    """Poll until a call succeeds again (a service came back); fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await attempt()
        if not result.is_error:
            return result
        assert INCIDENT not in error_text(result), error_text(result)
        if time.monotonic() > deadline:
            pytest.fail(f"still failing {within:g} s after the service returned: {error_text(result)}")
        await asyncio.sleep(0.2)


_numbers = itertools.count(1)


def fresh_select() -> dict[str, str]:
    """A query the guard accepts and the result cache has never seen (so it reaches PostgreSQL)."""
    return {"query": f"SELECT {next(_numbers)} AS n"}


async def run_blocking(function: Callable[..., Any], *args: Any) -> Any:
    """pg_ctl and friends block; run them off the loop the in-memory server shares."""
    return await asyncio.to_thread(function, *args)
