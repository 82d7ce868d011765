"""`query_database`: ad-hoc read-only SQL for questions the marts do not answer directly."""

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from mcp_server.context import AppContext, app_context
from mcp_server.errors import QueryError
from mcp_server.freshness import touched_marts
from mcp_server.observability.tracing import span
from mcp_server.query.mart_sql import ParamValue
from mcp_server.query.service import QueryResult
from mcp_server.security.principal import current_principal
from mcp_server.security.rbac import query_role_for
from mcp_server.security.sql_guard import SqlRejected, guard_sql
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY, save_result

DESCRIPTION = """Run one read-only SQL query (PostgreSQL dialect) against the warehouse; get a page of rows.

Readable schemas: marts (curated: dim_customers, customer_features, fct_customer_churn_monthly,
fct_arpu_monthly, fct_network_quality_daily), intermediate and staging; admins also raw.
Prefer list_marts/query_mart for the marts; read schema://database/main for every table and column.
Rules: a single SELECT (WITH/CTEs, window functions, UNION allowed); no comments; no writes, locks
or INTO; PostgreSQL's built-in functions only (not admin, file, sleep, settings or server-information
ones; a refusal names anything else). Values go in `parameters` and are referenced as :name or
%(name)s, never pasted into the SQL. Results come in pages of `max_rows`; pass `next_cursor` back
as `cursor` (same query and parameters) for the next page. Give `session_id` + `save_as` to keep
the page in a session for later analysis."""


def register(server: MCPServer) -> None:
    @server.tool(
        name="query_database",
        title="Run read-only SQL",
        description=DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.DATA,
    )
    async def query_database(
        query: Annotated[str, Field(min_length=1, max_length=20_000, description="One SELECT statement")],
        ctx: Context,
        parameters: Annotated[
            dict[str, ParamValue], Field(description="Named values for :name / %(name)s placeholders")
        ] = {},  # noqa: B006 - pydantic copies defaults; this is the published schema default
        timeout: Annotated[
            int, Field(ge=1, le=3600, description="Seconds before the query is cancelled")
        ] = 30,
        max_rows: Annotated[
            int, Field(ge=1, le=50_000, description="Rows per page (capped by the server)")
        ] = 1000,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
        session_id: Annotated[str | None, Field(description="Session to save the rows into")] = None,
        save_as: Annotated[str | None, Field(description="Session data key for the rows")] = None,
    ) -> QueryResult:
        app = app_context(ctx)
        try:
            with span("sql guard"):
                guarded = guard_sql(query, parameters, policy=app.function_policy)
        except SqlRejected as exc:
            raise QueryError(exc.reason) from None
        role = current_principal().role
        if app.settings.max_query_cost is not None and role != "admin":
            await _refuse_costly(app, guarded.sql, guarded.args)
        result = await app.queries.run(
            sql=guarded.sql,
            args=guarded.args,
            fingerprint=guarded.fingerprint,
            timeout_s=min(timeout, app.settings.query_timeout_max),
            page_size=max_rows,
            cursor=cursor,
            role=query_role_for(role, admin_role=app.settings.query_admin_role),
        )
        # "Touched" is what the guard's parsed tree names, so the freshness is that of these marts.
        touched = touched_marts(guarded.tables, await app.marts())
        result = result.model_copy(update={"freshness": await app.freshness.for_marts(touched)})
        return await save_result(
            app,
            result,
            session_id=session_id,
            save_as=save_as,
            source={"tool": "query_database", "query": guarded.sql},
        )


async def _refuse_costly(app: AppContext, sql: str, args: tuple[object, ...]) -> None:
    """`QueryError` before running a query the planner costs above TELCOPULSE_MAX_QUERY_COST."""
    limit = app.settings.max_query_cost
    plan = await app.executor.explain(sql, args, timeout_s=app.settings.query_timeout_max)
    cost = float(plan.get("Total Cost", 0))
    if limit is not None and cost > limit:
        raise QueryError(
            f"the planner estimates this query at cost {cost:,.0f}, above the limit of {limit:,.0f}",
            hint="read a mart (list_marts, query_mart) or add filters that narrow the rows; "
            "explain_query shows where the cost is",
        )
