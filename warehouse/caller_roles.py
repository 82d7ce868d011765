"""The roles a caller of the MCP server can hold: admin, analyst, viewer.

Why this lives in `warehouse` and not next to `Principal` in
`mcp_server/security/identity.py`: the settings (`TELCOPULSE_STDIO_ROLE`, the role of the
local stdio user) must be typed with it, settings are the lowest layer, and nothing under
`warehouse` may import `mcp_server`. So the names are defined here, once, with no
dependencies (the `telcopulse keys` CLI imports it without paying for pydantic), and
`identity` re-exports them: server code takes every identity fact from `identity`.

These are application roles (what a caller may do through the MCP tools); the PostgreSQL
login roles of the warehouse are a different thing and live in `warehouse/roles.py`.
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["admin", "analyst", "viewer"]
# Derived from `Role`, so the runtime list and the type cannot drift apart.
ROLES: tuple[Role, ...] = get_args(Role)
