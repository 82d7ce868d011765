"""`mart://<name>`: one mart as a resource an agent can read and subscribe to.

What a person would want before trusting a table: what one row is, every column with its dbt
documentation and tests, how many rows, how fresh and how well-tested the data is, and ten rows to
see the shape. The rows go through the same read path as `query_mart` (the query role, the cache),
and only to callers whose role may read marts: the rest get the description without data.
"""

from __future__ import annotations

import json
from typing import Any

from mcp_server.catalog import Mart
from mcp_server.context import AppContext
from mcp_server.query.mart_sql import build_mart_query
from mcp_server.security import rbac
from mcp_server.security.identity import Role

MART_SCHEME = "mart://"
MART_TEMPLATE = MART_SCHEME + "{name}"
SAMPLE_ROWS = 10


def mart_uri(name: str) -> str:
    return MART_SCHEME + name


async def render_mart(app: AppContext, name: str, role: Role | None) -> str | None:
    """The resource's JSON text; None when no mart has that name."""
    marts = await app.marts()
    mart = marts.get(name)
    if mart is None:
        return None
    freshness = await app.freshness.for_marts([name])
    body: dict[str, Any] = {
        "uri": mart_uri(name),
        "name": mart.name,
        "description": mart.description,
        "grain": mart.grain,
        "time_column": mart.time_column,
        "unique_key": list(mart.unique_key),
        "columns": [
            {"name": c.name, "type": c.type, "description": c.description, "tests": list(c.tests)}
            for c in mart.columns
        ],
        "freshness": freshness.model_dump(),
    }
    if role is None or rbac.allowed("query_mart", role):
        counted = await _read(app, mart, columns=["count(*)"], order_by=None, rows=1)
        body["row_count"] = counted[0]["count"] if counted else 0
        # In key order, so the same build always shows the same ten rows.
        body["sample"] = await _read(
            app, mart, columns=None, order_by=list(mart.unique_key), rows=SAMPLE_ROWS
        )
    else:
        body["sample"] = None
        body["note"] = f"role {role} may not read mart rows: the row count and sample are left out"
    return json.dumps(body, indent=2, default=str)


async def _read(
    app: AppContext, mart: Mart, *, columns: list[str] | None, order_by: list[str] | None, rows: int
) -> list[dict[str, Any]]:
    built = build_mart_query(mart, columns=columns, filters=None, group_by=None, order_by=order_by or None)
    result = await app.queries.run(
        sql=built.sql,
        args=built.args,
        fingerprint=built.fingerprint,
        timeout_s=app.settings.query_timeout_max,
        page_size=rows,
        cursor=None,
    )
    return result.rows
