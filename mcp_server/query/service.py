"""One path for every read: cache lookup, paging, execution, cache fill.

`query_database` (SQL the guard vetted) and `query_mart` (SQL built from validated
identifiers) both end here, through the one `QueryService` the app context builds, so
caching, cursors and limits behave the same for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from mcp_server.cache import DataVersion, QueryCache
from mcp_server.freshness import Freshness
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
    freshness: Freshness | None = Field(
        default=None, description="How fresh and well-tested the marts this answer read are"
    )


@dataclass(frozen=True)
class QueryService:
    """The read path with its collaborators bound once, by the app context.

    Tools used to pass executor, cache and data version on every call; binding them here
    means a tool cannot pair one executor with another cache, and a new read path (a
    tool, a bench) gets caching, paging and the role-aware key by calling `run`.
    """

    executor: ReadOnlyExecutor
    cache: QueryCache
    version: DataVersion
    # Told of every cache lookup (hit or not): the server's metrics.
    on_cache_lookup: Callable[[bool], None] | None = None

    async def run(
        self,
        *,
        sql: str,
        args: tuple[Any, ...] | list[Any],
        fingerprint: str,
        timeout_s: float,
        page_size: int,
        cursor: str | None,
        role: str | None = None,
    ) -> QueryResult:
        """One page of `sql`, from the cache when this version, role and page were seen.

        `role` overrides the executor's query role (admins read raw); it is part of the
        cache key, so a result one role may see is never served to another. A cursor is
        bound to the query and the data version, so it cannot page a different result.
        """
        data_version = await self.version.current()
        query_id = fingerprint[:24]
        offset = decode_cursor(cursor, query=query_id, version=data_version) if cursor else 0
        page_size = max(1, min(page_size, self.executor.max_rows))
        key = self.cache.key(data_version, role or "default", fingerprint, offset, page_size)
        hit = await self.cache.get(key)
        if self.on_cache_lookup is not None:
            self.on_cache_lookup(hit is not None)
        if hit is not None:
            return QueryResult.model_validate({**hit, "cached": True})
        page = await self.executor.fetch_page(
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
        await self.cache.put(key, result.model_dump(mode="json", exclude={"cached", "saved_as"}))
        return result
