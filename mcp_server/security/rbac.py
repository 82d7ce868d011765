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

The role names themselves, and which session a caller may use (owner/admin, or shared
read-only), are identity facts: `mcp_server/security/identity.py`.
"""

from __future__ import annotations

from mcp_server.security.identity import ROLES, Role

_ANALYST: frozenset[Role] = frozenset({"admin", "analyst"})
_EVERYONE: frozenset[Role] = frozenset(ROLES)
_ADMIN: frozenset[Role] = frozenset({"admin"})

TOOL_POLICY: dict[str, frozenset[Role]] = {
    "list_marts": _ANALYST,
    "query_mart": _ANALYST,
    "query_database": _ANALYST,
    "explain_query": _ANALYST,
    "export_result": _ANALYST,
    # The catalog is the data dictionary searched: documentation, like the resources.
    "search_catalog": _EVERYONE,
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


def query_role_for(role: str, *, admin_role: str) -> str | None:
    """The PostgreSQL role a caller's ad-hoc SQL runs as; None keeps the executor's query role.

    Admins read raw (files as loaded, personal data included) through `admin_role`; every
    other role stays on the default query role's curated schemas. Decided here with the rest
    of who-may-do-what, so a tool cannot widen database access on its own. Roles as strings,
    like `allowed`; the admin role's name is configuration (`Settings.query_admin_role`).
    """
    return admin_role if role == "admin" else None
