"""Session ownership, enforced: every path that touches session data calls `authorize_session`.

The session tools, save_as, analyses and charts of session data all go through here. The
rule itself (owners and admins may do everything, users a session was shared with at
creation may read it) is an identity fact and lives in `identity.session_access`; this
module fetches the session and turns a refusal into a `Forbidden` an agent can act on.
"""

from __future__ import annotations

from mcp_server.context import AppContext
from mcp_server.errors import Forbidden
from mcp_server.security.identity import session_access
from mcp_server.security.principal import current_principal
from mcp_server.sessions.store import SessionInfo


async def authorize_session(app: AppContext, session_id: str, *, write: bool) -> SessionInfo:
    """The session, if the caller may use it this way (raises Forbidden otherwise)."""
    info = await app.sessions.get(session_id)
    access = session_access(current_principal(), info.user_id, info.metadata.get("shared_with") or [])
    if access == "write" or (access == "read" and not write):
        return info
    raise Forbidden(
        f"session {session_id} belongs to another user"
        + ("; it is shared with you read-only" if access == "read" else ""),
        hint="use a session you created, or ask its owner to share it",
    )
