"""The floor our server is measured against: a bare MCPServer with one typed tool that runs
SQL through an asyncpg pool, no guard, no cache, no validation beyond the SDK's own.

    DATABASE_URL=... python -m bench.bare_mcp_server PORT
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from mcp_server.query.values import to_json_value
from warehouse.db import as_url


class Rows(BaseModel):
    rows: list[dict[str, Any]]
    row_count: int


@asynccontextmanager
async def lifespan(_server: MCPServer) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(as_url(os.environ["DATABASE_URL"]), min_size=5, max_size=20)
    try:
        yield pool
    finally:
        await pool.close()


server = MCPServer("bare", lifespan=lifespan)


@server.tool()
async def run_query(sql: str, ctx: Context) -> Rows:
    pool: asyncpg.Pool = ctx.request_context.lifespan_context
    records = await pool.fetch(sql)
    rows = [{k: to_json_value(v) for k, v in r.items()} for r in records]
    return Rows(rows=rows, row_count=len(rows))


if __name__ == "__main__":
    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
