"""Who may call what: one policy table, enforced in one place.

Every tool is listed with the roles allowed to call it; a tool missing from the table is
callable by nobody (deny by default). The server consults `allowed` when listing tools (a
role never sees a tool it cannot use) and when calling one (`Forbidden` names the roles
that would be allowed). Resources and prompts are documentation and open to every role.

Roles, as the seed defines them:
- admin: everything, including other users' sessions, cache maintenance and file imports
  with their rejected records;
- analyst: read-only data access (marts, guarded SQL), analyses, charts, own sessions;
- viewer: read sessions shared with it, plus resources and prompts.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["admin", "analyst", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "analyst", "viewer")

_ANALYST: frozenset[Role] = frozenset({"admin", "analyst"})
_EVERYONE: frozenset[Role] = frozenset(ROLES)
_ADMIN: frozenset[Role] = frozenset({"admin"})

TOOL_POLICY: dict[str, frozenset[Role]] = {
    "list_marts": _ANALYST,
    "query_mart": _ANALYST,
    "query_database": _ANALYST,
    "analyze_data": _ANALYST,
    "create_visualization": _ANALYST,
    "session_create": _ANALYST,
    "session_update": _ANALYST,
    "session_close": _ANALYST,
    "session_read": _EVERYONE,
    "cache_clear": _ADMIN,
    # Rejected records carry file contents (personal data): admins only.
    "list_imports": _ADMIN,
}


def allowed(tool: str, role: str) -> bool:
    return role in TOOL_POLICY.get(tool, frozenset())


def roles_for(tool: str) -> list[str]:
    return sorted(TOOL_POLICY.get(tool, frozenset()))


def can_access_session(role: str, principal: str, owner: str | None, shared_with: list[str]) -> bool:
    """Admins see every session; others their own, and viewers those shared with them."""
    if role == "admin":
        return True
    if owner is not None and owner == principal:
        return True
    return principal in shared_with
