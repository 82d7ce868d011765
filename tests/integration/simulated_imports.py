"""Stand-in for `telcopulse import` in tests of what happens after an import: the rows go
into raw.* by the test itself, and this records the import as the importer would (its
ops.imports row, its rejects and an ops.raw_loads row of kind 'import'), in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg


def record_import(
    conn: psycopg.Connection,
    table: str,
    *,
    rows_loaded: int,
    affected_days: Iterable[dt.date] = (),
    history_changed: bool = False,
    status: str = "loaded",
    source_file: str | None = None,
    error: str | None = None,
    rejects: list[dict[str, Any]] | None = None,
    rows_updated: int = 0,
    rows_duplicate: int = 0,
) -> str:
    """Insert one ops.imports row (+ rejects, + an ops.raw_loads row when loaded); returns its id.

    The caller commits, together with the raw rows it wrote.
    """
    import_id = str(uuid.uuid4())
    rejects = rejects or []
    conn.execute(
        "INSERT INTO ops.imports (import_id, table_name, source_file, sha256, format, rows_read, rows_loaded,"
        " rows_rejected, rows_duplicate, rows_updated, status, started_at, error, affected_days,"
        " history_changed) VALUES (%s, %s, %s, %s, 'csv', %s, %s, %s, %s, %s, %s,"
        " clock_timestamp() - interval '1 second', %s, %s, %s)",
        (
            import_id,
            table,
            source_file or f"/home/team/exports/{table}-{import_id[:8]}.csv",
            hashlib.sha256(import_id.encode()).hexdigest(),
            rows_loaded + len(rejects) + rows_duplicate,
            rows_loaded,
            len(rejects),
            rows_duplicate,
            rows_updated,
            status,
            error,
            sorted(set(affected_days)),
            history_changed,
        ),
    )
    for index, reject in enumerate(rejects, start=1):
        conn.execute(
            "INSERT INTO ops.import_rejects (import_id, table_name, source_file, record_number, record_index,"
            " reason, rules, record) VALUES (%s, %s, 'f.csv', %s, %s, %s, %s, %s)",
            (
                import_id,
                table,
                reject.get("record_number", f"line {index + 1}"),
                index,
                reject["reason"],
                reject["rules"],
                json.dumps(reject["record"]),
            ),
        )
    if status == "loaded":
        conn.execute(
            "INSERT INTO ops.raw_loads (kind, parameters, row_counts) VALUES ('import', %s, %s)",
            (json.dumps({"import_id": import_id}), json.dumps({table: rows_loaded})),
        )
    return import_id
