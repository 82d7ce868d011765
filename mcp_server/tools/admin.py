"""Admin-only tools: cache maintenance here, file imports in tools/imports.py (registered with
these, so every admin tool comes in through one call)."""

from typing import Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp_types import ToolAnnotations
from pydantic import BaseModel

from mcp_server.context import app_context
from mcp_server.tools import icons, imports
from warehouse.analysis_store import analysis_cache_pattern


class CacheCleared(BaseModel):
    scope: str
    deleted_keys: int


async def _delete_matching(redis: object, pattern: str) -> int:
    deleted = 0
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=pattern, count=500):  # type: ignore[attr-defined]
        batch.append(key)
        if len(batch) >= 500:
            deleted += await redis.unlink(*batch)  # type: ignore[attr-defined]
            batch = []
    if batch:
        deleted += await redis.unlink(*batch)  # type: ignore[attr-defined]
    return deleted


def register(server: MCPServer) -> None:
    imports.register(server)

    @server.tool(
        name="cache_clear",
        title="Clear cached results (admin)",
        icons=icons.ADMIN,
        description="Admin: drop this warehouse's cached query results and/or analysis results from Redis "
        "(they are recomputed on demand; analyses stay in analytics.analysis_results).",
        annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, idempotentHint=True),
    )
    async def cache_clear(ctx: Context, scope: Literal["queries", "analyses", "all"] = "all") -> CacheCleared:
        app = app_context(ctx)
        patterns = []
        if scope in ("queries", "all"):
            patterns.append(app.cache.pattern)
            app.cache.clear_local()  # this process's copies; other replicas' lapse within seconds
        if scope in ("analyses", "all"):
            patterns.append(analysis_cache_pattern(app.settings.require_database_url()))
        deleted = 0
        for pattern in patterns:
            deleted += await _delete_matching(app.redis, pattern)
        return CacheCleared(scope=scope, deleted_keys=deleted)
