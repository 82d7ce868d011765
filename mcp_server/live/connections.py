"""The client connection behind a request: what per-client state (subscriptions, log level) hangs on.

The SDK (2.3) hands a handler a `ServerSession` that lives for one request; the `Connection` it
wraps lives as long as the client stays, and its outbound channel reaches the client after the
request ended (the standalone SSE stream over HTTP). Nothing public names it, so it is read here,
once, from the session.
"""

from __future__ import annotations

from typing import Any

from mcp.server.session import ServerSession


def client_connection(session: ServerSession) -> Any:
    return getattr(session, "_connection", session)
