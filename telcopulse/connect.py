"""Every command and config snippet we print or document for reaching the MCP server.

The `make up` banner, `telcopulse connect` and the README take their client commands from
here, and a test runs the README's against a real server, so what a newcomer copies works.
The functions are pure: paths, URLs, keys and environment values come in as arguments.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

INSPECTOR_VERSION = "2.12.0"
NODE_MIN_VERSION = "22.19"  # Inspector 2.x's `engines.node` (>=22.19.0)
INSPECTOR_PACKAGE = f"@modelcontextprotocol/inspector@{INSPECTOR_VERSION}"
# An npm package whose `node` binary npx puts first on PATH: Node 22 on a machine with an older one.
NODE_BRIDGE_PACKAGE = "node@22"

SERVER_NAME = "telcopulse"
STDIO_ARGS = ("serve", "--transport", "stdio")
API_KEY_HEADER = "X-API-Key"
# Only these may be handed to a stdio server besides TELCOPULSE_DATA_DIR.
PASSED_ENV = ("DATABASE_URL", "REDIS_URL")

Client = Literal["claude-desktop", "cursor", "code"]
Transport = Literal["stdio", "http"]
CLIENTS: tuple[Client, ...] = ("claude-desktop", "cursor", "code")
TRANSPORTS: tuple[Transport, ...] = ("stdio", "http")


def _inspector(node_bridge: bool) -> list[str]:
    if node_bridge:
        return ["npx", "-y", "-p", NODE_BRIDGE_PACKAGE, "-p", INSPECTOR_PACKAGE, "mcp-inspector", "--cli"]
    return ["npx", "-y", INSPECTOR_PACKAGE, "--cli"]


def inspector_http_command(
    url: str, api_key: str, *, method: str = "tools/list", node_bridge: bool = False
) -> str:
    """The MCP Inspector CLI against the streamable-HTTP server at `url`, authenticated with `api_key`.

    The URL comes first: `--header` takes several values, so a URL after it would be read as one.
    """
    argv = [
        *_inspector(node_bridge),
        url,
        "--transport",
        "http",
        "--header",
        f"{API_KEY_HEADER}: {api_key}",
        "--method",
        method,
    ]
    return shlex.join(argv)


def inspector_stdio_command(
    server_argv: Sequence[str],
    *,
    method: str = "tools/list",
    env: Mapping[str, str] | None = None,
    node_bridge: bool = False,
) -> str:
    """The MCP Inspector CLI starting `server_argv` over stdio; every Inspector flag precedes `--`.

    The Inspector gives the server only a few variables of its own environment (PATH, HOME…),
    so whatever else the server needs goes in `env` (one `-e KEY=VALUE` each).
    """
    if not server_argv:
        raise ValueError("server_argv is empty: give the server command, e.g. [telcopulse, 'serve', ...]")
    argv = _inspector(node_bridge)
    for name, value in (env or {}).items():
        argv += ["-e", f"{name}={value}"]
    argv += ["--method", method, "--", *server_argv]
    return shlex.join(argv)


def local_node_is_recent_enough() -> bool:
    """True when this machine's `node` is at least NODE_MIN_VERSION; False when older or missing."""
    try:
        done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    if done.returncode != 0:
        return False
    return node_version_at_least(done.stdout, NODE_MIN_VERSION)


def node_version_at_least(reported: str, minimum: str) -> bool:
    """Whether `node --version` output (e.g. "v20.20.2") is at least `minimum` (e.g. "22.19")."""
    found = re.match(r"\s*v?(\d+)\.(\d+)", reported)
    if found is None:
        return False
    want = tuple(int(part) for part in minimum.split("."))
    return (int(found.group(1)), int(found.group(2))) >= want[:2]


def stdio_env(data_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """What a stdio server started by a client needs to find the running platform.

    TELCOPULSE_DATA_DIR always (the embedded services are found from there); DATABASE_URL and
    REDIS_URL only when they are set.
    """
    unknown = sorted(set(env) - set(PASSED_ENV))
    if unknown:
        raise ValueError(f"only {', '.join(PASSED_ENV)} are passed to the server, not {', '.join(unknown)}")
    _require_absolute(data_dir, "data_dir")
    return {"TELCOPULSE_DATA_DIR": str(data_dir), **{k: env[k] for k in PASSED_ENV if env.get(k)}}


def client_config(
    client: Client,
    *,
    telcopulse_bin: Path,
    data_dir: Path,
    env: Mapping[str, str],
    transport: Transport = "stdio",
    url: str | None = None,
    api_key: str | None = None,
) -> str:
    """The snippet that connects `client` to this machine's server.

    claude-desktop: claude_desktop_config.json (stdio only: that file starts local commands);
    cursor: .cursor/mcp.json (stdio, or url + headers for HTTP);
    code: a `claude mcp add …` command line.
    """
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {', '.join(CLIENTS)}, got {client!r}")
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be stdio or http, got {transport!r}")
    if transport == "http":
        if client == "claude-desktop":
            raise ValueError(
                "Claude Desktop's claude_desktop_config.json starts local servers only: use --transport stdio"
            )
        if not url or not api_key:
            raise ValueError("the http transport needs the server URL and an API key")
        if client == "cursor":
            return _json({"url": url, "headers": {API_KEY_HEADER: api_key}})
        return shlex.join(
            [
                "claude",
                "mcp",
                "add",
                "--transport",
                "http",
                SERVER_NAME,
                url,
                "--header",
                f"{API_KEY_HEADER}: {api_key}",
            ]
        )
    _require_absolute(telcopulse_bin, "telcopulse_bin")
    server_env = stdio_env(data_dir, env)
    if client == "code":
        # The name comes before -e: -e takes several values and would swallow it.
        argv = ["claude", "mcp", "add", SERVER_NAME]
        for name, value in server_env.items():
            argv += ["-e", f"{name}={value}"]
        return shlex.join([*argv, "--", str(telcopulse_bin), *STDIO_ARGS])
    return _json({"command": str(telcopulse_bin), "args": list(STDIO_ARGS), "env": server_env})


def config_location(client: Client, *, macos: bool) -> str:
    """Where the snippet of `client_config(client, …)` goes, in words."""
    if client == "claude-desktop":
        where = (
            "~/Library/Application Support/Claude/claude_desktop_config.json"
            if macos
            else "~/.config/Claude/claude_desktop_config.json"
        )
        return f"Merge this into {where} (its mcpServers object), then restart Claude Desktop."
    if client == "cursor":
        return (
            "Merge this into .cursor/mcp.json in your project, or ~/.cursor/mcp.json for every project "
            "(its mcpServers object), then restart Cursor."
        )
    if client == "code":
        return (
            "Run this in your project's directory; `claude mcp add --scope user …` registers it for "
            "every project. `claude mcp list` then shows telcopulse as connected."
        )
    raise ValueError(f"client must be one of {', '.join(CLIENTS)}, got {client!r}")


def _json(server: dict[str, object]) -> str:
    return json.dumps({"mcpServers": {SERVER_NAME: server}}, indent=2)


def _require_absolute(path: Path, what: str) -> None:
    if not Path(path).is_absolute():
        raise ValueError(f"{what} must be an absolute path (clients start the server from anywhere): {path}")
