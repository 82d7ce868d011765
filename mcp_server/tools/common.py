"""Pieces several tool modules share: annotations, and saving results into a session."""

from __future__ import annotations

from typing import Any

from mcp_types import ToolAnnotations

from mcp_server.context import AppContext
from mcp_server.errors import InputValidationError
from mcp_server.query.service import QueryResult
from mcp_server.security.session_access import authorize_session
from mcp_server.sessions.saved_table import SavedTable

READ_ONLY = ToolAnnotations(
    readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False
)
SESSION_WRITE = ToolAnnotations(
    readOnlyHint=False, destructiveHint=False, idempotentHint=True, openWorldHint=False
)


async def save_result(
    app: AppContext,
    result: QueryResult,
    *,
    session_id: str | None,
    save_as: str | None,
    source: dict[str, Any],
) -> QueryResult:
    """Store the page's rows under a session key so later analyses can run on them.

    The stored value is a `SavedTable`, the shape analyze_data and create_visualization read back.
    """
    if save_as is None and session_id is None:
        return result
    if not (save_as and session_id):
        raise InputValidationError("save_as and session_id go together", hint="pass both, or neither")
    saved = SavedTable(
        columns=[c.model_dump() for c in result.columns],
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
        data_version=result.data_version,
        source=source,
    )
    await authorize_session(app, session_id, write=True)
    await app.sessions.write(session_id, save_as, saved.to_session_value())
    return result.model_copy(update={"saved_as": save_as})
