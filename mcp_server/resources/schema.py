"""`schema://database/main`: the warehouse as it is right now, read from the catalog."""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from mcp_server.dependencies import LOOKUP_TIMEOUT, postgres_connection

_TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       greatest(c.reltuples, 0)::bigint AS row_estimate, obj_description(c.oid, 'pg_class') AS comment
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2
"""
_COLUMNS_SQL = """
SELECT n.nspname AS schema, c.relname AS name, a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_value
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1, 2, a.attnum
"""
_CONSTRAINTS_SQL = """
SELECT n.nspname AS schema, c.relname AS name, k.conname AS constraint,
       pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY 1, 2, 3
"""
_INDEXES_SQL = """
SELECT schemaname AS schema, tablename AS name, indexname AS index, indexdef AS definition
FROM pg_indexes WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
ORDER BY 1, 2, 3
"""
_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view"}


async def render_schema(
    pool: asyncpg.Pool, readable_schemas: list[str], *, acquire_timeout: float = 5.0
) -> str:
    """The schema as markdown; `Unavailable` when PostgreSQL is down or the pool is full."""
    async with postgres_connection(pool, acquire_timeout=acquire_timeout, timeouts_mean_down=True) as conn:
        tables = await conn.fetch(_TABLES_SQL, timeout=LOOKUP_TIMEOUT)
        columns = await conn.fetch(_COLUMNS_SQL, timeout=LOOKUP_TIMEOUT)
        constraints = await conn.fetch(_CONSTRAINTS_SQL, timeout=LOOKUP_TIMEOUT)
        indexes = await conn.fetch(_INDEXES_SQL, timeout=LOOKUP_TIMEOUT)
    by_table: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in columns:
        by_table[(row["schema"], row["name"])]["columns"].append(row)
    for row in constraints:
        by_table[(row["schema"], row["name"])]["constraints"].append(row)
    for row in indexes:
        by_table[(row["schema"], row["name"])]["indexes"].append(row)

    lines = [
        "# Warehouse schema (live)",
        "",
        f"Readable with query_database / query_mart: {', '.join(readable_schemas)}. "
        "Other schemas are listed for context only.",
    ]
    current_schema = None
    for table in tables:
        schema, name = table["schema"], table["name"]
        if schema != current_schema:
            current_schema = schema
            access = "readable" if schema in readable_schemas else "not readable by query tools"
            lines += ["", f"## Schema `{schema}` ({access})"]
        details = by_table[(schema, name)]
        lines += [
            "",
            f"### `{schema}.{name}` — {_KINDS.get(table['kind'], table['kind'])}, "
            f"~{table['row_estimate']:,} rows",
        ]
        if table["comment"]:
            lines.append(table["comment"])
        lines += ["", "| column | type | nullable | default |", "|---|---|---|---|"]
        for col in details["columns"]:
            default = f"`{col['default_value']}`" if col["default_value"] else ""
            lines.append(
                f"| {col['column']} | {col['type']} | {'no' if col['not_null'] else 'yes'} | {default} |"
            )
        if details["constraints"]:
            lines += ["", "Constraints:"]
            lines += [f"- `{c['constraint']}`: `{c['definition']}`" for c in details["constraints"]]
        if details["indexes"]:
            lines += ["", "Indexes:"]
            lines += [f"- `{i['index']}`: `{i['definition']}`" for i in details["indexes"]]
    return "\n".join(lines) + "\n"
