"""`search_catalog` and `explain_query`: finding things, and knowing a query's cost before running it."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.catalog_search import CatalogIndex, catalog_entries
from mcp_server.context import AppContext, app_context
from mcp_server.errors import InputValidationError, QueryError
from mcp_server.query.mart_sql import ParamValue
from mcp_server.security.principal import current_principal
from mcp_server.security.rbac import query_role_for
from mcp_server.security.sql_guard import SqlRejected, guard_sql
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY

SEARCH_DESCRIPTION = """Search the warehouse's catalog by meaning: marts, their columns, business rules and
standard analyses, ranked by how well their names and dbt descriptions match `text` (e.g.
"payment method revenue", "dropped calls", "how is churn defined"). Each hit names its kind, a
one-line summary and the resource to read next (mart://<name>, docs://data_dictionary,
templates://analysis/<type>). Pages like the query tools (cursor / next_cursor)."""

EXPLAIN_DESCRIPTION = """Show PostgreSQL's plan for a query without running it (EXPLAIN, never ANALYZE):
estimated rows and cost of the whole query and of each step. The query goes through the same
guard as query_database, so what this refuses, query_database refuses too. Use it to check a
heavy query before running it; a plan far above the marts' sizes says to filter more or use a
mart."""


class CatalogHit(BaseModel):
    kind: str = Field(description="mart, column, rule (a business rule) or analysis")
    name: str = Field(description="Mart, mart.column, rule or analysis name")
    summary: str
    uri: str | None = Field(description="The resource to read for the whole story")
    score: float = Field(description="How well it matches, 0-1")


class CatalogPage(BaseModel):
    hits: list[CatalogHit]
    total: int = Field(description="Hits in all pages")
    next_cursor: str | None = Field(default=None, description="Pass back as `cursor` for the next page")


class PlanStep(BaseModel):
    node: str = Field(description="What PostgreSQL does at this step (Seq Scan, Hash Join, ...)")
    relation: str | None = None
    estimated_rows: float
    total_cost: float
    depth: int


class QueryPlan(BaseModel):
    estimated_rows: float = Field(description="Rows the planner expects the query to return")
    total_cost: float = Field(description="The planner's cost units for the whole query")
    max_query_cost: float | None = Field(
        description="query_database refuses plans above this (null: no limit)"
    )
    steps: list[PlanStep] = Field(description="The plan's steps, top first (at most 50)")


async def _index(app: AppContext) -> CatalogIndex:
    marts = await app.marts()
    key = (await app.version.current(), app.manifest.fingerprint())
    cached = app.catalog_index
    if cached is None or cached[0] != key:
        cached = (key, CatalogIndex(catalog_entries(marts, app.manifest.path)))
        app.catalog_index = cached
    return cached[1]


def _steps(plan: dict[str, Any], depth: int = 0) -> list[PlanStep]:
    steps = [
        PlanStep(
            node=str(plan.get("Node Type", "?")),
            relation=plan.get("Relation Name"),
            estimated_rows=float(plan.get("Plan Rows", 0)),
            total_cost=float(plan.get("Total Cost", 0)),
            depth=depth,
        )
    ]
    for child in plan.get("Plans", []) or []:
        steps += _steps(child, depth + 1)
    return steps


async def explain_guarded(
    app: AppContext, query: str, parameters: dict[str, ParamValue] | None
) -> dict[str, Any]:
    """The plan of a query that passed the guard, as the caller's role would run it."""
    try:
        guarded = guard_sql(query, parameters, policy=app.function_policy)
    except SqlRejected as exc:
        raise QueryError(exc.reason) from None
    return await app.executor.explain(
        guarded.sql,
        guarded.args,
        timeout_s=app.settings.query_timeout_max,
        role=query_role_for(current_principal().role, admin_role=app.settings.query_admin_role),
    )


def register(server: MCPServer) -> None:
    @server.tool(
        name="search_catalog",
        title="Search the catalog",
        description=SEARCH_DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.DATA,
    )
    async def search_catalog(
        text: Annotated[str, Field(min_length=1, max_length=500, description="What you are looking for")],
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=50, description="Hits per page")] = 10,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> CatalogPage:
        app = app_context(ctx)
        start = 0
        if cursor is not None:
            if not cursor.isdigit():
                raise InputValidationError(
                    "cursor is not one this tool gave", hint="pass next_cursor unchanged"
                )
            start = int(cursor)
        ranked = (await _index(app)).search(text)
        page = ranked[start : start + limit]
        return CatalogPage(
            hits=[
                CatalogHit(kind=e.kind, name=e.name, summary=e.summary[:300], uri=e.uri, score=round(s, 4))
                for e, s in page
            ],
            total=len(ranked),
            next_cursor=str(start + limit) if start + limit < len(ranked) else None,
        )

    @server.tool(
        name="explain_query",
        title="Explain a query's plan",
        description=EXPLAIN_DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.DATA,
    )
    async def explain_query(
        query: Annotated[
            str, Field(min_length=1, max_length=100_000, description="One SELECT, as for query_database")
        ],
        ctx: Context,
        parameters: Annotated[
            dict[str, ParamValue] | None, Field(description="Values for :name placeholders")
        ] = None,
    ) -> QueryPlan:
        app = app_context(ctx)
        plan = await explain_guarded(app, query, parameters)
        return QueryPlan(
            estimated_rows=float(plan.get("Plan Rows", 0)),
            total_cost=float(plan.get("Total Cost", 0)),
            max_query_cost=app.settings.max_query_cost,
            steps=_steps(plan)[:50],
        )
