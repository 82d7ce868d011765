"""What the audit log and the tool log line say about one call: who, which tool, which query
shape or data source, how many rows, how long, what outcome. Never argument values.

Also which calls are audited before they act (`audited_before_acting`): the one place that
decides, from the role table and the tool's own annotations, never from a second list.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from mcp_server.errors import TelcopulseError
from mcp_server.observability.audit import STARTED, AuditEvent, AuditLog
from mcp_server.security import rbac
from mcp_server.security.identity import Principal


def audited_before_acting(name: str, annotations: Any, arguments: Any) -> bool:
    """Whether a call of tool `name` is audited synchronously, before it acts.

    Yes for admin tools (only the admin role may call them, `rbac.TOOL_POLICY`), for tools
    that write (`readOnlyHint` not true on their definition; no annotations counts as a write)
    and for read tools asked to `save_as` into a session. Other reads stay batched.

    Such a call is gated on a `started` row committed in `ops.audit_log` before the tool
    runs, and answered only after its outcome row is committed too. Audit first, then act:
    "no unaudited admin action" holds even if the process or PostgreSQL dies mid-call (a
    `started` row without an outcome row then says the action may or may not have happened),
    and if PostgreSQL cannot take the `started` row the call answers `Unavailable` without
    acting. The other order (act, then audit) could only report a failed audit write after the
    action was done, and would leave it unaudited.
    """
    if rbac.roles_for(name) == ["admin"]:
        return True
    if getattr(annotations, "read_only_hint", None) is not True:  # `readOnlyHint` on the wire
        return True
    return isinstance(arguments, dict) and bool(arguments.get("save_as"))


def refused_when_unaudited(name: str) -> bool:
    """Whether a call must not run at all when its `started` row cannot be committed.

    Admin tools: "no unaudited admin action". A session write (a user's own scratch data in
    Redis) runs anyway, with its rows queued for the background writer: a PostgreSQL outage
    must not take the Redis-only tools down with it (issue 13), and the rows still arrive
    once PostgreSQL is back, unless the process dies first (the window docs/security.md states).
    """
    return rbac.roles_for(name) == ["admin"]


@lru_cache(maxsize=2048)
def _shape(sql: str) -> tuple[str, str]:
    return AuditLog.shape_of(sql)


def outcome_name(error: BaseException | None) -> str:
    """`ok`, or the name the caller saw first (`QueryError`...), else the exception's class name."""
    if error is None:
        return "ok"
    if isinstance(error, TelcopulseError):
        return error.code
    return type(error).__name__


def result_rows(result: Any) -> int | None:
    """The row count a tool's structured answer states, if any."""
    content = getattr(result, "structured_content", None)
    if not isinstance(content, dict):
        return None
    if isinstance(content.get("row_count"), int):
        return content["row_count"]
    metadata = content.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("row_count"), int):
        return metadata["row_count"]
    return None


def _query(name: str, arguments: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(shape, hash, data_source) of the call."""
    if name == "query_database" and isinstance(arguments.get("query"), str):
        shape, digest = _shape(arguments["query"][:20_000])
        return shape, digest, None
    if name == "query_mart" and isinstance(arguments.get("mart"), str):
        filters = arguments.get("filters")
        columns = (
            [f.get("column") for f in filters if isinstance(f, dict)] if isinstance(filters, list) else []
        )
        shape = (
            f"query_mart {arguments['mart']} columns={arguments.get('columns')} "
            f"filters_on={columns} group_by={arguments.get('group_by')}"
        )
        return shape[:4000], None, str(arguments["mart"])[:200]
    if name == "analyze_data":
        source = arguments.get("data_source")
        return f"analyze_data {arguments.get('analysis_type')}", None, str(source)[:200] if source else None
    return None, None, None


def intent_event(name: str, arguments: dict[str, Any], principal: Principal | None) -> AuditEvent:
    """The `started` row of a call audited before acting: who and what, no outcome yet."""
    event = audit_event(name, arguments, principal, None, None, 0)
    return dataclasses.replace(event, outcome=STARTED, duration_ms=None)


def audit_event(
    name: str,
    arguments: dict[str, Any],
    principal: Principal | None,
    result: Any,
    error: BaseException | None,
    duration_ms: int,
) -> AuditEvent:
    shape, digest, source = _query(name, arguments if isinstance(arguments, dict) else {})
    session_id = arguments.get("session_id") if isinstance(arguments, dict) else None
    return AuditEvent(
        tool=name[:200],
        outcome=outcome_name(error),
        key_id=principal.key_id if principal else None,
        principal=principal.name if principal else None,
        role=principal.role if principal else None,
        transport="stdio" if principal is None or principal.key_id == "stdio" else "http",
        # Error texts can quote the caller's values (a rejected parameter, a SQL literal in a
        # PostgreSQL message): the audit keeps the error's name in `outcome`, not its text.
        error=None,
        query_shape=shape,
        query_hash=digest,
        data_source=source,
        rows=result_rows(result),
        duration_ms=duration_ms,
        session_id=session_id if isinstance(session_id, str) else None,
    )
