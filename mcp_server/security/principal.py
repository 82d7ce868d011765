"""Who is calling, for the duration of one MCP request.

The HTTP auth middleware verifies the API key and leaves the principal in the ASGI scope;
the MCP middleware below moves it into a context variable for the request's handler, so
the policy check, session ownership, rate limit and audit all read the same identity.
Over stdio (and the in-memory transport) there is no key: the local user acts with the
role configured for stdio.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from mcp_server.errors import AuthError
from mcp_server.security.identity import Principal, Role

_current: ContextVar[Principal | None] = ContextVar("telcopulse_principal", default=None)


def local_principal(role: Role) -> Principal:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "local"
    return Principal(key_id="stdio", name=f"local:{user}", role=role)


def peek_principal() -> Principal | None:
    return _current.get()


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise AuthError("no caller identity for this request", hint="send an API key")
    return principal


def principal_middleware(
    default: Principal,
) -> Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]:
    """MCP server middleware: the verified HTTP principal, or `default` where there is no HTTP."""

    async def middleware(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        request = getattr(ctx, "request", None)
        state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
        principal = state.get("principal") if isinstance(state, dict) else None
        token = _current.set(principal or default)
        try:
            return await call_next(ctx)
        finally:
            _current.reset(token)

    return middleware
