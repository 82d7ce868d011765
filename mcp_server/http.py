"""Streamable-HTTP transport: the Starlette app, its host checks, health, readiness, metrics and
export downloads."""

from __future__ import annotations

import gc
from pathlib import Path

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_server.app import TelcopulseMCP, build_server
from mcp_server.exports.download import download_response
from mcp_server.exports.links import DOWNLOAD_PREFIX, DOWNLOAD_ROUTE
from mcp_server.http_limits import McpRequestGuard, guarded_protocol
from mcp_server.observability.endpoints import metrics_response, readiness_response
from mcp_server.security.api_keys import open_key_store
from mcp_server.security.auth import ApiKeyMiddleware
from warehouse.settings import Settings

_LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]


def transport_security(settings: Settings) -> TransportSecuritySettings:
    """DNS-rebinding protection stays on; extra hostnames (a load balancer's) are opted in by config."""
    hosts = _LOCAL_HOSTS + [h if ":" in h else f"{h}:*" for h in settings.mcp_allowed_hosts]
    hosts += [h for h in settings.mcp_allowed_hosts if ":" not in h]
    origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def build_http_app(settings: Settings, server: TelcopulseMCP | None = None) -> Starlette:
    """The Starlette app; API keys are required unless TELCOPULSE_AUTH_REQUIRED=false."""
    server = server or build_server(settings)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": "telcopulse"})

    @server.custom_route("/readyz", methods=["GET"])
    async def readyz(_request: Request) -> JSONResponse:
        return await readiness_response(server)

    @server.custom_route("/metrics", methods=["GET"])
    async def metrics(request: Request) -> Response:
        return await metrics_response(server, request)

    @server.custom_route(DOWNLOAD_ROUTE, methods=["GET"])
    async def download_export(request: Request) -> Response:
        return await download_response(server, request)

    app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=settings.mcp_stateless,
        json_response=settings.mcp_stateless,
        transport_security=transport_security(settings),
        host=settings.mcp_host,
    )
    # Inside the API-key check: unauthenticated callers get 401 before any body is read.
    app.add_middleware(McpRequestGuard, security=transport_security(settings), path="/mcp")
    if settings.auth_required:
        store = open_key_store(settings)
        app.add_middleware(
            ApiKeyMiddleware,
            verify=store.averify,
            exempt_paths=("/healthz", "/readyz", *(("/metrics",) if settings.metrics_public else ())),
            exempt_prefixes=(DOWNLOAD_PREFIX,),
            on_failure=server.metrics.auth_failure_seen if server.metrics is not None else None,
        )
    return app


def serve_http(
    settings: Settings,
    *,
    host: str,
    port: int,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    log_level: str = "warning",
) -> None:
    import uvicorn

    certfile = ssl_certfile or settings.ssl_certfile
    keyfile = ssl_keyfile or settings.ssl_keyfile
    if bool(certfile) != bool(keyfile):
        raise SystemExit("HTTPS needs both --ssl-certfile and --ssl-keyfile")
    app = build_http_app(settings)
    freeze_startup_heap()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Header/body read deadlines and the connection caps: mcp_server.http_limits.
        http=guarded_protocol(settings),
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        access_log=False,  # request lines carry client addresses and paths; our own log is structured
    )


def freeze_startup_heap() -> None:
    """Move everything imported at start-up out of the garbage collector's sight.

    The server imports the analytics stack (pandas, scipy, sqlglot...) once: several hundred
    thousand long-lived objects that every full collection would scan again, ~100 ms each,
    a few times a minute under load. Frozen objects are never collected (they live as long
    as the process anyway); what requests allocate is collected as usual.
    """
    gc.collect()
    gc.freeze()


def serve_stdio(settings: Settings, *, metrics_port: int | None = None) -> None:
    """Stdio; with `metrics_port`, also /metrics and /readyz on 127.0.0.1:<metrics_port>."""
    server = build_server(settings)
    if metrics_port is None:
        server.run("stdio")
        return
    import anyio

    from mcp_server.observability.metrics_port import run_stdio_with_metrics_port

    anyio.run(run_stdio_with_metrics_port, server, metrics_port)
