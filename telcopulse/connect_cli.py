"""`telcopulse connect --client claude-desktop|cursor|code`: the snippet that connects an MCP client.

stdout is the snippet alone (JSON for Claude Desktop and Cursor, a `claude mcp add` command for
Claude Code), with this machine's absolute paths; where it goes is said on stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer

CLIENT_HELP = "claude-desktop, cursor or code (Claude Code)."
TRANSPORT_HELP = "stdio (the client starts the server; default) or http (the running server at /mcp)."
KEY_HELP = "API key for --transport http (`telcopulse keys create`, or the demo key `make up` printed)."
URL_HELP = "Server URL for --transport http (default http://TELCOPULSE_MCP_HOST:TELCOPULSE_MCP_PORT/mcp)."


def connect_command(
    client: Annotated[str, typer.Option("--client", help=CLIENT_HELP)],
    transport: Annotated[str, typer.Option("--transport", help=TRANSPORT_HELP)] = "stdio",
    key: Annotated[str | None, typer.Option("--key", help=KEY_HELP)] = None,
    url: Annotated[str | None, typer.Option("--url", help=URL_HELP)] = None,
) -> None:
    """Print the config snippet (or command) that connects Claude Desktop, Claude Code or Cursor."""
    import sys
    from pathlib import Path

    from telcopulse.connect import CLIENTS, TRANSPORTS, client_config, config_location
    from warehouse.settings import get_settings

    if client not in CLIENTS:
        raise typer.BadParameter(
            f"must be one of {', '.join(CLIENTS)}, got {client!r}", param_hint="--client"
        )
    if transport not in TRANSPORTS:
        raise typer.BadParameter(f"must be stdio or http, got {transport!r}", param_hint="--transport")
    if transport == "http" and client == "claude-desktop":
        raise typer.BadParameter(
            "Claude Desktop's config file starts local servers only: use --transport stdio",
            param_hint="--transport",
        )
    if transport == "http" and not key:
        raise typer.BadParameter(
            "--transport http needs an API key: `telcopulse keys create --name you --role analyst` makes one",
            param_hint="--key",
        )
    settings = get_settings()
    env = {
        name: value
        for name, value in (("DATABASE_URL", settings.database_url), ("REDIS_URL", settings.redis_url))
        if value
    }
    snippet = client_config(
        client,  # type: ignore[arg-type]  # checked against CLIENTS above
        telcopulse_bin=(Path(sys.executable).parent / "telcopulse").absolute(),
        data_dir=settings.data_dir.resolve(),
        env=env,
        transport=transport,  # type: ignore[arg-type]
        url=url or _local_url(settings.mcp_host, settings.mcp_port),
        api_key=key,
    )
    typer.echo(snippet)
    typer.echo(config_location(client, macos=sys.platform == "darwin"), err=True)  # type: ignore[arg-type]


def _local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a server bound to host:port."""
    if host in ("", "0.0.0.0", "::"):  # bound to every address: reach it over loopback
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/mcp"


def register(app: typer.Typer) -> None:
    app.command("connect")(connect_command)
