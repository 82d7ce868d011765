"""Session ownership: who may read or change which session.

Owners and admins may do everything with a session; users it was shared with (at
creation, `shared_with`) may read it. Checked by every path that touches session data:
the session tools, save_as, analyses and charts of session data.
"""

from __future__ import annotations

from mcp_server.context import AppContext
from mcp_server.errors import Forbidden
from mcp_server.security.principal import current_principal
from mcp_server.sessions.store import SessionInfo


async def authorize_session(app: AppContext, session_id: str, *, write: bool) -> SessionInfo:
    """The session, if the caller may use it this way (raises Forbidden otherwise)."""
    info = await app.sessions.get(session_id)
    principal = current_principal()
    owner_or_admin = principal.role == "admin" or info.user_id == principal.name
    shared = principal.name in (info.metadata.get("shared_with") or [])
    if owner_or_admin or (shared and not write):
        return info
    raise Forbidden(
        f"session {session_id} belongs to another user"
        + ("; it is shared with you read-only" if shared else ""),
        hint="use a session you created, or ask its owner to share it",
    )
