"""Writing and reading ops.quality_results (migration 0010).

The rows are plain values, not `quality` objects: `warehouse` may not import `quality`,
and the table must stay readable by anything (the MCP server, a person with psql). The
Dagster checks and the import gate convert their suite results into `QualityResultRow`s.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from warehouse.db import connect


@dataclass(frozen=True)
class QualityResultRow:
    table_name: str
    scope: str
    expectation: str
    column_name: str | None
    severity: str
    success: bool
    observed: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


_INSERT = (
    "INSERT INTO ops.quality_results (checked_at, table_name, scope, expectation, column_name, severity,"
    " success, observed, details, run_id, import_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def record_quality_results(
    database_url: str,
    rows: Sequence[QualityResultRow],
    *,
    run_id: str | None = None,
    import_id: str | uuid.UUID | None = None,
    checked_at: dt.datetime | None = None,
) -> int:
    """Insert one row per evaluation on a connection of its own; returns the rows written.

    Its own connection and transaction: a verdict that refuses an import must outlive the
    import's rolled-back transaction.
    """
    if not rows:
        return 0
    checked_at = checked_at or dt.datetime.now(dt.UTC)
    with connect(database_url) as conn, conn.cursor() as cur:
        cur.executemany(
            _INSERT,
            [
                (
                    checked_at,
                    r.table_name,
                    r.scope,
                    r.expectation,
                    r.column_name,
                    r.severity,
                    r.success,
                    Jsonb(r.observed),
                    Jsonb(r.details),
                    run_id,
                    str(import_id) if import_id else None,
                )
                for r in rows
            ],
        )
    return len(rows)


def quality_results_table_exists(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT to_regclass('ops.quality_results') IS NOT NULL").fetchone()[0]


def latest_quality_results(database_url: str, table: str | None = None) -> list[dict[str, Any]]:
    """The rows of the most recent evaluation of each table (or of one table), failures first."""
    query = (
        "SELECT r.table_name, r.scope, r.expectation, r.column_name, r.severity, r.success, r.observed,"
        " r.details, r.checked_at, r.run_id FROM ops.quality_results r"
        " JOIN (SELECT table_name, max(checked_at) AS checked_at FROM ops.quality_results"
        "       WHERE scope = 'table' GROUP BY table_name) latest USING (table_name, checked_at)"
        " WHERE r.scope = 'table' AND (%(table)s::text IS NULL OR r.table_name = %(table)s)"
        " ORDER BY r.table_name, r.success, r.severity, r.expectation, r.column_name"
    )
    with connect(database_url) as conn:
        cur = conn.execute(query, {"table": table})
        columns = [c.name for c in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
