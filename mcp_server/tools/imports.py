"""`list_imports`: what teams loaded with `telcopulse import`, and why records were kept aside.

Admin-only (security/rbac.py): a reject carries the record as read from the file and the
offending value in its reason, which can be personal data. The RBAC gate refuses other roles
before this code runs, so nothing here filters by role. The audit trail records the call, not
the values (observability/tool_audit.py).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from mcp_server.context import app_context
from mcp_server.dependencies import LOOKUP_TIMEOUT
from mcp_server.errors import NotFound
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY

EXAMPLES_PER_RULE = 3
RECORD_NUMBERS_PER_RULE = 10

DESCRIPTION = """Admin: recent file imports (telcopulse import) from ops.imports, newest first: table, file,
status (loaded / refused), row counts, when, the refusal reason, days touched. With import_id, also that
import's rejected records grouped by rule (e.g. "age:range"): how many, their record numbers (line / row /
page in the file) and a few examples with the full reason and the record as read."""


class ImportInfo(BaseModel):
    import_id: str
    table_name: str = Field(description="raw table the file was loaded into")
    source_file: str
    format: str
    status: str = Field(description="loaded, or refused (nothing written to raw; see error)")
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int = Field(description="Records already in raw (skipped)")
    rows_updated: int = Field(description="Existing customers updated in place")
    started_at: dt.datetime
    finished_at: dt.datetime
    error: str | None = Field(description="Why the file was refused")
    first_affected_day: dt.date | None = Field(description="Earliest event/transaction day that got rows")
    last_affected_day: dt.date | None
    affected_day_count: int
    history_changed: bool = Field(description="An existing customer's signup/location/account type changed")


class RejectExample(BaseModel):
    record_number: str = Field(description='Where in the file, e.g. "line 12", "page 2 row 5"')
    reason: str = Field(description="Column, rule and offending value")
    record: dict[str, Any] = Field(description="The record as read from the file")


class RejectGroup(BaseModel):
    rule: str = Field(description='column:rule, e.g. "age:range"')
    records: int = Field(description="Rejected records that broke this rule (a record may break several)")
    record_numbers: list[str] = Field(description=f"The first {RECORD_NUMBERS_PER_RULE}, in file order")
    examples: list[RejectExample] = Field(description=f"The first {EXAMPLES_PER_RULE}, in file order")


class ImportList(BaseModel):
    imports: list[ImportInfo]
    rejects: list[RejectGroup] | None = Field(
        default=None, description="With import_id: its rejected records by rule, most frequent first"
    )


_COLUMNS = """
    import_id::text AS import_id, table_name, source_file, format, status, rows_read, rows_loaded,
    rows_rejected, rows_duplicate, rows_updated, started_at, finished_at, error,
    (SELECT min(d) FROM unnest(affected_days) AS d) AS first_affected_day,
    (SELECT max(d) FROM unnest(affected_days) AS d) AS last_affected_day,
    cardinality(affected_days) AS affected_day_count, history_changed
"""
_RECENT_SQL = f"SELECT {_COLUMNS} FROM ops.imports ORDER BY finished_at DESC, started_at DESC LIMIT $1"
_ONE_SQL = f"SELECT {_COLUMNS} FROM ops.imports WHERE import_id = $1"
# Numbered per rule in file order; only the first few rows per rule leave the database.
_REJECTS_SQL = f"""
WITH per_rule AS (
    SELECT rule, r.record_number, r.reason, r.record,
           row_number() OVER (PARTITION BY rule ORDER BY r.record_index, r.reject_id) AS n,
           count(*) OVER (PARTITION BY rule) AS records
    FROM ops.import_rejects AS r CROSS JOIN LATERAL unnest(r.rules) AS rule
    WHERE r.import_id = $1
)
SELECT rule, records, n, record_number, reason, record
FROM per_rule WHERE n <= {max(EXAMPLES_PER_RULE, RECORD_NUMBERS_PER_RULE)}
ORDER BY records DESC, rule, n
"""


def _record(value: Any) -> dict[str, Any]:
    # asyncpg returns JSONB as text unless a codec is set on the pool.
    parsed = json.loads(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def _groups(rows: list[Any]) -> list[RejectGroup]:
    groups: dict[str, RejectGroup] = {}
    for row in rows:
        group = groups.get(row["rule"])
        if group is None:
            group = groups[row["rule"]] = RejectGroup(
                rule=row["rule"], records=row["records"], record_numbers=[], examples=[]
            )
        if row["n"] <= RECORD_NUMBERS_PER_RULE:
            group.record_numbers.append(row["record_number"])
        if row["n"] <= EXAMPLES_PER_RULE:
            group.examples.append(
                RejectExample(
                    record_number=row["record_number"], reason=row["reason"], record=_record(row["record"])
                )
            )
    return list(groups.values())


def register(server: MCPServer) -> None:
    @server.tool(
        name="list_imports",
        title="List file imports (admin)",
        description=DESCRIPTION,
        annotations=READ_ONLY,
        icons=icons.ADMIN,
    )
    async def list_imports(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=200, description="How many recent imports")] = 20,
        import_id: Annotated[
            uuid.UUID | None, Field(description="One import (from this list) to show with its rejects")
        ] = None,
    ) -> ImportList:
        app = app_context(ctx)
        # A bounded wait for a connection, outages named (the pool's own fetch waits forever).
        async with app.postgres(lookup=True) as conn:
            if import_id is None:
                rows = await conn.fetch(_RECENT_SQL, limit, timeout=LOOKUP_TIMEOUT)
                return ImportList(imports=[ImportInfo(**dict(row)) for row in rows])
            row = await conn.fetchrow(_ONE_SQL, import_id, timeout=LOOKUP_TIMEOUT)
            rejects = [] if row is None else await conn.fetch(_REJECTS_SQL, import_id, timeout=LOOKUP_TIMEOUT)
        if row is None:
            raise NotFound(
                f"no import {import_id}", hint="call list_imports without import_id to see recent imports"
            )
        return ImportList(imports=[ImportInfo(**dict(row))], rejects=_groups(rejects))
