"""`list_marts` and `query_mart`: the curated marts without writing SQL."""

import datetime as dt
import posixpath
from typing import Annotated

import asyncpg
from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.context import app_context
from mcp_server.dependencies import LOOKUP_TIMEOUT
from mcp_server.freshness import Freshness
from mcp_server.query.mart_sql import Filter, build_mart_query
from mcp_server.query.service import QueryResult
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY, save_result


class MartColumn(BaseModel):
    name: str
    type: str
    description: str
    tests: list[str] = Field(default_factory=list, description="dbt tests guarding this column")


class MartInfo(BaseModel):
    name: str
    grain: str = Field(description="What one row is")
    description: str
    time_column: str | None = Field(description="Column to filter or trend on")
    columns: list[MartColumn]
    row_estimate: int = Field(description="Approximate rows (planner statistics)")
    last_built_at: str | None = Field(description="When the marts were last rebuilt (UTC, ISO 8601)")
    data_version: str


class LastImport(BaseModel):
    table_name: str = Field(description="raw table the file went into")
    source_file: str = Field(description="File name (without its directory)")
    status: str = Field(description="loaded, or refused (nothing was written)")
    rows_loaded: int
    finished_at: str = Field(description="When the import finished (UTC, ISO 8601)")
    in_marts: bool = Field(
        description="A mart build finished after it, so the marts include its rows; false: wait for "
        "the next refresh"
    )


class MartList(BaseModel):
    marts: list[MartInfo]
    freshness: Freshness | None = Field(
        default=None, description="How fresh the marts are and how each one's data tests went"
    )
    last_import: LastImport | None = Field(
        default=None, description="The newest file import (telcopulse import), if any: data freshness"
    )


_LAST_BUILD_SQL = "SELECT max(finished_at) FROM ops.data_builds"
_LAST_IMPORT_SQL = (
    "SELECT table_name, source_file, status, rows_loaded, finished_at FROM ops.imports"
    " ORDER BY finished_at DESC, started_at DESC LIMIT 1"
)


async def _last_import(
    db: asyncpg.Pool | asyncpg.Connection, last_built: dt.datetime | None
) -> LastImport | None:
    try:
        row = await db.fetchrow(_LAST_IMPORT_SQL, timeout=LOOKUP_TIMEOUT)
    except asyncpg.UndefinedTableError:  # a warehouse migrated before imports existed
        return None
    if row is None:
        return None
    # The directory may name a person's home or a server path; the file name is what they chose.
    name = posixpath.basename(row["source_file"].replace("\\", "/")) or row["source_file"]
    return LastImport(
        table_name=row["table_name"],
        source_file=name,
        status=row["status"],
        rows_loaded=row["rows_loaded"],
        finished_at=row["finished_at"].isoformat(),
        in_marts=last_built is not None and last_built > row["finished_at"],
    )


def register(server: MCPServer) -> None:
    @server.tool(
        name="list_marts",
        title="List the marts",
        icons=icons.DATA,
        description="List the curated marts: grain, description, columns with their documentation "
        "(the dbt data dictionary) and freshness (last build; last file import and whether the marts "
        "include it yet). Start here, then use query_mart.",
        annotations=READ_ONLY,
    )
    async def list_marts(ctx: Context) -> MartList:
        app = app_context(ctx)
        marts = await app.marts()
        async with app.postgres(lookup=True) as conn:
            last_built = await conn.fetchval(_LAST_BUILD_SQL, timeout=LOOKUP_TIMEOUT)
            last_import = await _last_import(conn, last_built)
        version = await app.version.current()
        return MartList(
            freshness=await app.freshness.for_marts(marts),
            last_import=last_import,
            marts=[
                MartInfo(
                    name=m.name,
                    grain=m.grain,
                    description=m.description,
                    time_column=m.time_column,
                    columns=[
                        MartColumn(name=c.name, type=c.type, description=c.description, tests=list(c.tests))
                        for c in m.columns
                    ],
                    row_estimate=m.row_estimate,
                    last_built_at=last_built.isoformat() if last_built else None,
                    data_version=version,
                )
                for m in sorted(marts.values(), key=lambda m: m.name)
            ],
        )

    @server.tool(
        name="query_mart",
        title="Read a mart",
        icons=icons.DATA,
        description="Read a mart with validated columns, filters, grouping and ordering - no SQL needed. "
        'columns: names or aggregates like "sum(revenue)", "avg(churn_rate)", "count(*)", '
        '"count_distinct(location)" (output names sum_revenue, count, ...). filters: '
        '[{"column": "account_type", "op": "=", "value": "Basic"}]. order_by: ["month desc"]. '
        "Pages like query_database (cursor / next_cursor).",
        annotations=READ_ONLY,
    )
    async def query_mart(
        mart: Annotated[str, Field(description="Mart name from list_marts, e.g. fct_arpu_monthly")],
        ctx: Context,
        columns: Annotated[list[str] | None, Field(description="Columns/aggregates; default all")] = None,
        filters: Annotated[list[Filter] | None, Field(description="Conditions, all must hold")] = None,
        group_by: Annotated[list[str] | None, Field(description="Columns to group by")] = None,
        order_by: Annotated[list[str] | None, Field(description='e.g. ["month desc"]')] = None,
        limit: Annotated[int, Field(ge=1, le=50_000, description="Rows per page")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        session_id: Annotated[str | None, Field(description="Session to save the rows into")] = None,
        save_as: Annotated[str | None, Field(description="Session data key for the rows")] = None,
    ) -> QueryResult:
        app = app_context(ctx)
        built = build_mart_query(
            await app.mart(mart), columns=columns, filters=filters, group_by=group_by, order_by=order_by
        )
        result = await app.queries.run(
            sql=built.sql,
            args=built.args,
            fingerprint=built.fingerprint,
            timeout_s=app.settings.query_timeout_max,
            page_size=limit,
            cursor=cursor,
        )
        result = result.model_copy(update={"freshness": await app.freshness.for_marts([mart])})
        return await save_result(
            app, result, session_id=session_id, save_as=save_as, source={"tool": "query_mart", "mart": mart}
        )
