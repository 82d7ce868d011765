"""`telcopulse serve --metrics-port N` for stdio: `/metrics` and `/readyz` on a port of their own.

A stdio server has no HTTP port for Prometheus to scrape, so a small Starlette app runs beside
it, in the same event loop, and stops when the stdio session ends. It binds to 127.0.0.1 only
and asks for no key: stdio has no API keys to check, and only processes on this machine can
reach a loopback port (the local user who already runs the server).

Stdout is the MCP stdio channel, so uvicorn gets no logging config of its own (its records go
through the server's stderr handler) and no access log: a single stray line on stdout would
corrupt the protocol.
"""

from __future__ import annotations

from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_server.observability.endpoints import metrics_response, readiness_response

LOOPBACK = "127.0.0.1"


def metrics_app(server: Any) -> Starlette:
    """The two operator endpoints of `server`, without keys (see the module docstring)."""

    async def metrics(request: Request) -> Response:
        return await metrics_response(server, request, public=True)

    async def readyz(_request: Request) -> JSONResponse:
        return await readiness_response(server)

    return Starlette(routes=[Route("/metrics", metrics), Route("/readyz", readyz)])


async def run_stdio_with_metrics_port(server: Any, port: int, host: str = LOOPBACK) -> None:
    """Serve stdio until the client leaves, with the metrics port open for exactly that long."""
    config = uvicorn.Config(
        metrics_app(server),
        host=host,
        port=port,
        lifespan="off",  # the MCP server's lifespan is the stdio session's, not this app's
        log_config=None,  # never uvicorn's default handlers: one of them writes to stdout
        access_log=False,
        log_level="warning",
    )
    web = uvicorn.Server(config)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve)
        try:
            await server.run_stdio_async()
        finally:
            web.should_exit = True
