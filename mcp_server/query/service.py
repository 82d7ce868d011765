"""One path for every read: cache lookup, paging, execution, cache fill.

`query_database` (SQL the guard vetted) and `query_mart` (SQL built from validated
identifiers) both end here, so caching, cursors and limits behave the same for both.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mcp_server.cache import DataVersion, QueryCache
from mcp_server.query.executor import ReadOnlyExecutor
from mcp_server.query.pagination import Cursor, decode_cursor


class ColumnInfo(BaseModel):
    name: str
    type: str = Field(description="PostgreSQL type name")


class QueryResult(BaseModel):
    """A page of rows. Ask for the next page by passing `next_cursor` back unchanged."""

    columns: list[ColumnInfo]
    rows: list[dict[str, Any]]
    row_count: int = Field(description="Rows in this page")
    truncated: bool = Field(description="True when more rows exist than this page holds")
    next_cursor: str | None = Field(default=None, description="Pass back as `cursor` for the next page")
    cached: bool = Field(default=False, description="Served from the result cache")
    data_version: str = Field(description="Mart build and raw load this answer reflects")
    saved_as: str | None = Field(default=None, description="Session data key the rows were saved under")


async def run_query(
    *,
    executor: ReadOnlyExecutor,
    cache: QueryCache,
    version: DataVersion,
    sql: str,
    args: tuple[Any, ...] | list[Any],
    fingerprint: str,
    timeout_s: float,
    page_size: int,
    cursor: str | None,
    role: str | None = None,
) -> QueryResult:
    """`role` overrides the executor's query role (admins read raw); it is part of the cache key,
    so a result one role may see is never served to another."""
    data_version = await version.current()
    query_id = fingerprint[:24]
    offset = decode_cursor(cursor, query=query_id, version=data_version) if cursor else 0
    page_size = max(1, min(page_size, executor.max_rows))
    key = cache.key(data_version, role or "default", fingerprint, offset, page_size)
    hit = await cache.get(key)
    if hit is not None:
        return QueryResult.model_validate({**hit, "cached": True})
    page = await executor.fetch_page(
        sql, args, timeout_s=timeout_s, offset=offset, limit=page_size, role=role
    )
    result = QueryResult(
        columns=[ColumnInfo(name=c.name, type=c.type) for c in page.columns],
        rows=page.rows,
        row_count=len(page.rows),
        truncated=page.has_more,
        next_cursor=(
            Cursor(query=query_id, offset=page.next_offset, version=data_version).encode()
            if page.next_offset is not None
            else None
        ),
        data_version=data_version,
    )
    await cache.put(key, result.model_dump(mode="json", exclude={"cached", "saved_as"}))
    return result
