"""Streamable-HTTP transport: the Starlette app, its host checks and a health endpoint."""

from __future__ import annotations

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from mcp_server.app import TelcopulseMCP, build_server
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
    server = server or build_server(settings)

    @server.custom_route("/healthz", methods=["GET"])
    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "server": "telcopulse"})

    return server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=settings.mcp_stateless,
        json_response=settings.mcp_stateless,
        transport_security=transport_security(settings),
        host=settings.mcp_host,
    )


def serve_http(settings: Settings, *, host: str, port: int, log_level: str = "warning") -> None:
    import uvicorn

    app = build_http_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, lifespan="on", timeout_graceful_shutdown=5)


def serve_stdio(settings: Settings) -> None:
    build_server(settings).run("stdio")
