"""McpRequestGuard hands every request to the app as the app expects it, GET included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mcp_server.http_limits import McpRequestGuard


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_a_bodyless_request_reaches_the_app_with_its_request_message(method: str) -> None:
    """The standalone SSE stream (GET) once never opened: the app waited for a request message
    the guard had swallowed, so 2025-era clients got no server-initiated notifications."""
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await incoming.put({"type": "http.request", "body": b"", "more_body": False})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/mcp", "headers": []}
    await asyncio.wait_for(McpRequestGuard(app)(scope, incoming.get, send), timeout=5)
    assert seen == [{"type": "http.request", "body": b"", "more_body": False}]
    assert sent[0]["status"] == 200
