"""`logging/setLevel` and `notifications/message`: a client may watch what the server does for it.

Per connection, the level the client set (protocol 2025-11-25); nothing is sent to a client that
set none. What is sent is about the client's own calls only (tool, outcome, duration, rows), never
another client's, and never argument values: the same rule as the server's own log.
"""

from __future__ import annotations

import weakref
from typing import Any

from mcp.server.session import ServerSession

from mcp_server.live.connections import client_connection

LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class ClientLogLevels:
    def __init__(self) -> None:
        self._levels: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def set(self, session: ServerSession, level: str) -> None:
        self._levels[client_connection(session)] = level

    def wants(self, session: ServerSession, level: str) -> bool:
        configured = self._levels.get(client_connection(session))
        return configured is not None and LEVELS.index(level) >= LEVELS.index(configured)
