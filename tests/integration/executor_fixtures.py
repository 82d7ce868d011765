"""The MCP server's executor layout for integration tests: its own pool plus a query pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from mcp_server.query.executor import ExecutorConnection, ReadOnlyExecutor, pool_reset, query_session_settings
from warehouse.db import as_url

QUERY_ROLE = "telcopulse_query"


@asynccontextmanager
async def server_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The server's own pool, one connection: every call reuses its statement cache and codecs."""
    pool = await asyncpg.create_pool(
        as_url(database_url), min_size=1, max_size=1, connection_class=ExecutorConnection, reset=pool_reset
    )
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def server_layout_executor(
    pool: asyncpg.Pool, database_url: str, *, max_size: int, max_rows: int, max_bytes: int
) -> AsyncIterator[ReadOnlyExecutor]:
    """`pool` for the server's own work, and a query pool whose connections log in as the
    query role, as `mcp_server.context` opens them."""
    query_pool = await asyncpg.create_pool(
        as_url(database_url),
        min_size=1,
        max_size=max_size,
        connection_class=ExecutorConnection,
        reset=pool_reset,
        server_settings=query_session_settings(
            QUERY_ROLE, statement_timeout_s=120, lock_timeout_ms=5000, application_name="tp-test"
        ),
    )
    try:
        yield ReadOnlyExecutor(
            pool,
            query_pool=query_pool,
            role=QUERY_ROLE,
            readable_schemas=["marts"],
            max_rows=max_rows,
            max_bytes=max_bytes,
        )
    finally:
        await query_pool.close()
